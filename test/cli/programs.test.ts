import { spawnSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockstepProgram } from '../../src/cli/lockstep-program.js';
import { kubectlProgram } from '../../src/kubectl/program.js';
import { bundlePath } from '../support/build.js';
import { runBundle } from '../support/cli.js';
import { parseLockstep } from '../support/parse-command.js';

const lockstepCommands = lockstepProgram({}).commands.map((c) => c.name());
const kubectlVerbs = kubectlProgram({}).commands.map((c) => c.name());

describe('lockstep, the bundled entry point as a real process', () => {
  it('has the five roles and inject', () => {
    expect(lockstepCommands).toEqual(
      expect.arrayContaining(['agent', 'coordinator', 'bootstrap', 'run', 'discover', 'inject']),
    );
  });

  it('prints help and version', () => {
    const help = runBundle('lockstep', ['--help']);
    expect(help.status).toBe(0);
    for (const name of lockstepCommands) expect(help.stdout).toContain(name);
    expect(runBundle('lockstep', ['--version']).stdout).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('exits 2 with usage for no verb, and with one error line for an unknown command or a bad value', () => {
    const none = runBundle('lockstep', []);
    expect(none.status).toBe(2);
    expect(none.stderr).toMatch(/^Usage: lockstep \[options\] \[command\]/);
    const cmd = runBundle('lockstep', ['teleport']);
    expect(cmd.status).toBe(2);
    expect(cmd.stderr).toMatch(/^error: unknown command 'teleport'\n$/);
    const value = runBundle('lockstep', ['coordinator', '--heartbeat-timeout', 'soon']);
    expect(value.status).toBe(2);
    expect(value.stderr.trim().split('\n')).toHaveLength(1);
    expect(value.stderr).toMatch(/^error: .*not a duration/);
    const twin = runBundle('lockstep', ['run', '--', 'true'], { LOCKSTEP_GRACE_PERIOD: '30' });
    expect(twin.status).toBe(2);
    expect(twin.stderr).toMatch(
      /^error: option '--grace-period <duration>' value '30' from env 'LOCKSTEP_GRACE_PERIOD'/,
    );
  });
});

describe('lockstep (parsed in-process, as the entry point parses)', () => {
  it.each(lockstepCommands)('%s: --help exits 0 and an unknown flag is one error line with exit 2', async (name) => {
    const help = await parseLockstep([name, '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain(`Usage: lockstep ${name}`);
    const bad = await parseLockstep([name, '--no-such-flag']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe("error: unknown option '--no-such-flag'\n");
  });

  it('rejects an unknown command and bad values with exit 2', async () => {
    const cmd = await parseLockstep(['teleport']);
    expect(cmd.status).toBe(2);
    expect(cmd.stderr).toMatch(/^error: unknown command 'teleport'\n$/);
    const value = await parseLockstep(['coordinator', '--heartbeat-timeout', 'soon']);
    expect(value.status).toBe(2);
    expect(value.stderr.trim().split('\n')).toHaveLength(1);
    expect(value.stderr).toMatch(/^error: .*not a duration/);
  });

  it('rejects a bad value given through the env twin', async () => {
    const bad = await parseLockstep(['coordinator'], { LOCKSTEP_RECOVERY: 'Sometimes' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^error: .*Sometimes.*/);
  });
});

describe('lockstep flags and exit codes (parsed in-process)', () => {
  // each row: argv, env → exit code and the single `error: …` line (a regex over the whole of stderr)
  it.each([
    ['no verb prints usage', [], {}, 2, /^Usage: lockstep \[options\] \[command\]/],
    [
      'bare-number duration',
      ['coordinator', '--heartbeat-timeout', '2000'],
      {},
      2,
      /^error: option '--heartbeat-timeout <duration>' argument '2000' is invalid\. "2000" is not a duration: give a unit \(accepted forms: 500ms, 2s, 10m, 1h, 1m30s\)\n$/,
    ],
    [
      'bare-number duration in the env twin',
      ['run', '--', 'true'],
      { LOCKSTEP_GRACE_PERIOD: '30' },
      2,
      /^error: option '--grace-period <duration>' value '30' from env 'LOCKSTEP_GRACE_PERIOD' is invalid\. "30" is not a duration: give a unit/,
    ],
    [
      'zero grace period',
      ['run', '--grace-period', '0s', '--', 'true'],
      {},
      2,
      /^error: .*"0s" is out of range: more than 0/,
    ],
    ['zero backoff', ['coordinator', '--backoff-initial', '0ms'], {}, 2, /^error: .*"0ms" is out of range/],
    [
      'backoff-max below backoff-initial',
      ['coordinator', '--group-size', '2', '--backoff-initial', '5s', '--backoff-max', '1s'],
      {},
      2,
      /^error: --backoff-max must not be shorter than --backoff-initial\n$/,
    ],
    [
      'group size that once OOMed the coordinator',
      ['coordinator', '--group-size', '99999999999999999999'],
      {},
      2,
      /^error: option '--group-size <n>' argument '99999999999999999999' is invalid\. "99999999999999999999" is not a group size \(1-65536\)\n$/,
    ],
    ['group size one over', ['bootstrap', '--group-size', '65537'], {}, 2, /out of range: a group size 1-65536\n$/],
    ['port 0', ['bootstrap', '--coordinator-port', '0'], {}, 2, /out of range: a TCP port 1-65535\n$/],
    [
      'empty image',
      ['inject', '-f', '-', '--image', ''],
      {},
      2,
      /^error: option '--image <ref>' argument '' is invalid\. must not be empty\n$/,
    ],
    [
      'invalid LWS alias in a command that uses it',
      ['coordinator'],
      { LWS_GROUP_SIZE: 'abc' },
      2,
      /^error: option '--group-size <n>' value 'abc' from env 'LWS_GROUP_SIZE' is invalid\. "abc" is not a group size \(1-65536\)\n$/,
    ],
    [
      'invalid LWS alias in bootstrap',
      ['bootstrap'],
      { LWS_WORKER_INDEX: '-1' },
      2,
      /^error: option '--rank <n>' value '-1' from env 'LWS_WORKER_INDEX' is invalid/,
    ],
  ])('%s', async (_name, argv, env, code, stderr) => {
    const r = await parseLockstep(argv as string[], env as NodeJS.ProcessEnv);
    expect(r.status).toBe(code);
    expect(r.stderr).toMatch(stderr as RegExp);
    if ((stderr as RegExp).source.startsWith('^error:')) expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('an invalid LWS alias leaves commands that do not use it alone', async () => {
    const env = { LWS_GROUP_SIZE: 'abc', LWS_WORKER_INDEX: 'x' };
    const version = await parseLockstep(['--version'], env);
    expect(version.status).toBe(0);
    expect(version.stderr).toBe('');
    const help = await parseLockstep(['coordinator', '--help'], env);
    expect(help.status).toBe(0);
    const inject = await parseLockstep(['inject', '-f', '-'], env);
    expect(inject.status).toBe(0);
    expect(inject.stderr).not.toMatch(/LWS_/);
  });

  it('documents the exit codes and duration defaults with units in --help', async () => {
    const help = (await parseLockstep(['--help'])).stdout;
    for (const line of ['Exit codes:', '2  usage error', '3  unavailable', '4  run: the group failed']) {
      expect(help).toContain(line);
    }
    const coordinator = (await parseLockstep(['coordinator', '--help'])).stdout.replace(/\s+/g, ' ');
    expect(coordinator).toContain('(default: 2s, env: LOCKSTEP_HEARTBEAT_TIMEOUT)');
    expect(coordinator).toContain('(default: 1m, env: LOCKSTEP_BACKOFF_MAX)');
    expect(runBundle('kubectl-lockstep', ['--help']).stdout).toContain('Exit codes:');
  });
});

describe('kubectl lockstep (bundled)', () => {
  it('no verb prints usage on stderr and exits 2', () => {
    const r = runBundle('kubectl-lockstep', []);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^Usage: kubectl-lockstep <verb> \[flags\]/);
    expect(r.stdout).toBe('');
  });

  it.each(kubectlVerbs)('%s: unknown flag is one error line with exit 2', (verb) => {
    const bad = runBundle('kubectl-lockstep', [verb, '--no-such-flag']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe("error: unknown option '--no-such-flag'\n");
  });

  it('works as a real kubectl plugin once on PATH', () => {
    const bin = mkdtempSync(join(tmpdir(), 'lockstep-bin-'));
    symlinkSync(bundlePath('kubectl-lockstep'), join(bin, 'kubectl-lockstep'));
    const r = spawnSync('kubectl', ['lockstep', '--help'], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    });
    expect(r.status).toBe(0);
    for (const verb of kubectlVerbs) expect(r.stdout).toContain(verb);
  });
});
