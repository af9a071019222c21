import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseStat, readStat, reapLeftover, treeMembers, writeEngineRecord } from '../../../leader/run/process-tree.js';

function alive(pid: number): boolean {
  try {
    return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function until(fn: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 10_000;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('process tree', () => {
  it('parses /proc/<pid>/stat even when the command holds spaces and parentheses', () => {
    const line = '4242 (my (odd) cmd) S 4000 4242 4242 0 -1 4194560 1 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10';
    expect(parseStat(line)).toEqual({ pid: 4242, ppid: 4000, pgid: 4242, start: '987654' });
    expect(parseStat('garbage')).toBeUndefined();
  });

  it('finds the group and descendants that left it', () => {
    const stats = [
      { pid: 10, ppid: 1, pgid: 10, start: '1' },
      { pid: 11, ppid: 10, pgid: 10, start: '1' },
      { pid: 12, ppid: 11, pgid: 12, start: '1' }, // setsid: a new group, still a descendant
      { pid: 13, ppid: 1, pgid: 10, start: '1' }, // orphaned group member
      { pid: 20, ppid: 1, pgid: 20, start: '1' },
    ];
    expect(treeMembers(10, 10, stats)).toEqual([10, 11, 12, 13]);
  });

  it('a restarted run ends the engine tree its killed predecessor left, and only that', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-tree-'));
    // an "engine" with a worker, in its own group, as EngineProcess starts it
    const engine = spawn('/bin/sh', ['-c', 'sleep 300 & wait'], { detached: true, stdio: 'ignore' });
    const bystander = spawn('/bin/sleep', ['300'], { detached: true, stdio: 'ignore' });
    const pid = engine.pid!;
    await until(() => treeMembers(pid, pid, [readStat(pid)!]).length > 0 && readStat(pid) !== undefined, 'start');
    const record = join(dir, 'group.env.engine');
    await writeEngineRecord(record, { pid, pgid: pid, start: readStat(pid)!.start });
    expect(await reapLeftover(record)).toMatchObject({ pid });
    await until(() => !alive(pid), 'the engine ended');
    expect(alive(bystander.pid!)).toBe(true);
    bystander.kill('SIGKILL');
    // nothing recorded any more: a second reap does nothing
    expect(await reapLeftover(record)).toBeUndefined();
  });
});
