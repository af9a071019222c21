/**
 * Every process a test spawns is killed, with everything it started, even when the test times out or forgets to
 * stop it. Loaded in each test worker (vitest `setupFiles`): it wraps `ChildProcess.prototype.spawn`, through which
 * every asynchronous spawn goes (spawn, execFile, exec, fork, execa), and
 * - after a test that failed (a timeout is a failure), kills the processes that test started and are still running;
 * - after the last hook of the file, kills every process the file started that is still running.
 * "Kills" means SIGKILL to the process and all its descendants, found through /proc (a child that did not start
 * its own process group shares the worker's, so a group kill cannot be used for it). spawnSync has its own timeout.
 *
 * Threats: a test that times out while its child runs (the child would outlive the run and hold ports, files and
 * CPU); a shell wrapper whose grandchild survives the wrapper (`sh -c 'sleep 3600'`); a detached child in its own
 * group. Each is covered in ./child-reaper.test.ts.
 */
import { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeEach } from 'vitest';

interface Tracked {
  child: ChildProcess;
  seq: number;
}

const live = new Set<Tracked>();
let seq = 0;

/** `ChildProcess.prototype.spawn` is internal (not in @types/node), so it is typed here. */
const prototype = ChildProcess.prototype as unknown as { spawn: (this: ChildProcess, options: unknown) => unknown };
const originalSpawn = prototype.spawn;
prototype.spawn = function trackedSpawn(this: ChildProcess, options: unknown): unknown {
  const result = originalSpawn.call(this, options);
  if (this.pid !== undefined) {
    const entry: Tracked = { child: this, seq: seq++ };
    live.add(entry);
    this.once('exit', () => live.delete(entry));
  }
  return result;
};

/** The parent pid of every process, from /proc/<pid>/stat (the field after the parenthesised command name). */
function parentPids(): Map<number, number> {
  const parents = new Map<number, number>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(name), Number(fields[1]));
    } catch {
      // the process ended while we looked
    }
  }
  return parents;
}

/** `pid` and all its descendants. */
export function processTree(pid: number): number[] {
  const parents = parentPids();
  const tree = [pid];
  for (let i = 0; i < tree.length; i++) {
    for (const [child, parent] of parents) if (parent === tree[i]) tree.push(child);
  }
  return tree;
}

/** SIGKILLs `pid` and its descendants (descendants are listed first, so none is reparented away unseen). */
export function killProcessTree(pid: number): void {
  for (const p of processTree(pid).reverse()) {
    try {
      process.kill(p, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

function reap(fromSeq: number): void {
  for (const entry of [...live]) {
    if (entry.seq < fromSeq || entry.child.pid === undefined) continue;
    killProcessTree(entry.child.pid);
    live.delete(entry);
  }
}

let testStartSeq = 0;
beforeEach(() => {
  testStartSeq = seq;
});
afterEach((context) => {
  if (context.task.result?.state === 'fail') reap(testStartSeq);
});
afterAll(() => {
  reap(0);
});
