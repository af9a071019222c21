import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { EngineProcess } from '../../../leader/run/engine-process.js';
import {
  linkedDescendants,
  parseChildren,
  parseStat,
  readStat,
  reapLeftover,
  signalTree,
  treeMembers,
  writeEngineRecord,
} from '../../../leader/run/process-tree.js';

function alive(pid: number): boolean {
  try {
    return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

function state(pid: number): string | undefined {
  try {
    return /\) (\S) /.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1];
  } catch {
    return undefined;
  }
}

/** Processes a test started, SIGKILLed after it whatever happened. */
const started: number[] = [];
afterEach(() => {
  for (const pid of started.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});

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

  it('a stop reaches a stopped descendant that left the engine group: SIGTERM and SIGCONT in one walk, long before the grace period', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-tree-'));
    const strayPid = join(dir, 'stray.pid');
    // the stray: its own session (out of the engine's group), stopped; only a SIGTERM followed by a SIGCONT ends it
    writeFileSync(join(dir, 'stray.sh'), 'echo $$ > "$1"; kill -STOP $$; exec sleep 300\n');
    // a worker of the engine's group that outlives the group's SIGTERM for a while (its trap), so the walk finds the
    // stray through it, as it finds the children of an engine's worker that is still shutting down
    writeFileSync(
      join(dir, 'worker.sh'),
      `trap 'sleep 5; exit 0' TERM; setsid /bin/sh ${join(dir, 'stray.sh')} "$1" & wait\n`,
    );
    const engine = new EngineProcess(
      ['/bin/sh', '-c', `/bin/sh ${join(dir, 'worker.sh')} ${strayPid} & wait`],
      { PATH: process.env.PATH },
      60_000,
    );
    await engine.start();
    started.push(engine.pid!);
    await until(() => existsSync(strayPid) && readFileSync(strayPid, 'utf8').trim() !== '', 'the stray started');
    const stray = Number(readFileSync(strayPid, 'utf8'));
    started.push(stray);
    await until(() => state(stray) === 'T', 'the stray stopped');
    expect(readStat(stray)?.pgid).not.toBe(engine.pid);
    const exit = await engine.stop();
    expect(exit.signal).toBe('SIGTERM');
    // SIGTERM alone leaves a stopped process stopped; the grace period's SIGKILL is a minute away
    await until(() => !alive(stray), 'the stray ended');
  });
});

/** A fake /proc holding only children files: pid → thread id → the children that thread forked. */
function fakeProc(tree: Record<number, Record<number, number[]>>): string {
  const root = mkdtempSync(join(tmpdir(), 'lockstep-proc-'));
  for (const [pid, threads] of Object.entries(tree)) {
    for (const [tid, children] of Object.entries(threads)) {
      mkdirSync(join(root, pid, 'task', tid), { recursive: true });
      writeFileSync(join(root, pid, 'task', tid, 'children'), children.map((c) => `${c} `).join(''));
    }
  }
  return root;
}

describe('the engine tree from the root down (children files)', () => {
  it('reads the pids of a children file, whatever its spacing', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 4_194_304 })), fc.constantFrom(' ', '  '), (pids, gap) => {
        expect(parseChildren(pids.map((p) => `${p}${gap}`).join(''))).toEqual(pids);
      }),
    );
    expect(parseChildren('')).toEqual([]);
    expect(parseChildren('12 13\n')).toEqual([12, 13]);
  });

  type FakeTree = Record<number, Record<number, number[]>>;
  it.each<{ name: string; tree: FakeTree; want: number[] }>([
    { name: 'a root without children', tree: { 10: { 10: [] } }, want: [10] },
    {
      name: 'children of every thread, grandchildren, a child that exited meanwhile',
      tree: { 10: { 10: [11], 14: [12] }, 11: { 11: [13] }, 13: { 13: [] } },
      want: [10, 11, 12, 13],
    },
    { name: 'a cycle in lying files is walked once', tree: { 10: { 10: [11] }, 11: { 11: [10] } }, want: [10, 11] },
  ])('$name', ({ tree, want }) => {
    expect(linkedDescendants(10, fakeProc(tree))?.sort((a, b) => a - b)).toEqual(want);
  });

  it('says when it cannot tell: the root is gone, or the kernel has no children files', () => {
    expect(linkedDescendants(10, fakeProc({ 11: { 11: [] } }))).toBeUndefined();
    const noChildrenFiles = mkdtempSync(join(tmpdir(), 'lockstep-proc-'));
    mkdirSync(join(noChildrenFiles, '10', 'task', '10'), { recursive: true });
    expect(linkedDescendants(10, noChildrenFiles)).toBeUndefined();
  });

  it('finds a real descendant that left the group, through the process that forked it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-tree-'));
    const strayPid = join(dir, 'stray.pid');
    const engine = spawn(
      '/bin/sh',
      ['-c', `(setsid /bin/sh -c 'echo $$ > "$1"; exec sleep 300' - ${strayPid} & wait) & wait`],
      {
        detached: true,
        stdio: 'ignore',
      },
    );
    started.push(engine.pid!);
    await until(() => existsSync(strayPid) && readFileSync(strayPid, 'utf8').trim() !== '', 'the stray started');
    const stray = Number(readFileSync(strayPid, 'utf8'));
    started.push(stray);
    expect(readStat(stray)?.pgid).not.toBe(engine.pid);
    expect(linkedDescendants(engine.pid!)).toEqual(expect.arrayContaining([engine.pid, stray]));
  });
});

describe('the sweep after the engine exited (root undefined)', () => {
  it('reaches a stray through a member of the group that outlived the root', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-tree-'));
    const pids = join(dir, 'pids');
    // the root exits at once; its worker (same group) lives on and has a child in its own session
    const root = spawn(
      '/bin/sh',
      ['-c', `(setsid /bin/sh -c 'echo $$ >> "$1"; exec sleep 300' - ${pids} & wait) & exit 0`],
      { detached: true, stdio: 'ignore' },
    );
    const pgid = root.pid!;
    started.push(pgid);
    const rootExited = new Promise((r) => root.once('exit', r));
    await until(() => existsSync(pids) && readFileSync(pids, 'utf8').trim() !== '', 'the stray started');
    await rootExited;
    const stray = Number(readFileSync(pids, 'utf8'));
    started.push(stray);
    expect(alive(stray)).toBe(true);
    expect(signalTree(undefined, pgid, 'SIGKILL')).toBeGreaterThan(0);
    await until(() => !alive(stray), 'the stray ended');
  });

  it('an empty group with its root gone reaches nothing (and never follows the reaped pid)', async () => {
    const bystander = spawn('/bin/sleep', ['300'], { detached: true, stdio: 'ignore' });
    started.push(bystander.pid!);
    const root = spawn('/bin/true', [], { detached: true, stdio: 'ignore' });
    await new Promise((r) => root.once('exit', r));
    // a fake /proc in which the reaped root's pid names the bystander's tree: not followed
    const proc = fakeProc({ [root.pid!]: { [root.pid!]: [bystander.pid!] } });
    expect(signalTree(undefined, root.pid!, 'SIGKILL', proc)).toBe(0);
    expect(alive(bystander.pid!)).toBe(true);
  });
});
