import { Command } from 'commander';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { envName, flag, parseDuration, parsePort, parsePositiveInt } from '../../src/cli/options.js';

function parse(env: NodeJS.ProcessEnv, argv: string[]): Record<string, unknown> {
  const command = new Command('x')
    .exitOverride()
    .addOption(flag({ flags: '--node-name <name>', description: 'n', alsoEnv: ['NODE_NAME'] }, env))
    .addOption(flag({ flags: '--rescan-interval <d>', description: 'd', default: 1000, parse: parseDuration }, env));
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

describe('value parsers', () => {
  it('reads durations with units', () => {
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('2')).toBe(2000);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('1h')).toBe(3_600_000);
    expect(() => parseDuration('soon')).toThrow(/not a duration/);
    expect(() => parseDuration('-1s')).toThrow(/not a duration/);
  });

  it('never accepts what is not a duration, and round-trips what is', () => {
    fc.assert(
      fc.property(fc.nat({ max: 10_000_000 }), (ms) => {
        expect(parseDuration(`${ms}ms`)).toBe(ms);
      }),
    );
    fc.assert(
      fc.property(fc.string(), (s) => {
        const valid = /^\s*\d+(\.\d+)?(ms|s|m|h)?\s*$/.test(s);
        if (valid) expect(parseDuration(s)).toBeGreaterThanOrEqual(0);
        else expect(() => parseDuration(s)).toThrow();
      }),
    );
  });

  it('checks ports and counts', () => {
    expect(parsePort('7470')).toBe(7470);
    expect(() => parsePort('0')).toThrow(/not a TCP port/);
    expect(() => parsePort('70000')).toThrow(/not a TCP port/);
    expect(parsePositiveInt('8')).toBe(8);
    expect(() => parsePositiveInt('0')).toThrow(/positive integer/);
    expect(() => parsePositiveInt('1e3')).toThrow(/positive integer/);
  });
});
