import { spawnSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lockstepProgram } from '../../src/cli/lockstep-program.js';
import { kubectlProgram } from '../../src/kubectl/program.js';
import { DIST, runBundle } from '../support/cli.js';

const lockstepCommands = lockstepProgram({}).commands.map((c) => c.name());
const kubectlVerbs = kubectlProgram({}).commands.map((c) => c.name());

describe('lockstep (bundled)', () => {
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

  it.each(lockstepCommands)('%s: --help exits 0 and an unknown flag is one error line with exit 2', (name) => {
    const help = runBundle('lockstep', [name, '--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain(`Usage: lockstep ${name}`);
    const bad = runBundle('lockstep', [name, '--no-such-flag']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe("error: unknown option '--no-such-flag'\n");
  });

  it('rejects an unknown command and bad values with exit 2', () => {
    const cmd = runBundle('lockstep', ['teleport']);
    expect(cmd.status).toBe(2);
    expect(cmd.stderr).toMatch(/^error: unknown command 'teleport'\n$/);
    const value = runBundle('lockstep', ['coordinator', '--heartbeat-timeout', 'soon']);
    expect(value.status).toBe(2);
    expect(value.stderr.trim().split('\n')).toHaveLength(1);
    expect(value.stderr).toMatch(/^error: .*not a duration/);
  });

  it('rejects a bad value given through the env twin', () => {
    const bad = runBundle('lockstep', ['coordinator'], { LOCKSTEP_RECOVERY: 'Sometimes' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^error: .*Sometimes.*/);
  });
});

describe('kubectl lockstep (bundled)', () => {
  it.each(kubectlVerbs)('%s: unknown flag is one error line with exit 2', (verb) => {
    const bad = runBundle('kubectl-lockstep', [verb, '--no-such-flag']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe("error: unknown option '--no-such-flag'\n");
  });

  it('works as a real kubectl plugin once on PATH', () => {
    const bin = mkdtempSync(join(tmpdir(), 'lockstep-bin-'));
    symlinkSync(join(DIST, 'kubectl-lockstep.mjs'), join(bin, 'kubectl-lockstep'));
    const r = spawnSync('kubectl', ['lockstep', '--help'], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    });
    expect(r.status).toBe(0);
    for (const verb of kubectlVerbs) expect(r.stdout).toContain(verb);
  });
});
