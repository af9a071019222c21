import { Command } from 'commander';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DURATION_FORMS, MAX_TIMER_MS, readDuration } from '../../src/cli/duration.js';
import {
  byteSizeParser,
  commanderOption,
  durationParser,
  envName,
  formatByteSize,
  installFlagChecks,
  parseDuration,
  parseGroupSize,
  parseListenAddress,
  parseNonEmpty,
  parsePort,
  parseRank,
} from '../../src/cli/options.js';
import { runProgram } from '../../src/cli/run-program.js';
import { formatDuration } from '../../src/text/duration.js';

function parse(env: NodeJS.ProcessEnv, argv: string[]): Record<string, unknown> {
  const command = new Command('x')
    .exitOverride()
    .addOption(commanderOption({ flags: '--node-name <name>', description: 'n', alsoEnv: ['NODE_NAME'] }, env))
    .addOption(
      commanderOption({ flags: '--rescan-interval <d>', description: 'd', default: '1s', parse: parseDuration }, env),
    );
  command.parse(argv, { from: 'user' });
  return command.opts();
}

describe('env twins', () => {
  it('derives LOCKSTEP_ names from long flags', () => {
    expect(envName('--node-name')).toBe('LOCKSTEP_NODE_NAME');
    expect(envName('--nvidia-smi-timeout')).toBe('LOCKSTEP_NVIDIA_SMI_TIMEOUT');
  });

  it('prefers the command line, then the LOCKSTEP_ twin, then the downward-API variable, then the default', () => {
    const both = { LOCKSTEP_NODE_NAME: 'twin', NODE_NAME: 'downward' };
    expect(parse(both, ['--node-name', 'cli']).nodeName).toBe('cli');
    // commander reads the twin from process.env at parse time
    process.env.LOCKSTEP_NODE_NAME = 'twin';
    try {
      expect(parse(both, []).nodeName).toBe('twin');
    } finally {
      delete process.env.LOCKSTEP_NODE_NAME;
    }
    expect(parse({ NODE_NAME: 'downward' }, []).nodeName).toBe('downward');
    expect(parse({}, []).nodeName).toBeUndefined();
    expect(parse({}, []).rescanInterval).toBe(1000);
  });

  it('parses twin values with the flag’s own parser', () => {
    process.env.LOCKSTEP_RESCAN_INTERVAL = '2m';
    try {
      expect(parse({}, []).rescanInterval).toBe(120_000);
    } finally {
      delete process.env.LOCKSTEP_RESCAN_INTERVAL;
    }
  });
});

describe('duration grammar', () => {
  it.each([
    ['500ms', 500],
    ['2s', 2000],
    ['10m', 600_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1h2m3s4ms', 3_723_004],
    ['1.5s', 1500],
    [' 2s ', 2000],
    ['0s', 0],
  ])('reads %j as %i ms', (text, ms) => {
    expect(readDuration(text)).toEqual({ ok: true, ms });
  });

  it.each([
    ['2000', 'give a unit'],
    ['2', 'give a unit'],
    ['1.5', 'give a unit'],
    ['', ''],
    ['soon', ''],
    ['-1s', ''],
    ['1e3s', ''],
    ['2 s', ''],
    ['1d', ''],
    ['s', ''],
    ['1s2', ''],
    ['9'.repeat(100), 'too long'],
  ])('refuses %j, showing the accepted forms', (text, why) => {
    const read = readDuration(text);
    expect(read.ok).toBe(false);
    if (!read.ok) {
      expect(read.reason).toContain(`is not a duration`);
      expect(read.reason).toContain(why);
      expect(read.reason).toContain(`(accepted forms: ${DURATION_FORMS})`);
    }
  });

  it('round-trips every whole-millisecond duration through formatDuration', () => {
    fc.assert(
      fc.property(fc.nat({ max: MAX_TIMER_MS }), (ms) => {
        expect(readDuration(formatDuration(ms))).toEqual({ ok: true, ms });
      }),
    );
  });

  it('accepts exactly the grammar: <number><unit> parts, never a bare number', () => {
    const grammar = /^\s*(\d+(\.\d+)?(ms|s|m|h))+\s*$/;
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), (s) => {
        expect(readDuration(s).ok).toBe(grammar.test(s));
      }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat({ max: 999 }), fc.constantFrom('ms', 's', 'm', 'h')), { minLength: 1, maxLength: 4 }),
        (parts) => {
          expect(readDuration(parts.map(([n, u]) => `${n}${u}`).join('')).ok).toBe(true);
        },
      ),
    );
  });

  it('formats defaults the way --help shows them', () => {
    expect([2000, 600_000, 90_000, 250, 3_600_000, 1500].map(formatDuration)).toEqual([
      '2s',
      '10m',
      '1m30s',
      '250ms',
      '1h',
      '1s500ms',
    ]);
  });
});

describe('ranges', () => {
  const accept = (parser: (v: string) => unknown, value: string) => parser(value);
  it.each([
    ['duration > 0', parseDuration, '1ms', 1],
    ['duration: timer limit', parseDuration, '596h', 596 * 3_600_000],
    ['duration ≥ 0 when zero means something', durationParser({ minMs: 0 }), '0s', 0],
    ['group size: smallest', parseGroupSize, '1', 1],
    ['group size: largest', parseGroupSize, '65536', 65_536],
    ['rank: smallest', parseRank, '0', 0],
    ['rank: largest', parseRank, '65535', 65_535],
    ['port: smallest', parsePort, '1', 1],
    ['port: largest', parsePort, '65535', 65_535],
    ['listen: any host, free port', parseListenAddress, ':0', ':0'],
    ['listen: IPv6', parseListenAddress, '[::1]:9000', '[::1]:9000'],
    ['size: Mi', byteSizeParser(1, 2 ** 28), '16Mi', 16 * 2 ** 20],
    ['size: bytes', byteSizeParser(1, 2 ** 28), '1000', 1000],
    ['non-empty', parseNonEmpty, 'ghcr.io/x/lockstep:1', 'ghcr.io/x/lockstep:1'],
  ])('%s: accepts %s', (_name, parser, value, expected) => {
    expect(accept(parser as (v: string) => unknown, value as string)).toEqual(expected);
  });

  it.each([
    ['duration: zero', parseDuration, '0s', /out of range: more than 0/],
    ['duration: past the timer limit', parseDuration, '597h', /out of range: more than 0, at most 596h31m23s647ms/],
    ['duration: bare number', parseDuration, '2000', /give a unit/],
    ['group size: zero', parseGroupSize, '0', /out of range: a group size 1-65536/],
    ['group size: one too many', parseGroupSize, '65537', /out of range/],
    ['group size: huge', parseGroupSize, '99999999999999999999', /is not a group size \(1-65536\)/],
    ['group size: not a number', parseGroupSize, 'abc', /is not a group size/],
    ['group size: exponent', parseGroupSize, '1e3', /is not a group size/],
    ['group size: negative', parseGroupSize, '-1', /is not a group size/],
    ['rank: too large', parseRank, '65536', /out of range/],
    ['port: zero', parsePort, '0', /out of range: a TCP port 1-65535/],
    ['port: too large', parsePort, '70000', /out of range/],
    ['listen: no port', parseListenAddress, '8080', /not a listen address/],
    ['listen: port too large', parseListenAddress, ':65536', /not a listen address/],
    ['size: zero', byteSizeParser(1, 2 ** 28), '0', /out of range: 1-256Mi/],
    ['size: over', byteSizeParser(1, 2 ** 28), '1Gi', /out of range/],
    ['size: unit unknown', byteSizeParser(1, 2 ** 28), '16MB', /is not a size/],
    ['empty', parseNonEmpty, '', /must not be empty/],
    ['blank', parseNonEmpty, '  ', /must not be empty/],
  ])('%s: refuses %j', (_name, parser, value, message) => {
    expect(() => (parser as (v: string) => unknown)(value as string)).toThrow(message as RegExp);
  });

  it('formats byte sizes for messages', () => {
    expect([16 * 2 ** 20, 512 * 1024, 1500, 2 ** 30].map(formatByteSize)).toEqual(['16Mi', '512Ki', '1500', '1Gi']);
  });
});

describe('Kubernetes alias variables', () => {
  function program(env: NodeJS.ProcessEnv): Command {
    const root = new Command('p');
    root.addCommand(
      new Command('uses')
        .addOption(
          commanderOption(
            { flags: '--group-size <n>', description: 's', alsoEnv: ['LWS_GROUP_SIZE'], parse: parseGroupSize },
            env,
          ),
        )
        .action((opts) => {
          root.setOptionValue('seen', opts.groupSize);
        }),
    );
    root.addCommand(new Command('other').action(() => {}));
    return root;
  }

  async function run(env: NodeJS.ProcessEnv, argv: string[]) {
    const err: string[] = [];
    const root = program(env);
    const code = await runProgram(root, argv, { stdout: () => {}, stderr: (t) => err.push(t) });
    return { code, stderr: err.join(''), seen: root.getOptionValue('seen') };
  }

  it.each([
    ['a valid value is parsed by the flag’s parser', { LWS_GROUP_SIZE: '4' }, ['uses'], 0, '', 4],
    [
      'an invalid value is a one-line usage error naming the variable',
      { LWS_GROUP_SIZE: 'abc' },
      ['uses'],
      2,
      `error: option '--group-size <n>' value 'abc' from env 'LWS_GROUP_SIZE' is invalid. "abc" is not a group size (1-65536)\n`,
      undefined,
    ],
    [
      'an invalid value does not matter to a command that does not use it',
      { LWS_GROUP_SIZE: 'abc' },
      ['other'],
      0,
      '',
      undefined,
    ],
    ['the command line wins over an invalid alias', { LWS_GROUP_SIZE: 'abc' }, ['uses', '--group-size', '8'], 0, '', 8],
    ['--help is not blocked by an invalid alias', { LWS_GROUP_SIZE: 'abc' }, ['uses', '--help'], 0, '', undefined],
  ])('%s', async (_name, env, argv, code, stderr, seen) => {
    const r = await run(env, argv);
    expect(r.code).toBe(code);
    expect(r.stderr).toBe(stderr);
    expect(r.seen).toBe(seen);
  });

  it('installFlagChecks also serves programs parsed without runProgram', async () => {
    const root = installFlagChecks(program({ LWS_GROUP_SIZE: '16' }));
    await root.parseAsync(['uses'], { from: 'user' });
    expect(root.getOptionValue('seen')).toBe(16);
  });

  it('shows duration defaults with their unit in --help', async () => {
    const out: string[] = [];
    const cmd = new Command('x').addOption(
      commanderOption(
        { flags: '--heartbeat-timeout <duration>', description: 'h', default: '2s', parse: parseDuration },
        {},
      ),
    );
    await runProgram(cmd, ['--help'], { stdout: (t) => out.push(t), stderr: () => {} });
    expect(out.join('').replace(/\s+/g, ' ')).toContain(
      '--heartbeat-timeout <duration> h (default: 2s, env: LOCKSTEP_HEARTBEAT_TIMEOUT)',
    );
  });
});
