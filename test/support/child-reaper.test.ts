import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, it } from 'vitest';
import { killProcessTree, processTree } from './child-reaper.js';

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
