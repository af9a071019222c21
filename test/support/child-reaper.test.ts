import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  describeLeak,
  fileSpawnTag,
  killProcessTree,
  processTree,
  reapLeaks,
  SPAWN_TAG_VARIABLE,
  taggedProcesses,
} from './child-reaper.js';

const REPO_ROOT = join(import.meta.dirname, '..', '..');

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('child reaper', () => {
  it.each([
    ['a shell wrapper and its grandchild', false],
    ['a detached child in its own process group and its grandchild', true],
  ])('kills %s', async (_name, detached) => {
    const wrapper = spawn('/bin/sh', ['-c', 'sleep 300 & wait'], { detached, stdio: 'ignore' });
    const pid = wrapper.pid as number;
    await until(() => processTree(pid).length === 2, 'the grandchild');
    const tree = processTree(pid);
    killProcessTree(pid);
    await until(() => tree.every((p) => !alive(p) || isZombie(p)), 'the tree to die');
    wrapper.unref();
  });
});

/** A killed child of this process stays a zombie until it is reaped: dead for our purposes. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
  } catch {
    return true;
  }
}

describe('leak check', () => {
  it('tags spawned processes and their orphaned descendants with the spawn they came from, and reaps them', async () => {
    // the wrapper exits at once; its background sleep is reparented away from this worker's tree
    const wrapper = spawn('/bin/sh', ['-c', 'sleep 300 >/dev/null 2>&1 & echo $!'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    wrapper.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    await new Promise((r) => wrapper.once('exit', r));
    const orphan = Number(out.trim());
    expect(alive(orphan)).toBe(true);
    const leaked = await reapLeaks(fileSpawnTag(), 200);
    const found = leaked.find((p) => p.pid === orphan);
    expect(found?.command).toBe('sleep 300');
    expect(found?.spawnSeq).toEqual(expect.any(Number));
    await until(() => !alive(orphan) || isZombie(orphan), 'the orphan to die');
  });

  it('tags a child given an environment of its own, without process.env', async () => {
    const child = spawn('sleep', ['298'], { stdio: 'ignore', env: { PATH: process.env.PATH } });
    try {
      await until(() => readFileSync(`/proc/${child.pid}/cmdline`, 'latin1').startsWith('sleep'), 'the exec');
      const environ = readFileSync(`/proc/${child.pid}/environ`, 'latin1').split('\0');
      expect(environ).toContain(`${SPAWN_TAG_VARIABLE}=${fileSpawnTag()}/${taggedSeq(child.pid as number)}`);
      expect(taggedProcesses(fileSpawnTag()).map((p) => p.pid)).toContain(child.pid);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('waits out a process that is still exiting instead of reporting it', async () => {
    // ignores nothing, but takes a while to go: its SIGTERM trap sleeps before it exits
    const slow = spawn('/bin/sh', ['-c', "trap 'sleep 0.5; exit 0' TERM; while :; do sleep 0.05; done"], {
      stdio: 'ignore',
    });
    await until(() => readFileSync(`/proc/${slow.pid}/cmdline`, 'latin1').startsWith('/bin/sh'), 'the shell');
    await new Promise((r) => setTimeout(r, 100));
    slow.kill('SIGTERM');
    const leaked = await reapLeaks(fileSpawnTag(), 10_000);
    expect(leaked.map((p) => p.pid)).not.toContain(slow.pid);
  });

  it.each([
    [{ pid: 7, command: 'sleep 299', spawnSeq: 0 }, /^pid 7: sleep 299 — spawned in test "a > b"$/],
    [
      { pid: 8, command: 'sleep 300', spawnSeq: 0 },
      /^pid 8: sleep 300 — descends from `sleep 299`, spawned in test "a > b"$/,
    ],
    [{ pid: 9, command: 'x', spawnSeq: undefined }, /^pid 9: x — inherited the tag from the worker/],
  ])('describes %j', (leak, line) => {
    expect(describeLeak(leak, new Map([[0, { command: 'sleep 299', test: 'test "a > b"' }]]))).toMatch(line);
  });

  it('fails a passing test file that leaves a process running, and says which command and test', async () => {
    // inside the checkout (node_modules: ignored by git and the linters) so `vitest` resolves from the test file
    const dir = mkdtempSync(join(REPO_ROOT, 'node_modules', '.leak-check-'));
    try {
      const file = join(dir, 'leaky.test.ts');
      const setup = JSON.stringify(join(REPO_ROOT, 'test', 'support', 'child-reaper.ts'));
      writeFileSync(
        join(dir, 'vitest.config.mjs'),
        `export default { test: { setupFiles: [${setup}], pool: 'forks' } };\n`,
      );
      writeFileSync(
        file,
        [
          "import { spawn } from 'node:child_process';",
          "import { describe, expect, it } from 'vitest';",
          "describe('a leaky file', () => {",
          "  it('passes and forgets its child', () => {",
          "    const child = spawn('/bin/sh', ['-c', 'sleep 299 & wait'], { stdio: 'ignore', detached: true });",
          '    child.unref();',
          '    expect(child.pid).toBeGreaterThan(0);',
          '  });',
          '});',
          '',
        ].join('\n'),
      );
      const run = spawnSync(
        process.execPath,
        [
          join(REPO_ROOT, 'node_modules', 'vitest', 'vitest.mjs'),
          'run',
          '--root',
          dir,
          '--config',
          join(dir, 'vitest.config.mjs'),
          '--reporter',
          'default',
          file,
        ],
        { encoding: 'utf8', timeout: 120_000, env: { ...process.env, CI: '1' } },
      );
      const output = `${run.stdout}${run.stderr}`;
      expect(run.status, output).not.toBe(0);
      expect(output).toMatch(/processes left running after this file's tests/);
      expect(output).toMatch(
        /pid \d+: sleep 299 — descends from `\/bin\/sh -c sleep 299 & wait`, spawned in test "a leaky file > passes and forgets its child"/,
      );
      expect(output).toMatch(
        /pid \d+: \/bin\/sh -c sleep 299 & wait — spawned in test "a leaky file > passes and forgets its child"/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 120_000);
});

/** The spawn number in a tagged process's environment. */
function taggedSeq(pid: number): number | undefined {
  return taggedProcesses(fileSpawnTag()).find((p) => p.pid === pid)?.spawnSeq;
}
