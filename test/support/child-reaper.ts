/**
 * Every process a test spawns is killed, with everything it started, even when the test times out or forgets to
 * stop it. Loaded in each test worker (vitest `setupFiles`): it wraps `ChildProcess.prototype.spawn`, through which
 * every asynchronous spawn goes (spawn, execFile, exec, fork, execa), and
 * - after a test that failed (a timeout is a failure), kills the processes that test started and are still running;
 * - after the last hook of the file, kills every process the file started that is still running.
 * "Kills" means SIGKILL to the process and all its descendants, found through /proc (a child that did not start
 * its own process group shares the worker's, so a group kill cannot be used for it). spawnSync has its own timeout.
 *
 * A file whose tests pass must still stop what it started: every spawned process carries a tag in its environment
 * (LOCKSTEP_TEST_SPAWN_TAG=<file's tag>/<spawn number>, inherited by its descendants, so it marks orphans too — a
 * daemon that double-forked, a grandchild whose parent exited, an agent, a coordinator, python, a kubelet emulator).
 * After the file's own hooks, any process still carrying the file's tag fails the file with one line per process:
 * its pid and command line, the command the test spawned that it descends from, and the test that spawned it. A
 * process already on its way out (sent SIGTERM by the file's last hook, a zombie) is not a leak: the check looks
 * again for a short grace before it reports, and what is left is killed either way. Tests of the check:
 * ./child-reaper.test.ts (a deliberate leak, run by vitest in a child).
 *
 * Threats: a test that times out while its child runs (the child would outlive the run and hold ports, files and
 * CPU); a shell wrapper whose grandchild survives the wrapper (`sh -c 'sleep 3600'`); a detached child in its own
 * group; a passing file that forgets a daemon or an orphaned grandchild (the leak check); a child given an
 * environment of its own, without process.env (tagged all the same); a process slow to exit after its SIGTERM (the
 * grace, so the check cannot flake under load). Each is covered in ./child-reaper.test.ts. Not covered: a process
 * started through spawnSync with an environment of its own that leaves a daemon behind (spawnSync does not go through
 * the wrapped spawn; with process.env it is tagged as any child).
 */
import { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, afterEach, beforeEach } from 'vitest';

interface Tracked {
  child: ChildProcess;
  seq: number;
}

/** What the leak report says of a spawn: the command the test ran and the test (or hook) that ran it. */
interface SpawnOrigin {
  command: string;
  test: string;
}

/** The environment variable that marks every process this file's tests started, and their descendants. */
export const SPAWN_TAG_VARIABLE = 'LOCKSTEP_TEST_SPAWN_TAG';

/** A test file imports this module too (for processTree): the worker must wrap spawn once, with one tag. */
interface ReaperState {
  live: Set<Tracked>;
  origins: Map<number, SpawnOrigin>;
  seq: number;
  fileTag: string;
  currentTest: string;
}
const STATE_KEY = Symbol.for('lockstep.test.child-reaper');
const holder = globalThis as { [STATE_KEY]?: ReaperState };
const alreadyLoaded = holder[STATE_KEY] !== undefined;
const state: ReaperState = holder[STATE_KEY] ?? {
  live: new Set(),
  origins: new Map(),
  seq: 0,
  fileTag: randomUUID(),
  currentTest: 'a beforeAll hook or the file itself',
};
holder[STATE_KEY] = state;

if (!alreadyLoaded) {
  // in the worker's own environment too: a child given `{ ...process.env }` (or nothing) carries it as any variable
  process.env[SPAWN_TAG_VARIABLE] = state.fileTag;

  /** `ChildProcess.prototype.spawn` is internal (not in @types/node), so it is typed here. */
  const prototype = ChildProcess.prototype as unknown as { spawn: (this: ChildProcess, options: unknown) => unknown };
  const originalSpawn = prototype.spawn;
  prototype.spawn = function trackedSpawn(this: ChildProcess, options: unknown): unknown {
    const spawnSeq = state.seq++;
    // the normalised options carry the child's environment as `NAME=value` strings; the spawn's own number replaces
    // whatever tag it inherited, so a leaked descendant names the spawn it came from
    const normalised = options as { envPairs?: unknown; args?: unknown } | null;
    const envPairs = normalised?.envPairs;
    if (Array.isArray(envPairs)) {
      const own = `${SPAWN_TAG_VARIABLE}=${state.fileTag}/${spawnSeq}`;
      const at = envPairs.findIndex((e) => String(e).startsWith(`${SPAWN_TAG_VARIABLE}=`));
      if (at >= 0) envPairs[at] = own;
      else envPairs.push(own);
    }
    const args = Array.isArray(normalised?.args) ? normalised.args.map(String) : [];
    state.origins.set(spawnSeq, { command: args.join(' '), test: state.currentTest });
    const result = originalSpawn.call(this, options);
    if (this.pid !== undefined) {
      const entry: Tracked = { child: this, seq: spawnSeq };
      state.live.add(entry);
      this.once('exit', () => state.live.delete(entry));
    }
    return result;
  };
}

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
  for (const entry of [...state.live]) {
    if (entry.seq < fromSeq || entry.child.pid === undefined) continue;
    killProcessTree(entry.child.pid);
    state.live.delete(entry);
  }
}

/** A running process that carries a file's tag, with the spawn it descends from (undefined: spawnSync, inherited). */
export interface TaggedProcess {
  pid: number;
  command: string;
  spawnSeq: number | undefined;
}

/** Pids, command lines and spawn numbers of the processes (other than this one) whose environment holds `fileTag`. */
export function taggedProcesses(fileTag: string): TaggedProcess[] {
  const tagged = new RegExp(`\0${SPAWN_TAG_VARIABLE}=${fileTag}(?:/(\\d+))?\0`);
  const found: TaggedProcess[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      // a zombie's environ reads empty: it has exited and is not a leak
      const match = tagged.exec(`\0${readFileSync(`/proc/${name}/environ`, 'latin1')}\0`);
      if (!match) continue;
      const command = readFileSync(`/proc/${name}/cmdline`, 'utf8').split('\0').join(' ').trim();
      found.push({ pid: Number(name), command, spawnSeq: match[1] === undefined ? undefined : Number(match[1]) });
    } catch {
      // ended while we looked, or not ours to read
    }
  }
  return found;
}

/**
 * The processes `fileTag` marks (spawned at or after `fromSeq`) that are still running `graceMs` after the first look
 * (a child sent SIGTERM by the file's last hook may still be on its way out), each killed with its descendants.
 */
export async function reapLeaks(fileTag: string, graceMs: number, fromSeq = 0): Promise<TaggedProcess[]> {
  // a process with no spawn number (spawnSync's) is counted at the file's end only: no test can be told from it
  const ours = () =>
    taggedProcesses(fileTag).filter((p) => (p.spawnSeq === undefined ? fromSeq === 0 : p.spawnSeq >= fromSeq));
  const deadline = Date.now() + graceMs;
  let left = ours();
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    left = ours();
  }
  for (const { pid } of left) killProcessTree(pid);
  return left;
}

/** One line of the leak report: what is running, and which test's spawn it came from. */
export function describeLeak(leak: TaggedProcess, origins: ReadonlyMap<number, SpawnOrigin>): string {
  const origin = leak.spawnSeq === undefined ? undefined : origins.get(leak.spawnSeq);
  const from =
    origin === undefined
      ? 'inherited the tag from the worker (spawnSync or a grandchild of one)'
      : `${origin.command === leak.command ? 'spawned' : `descends from \`${origin.command.slice(0, 160)}\`, spawned`} in ${origin.test}`;
  return `pid ${leak.pid}: ${leak.command.slice(0, 200)} — ${from}`;
}

/** The file's tag, for the tests of the check. */
export function fileSpawnTag(): string {
  return state.fileTag;
}

/** How long a process found after the file's hooks may take to finish exiting before it counts as leaked. */
const EXIT_GRACE_MS = 5000;

// registered whenever the module is evaluated (once per file as the setup file; a worker reused for several files
// evaluates it for each), while spawn is wrapped once per process: a second registration in one file finds nothing left
let testStartSeq = 0;
beforeEach((context) => {
  testStartSeq = state.seq;
  state.currentTest = `test "${context.task.fullTestName ?? context.task.name}"`;
});
afterEach(async (context) => {
  state.currentTest = 'an afterEach/afterAll hook';
  if (context.task.result?.state !== 'fail') return;
  reap(testStartSeq);
  // orphans of the failed test (a daemon whose parent exited): the test has failed already, so no grace or report
  await reapLeaks(state.fileTag, 0, testStartSeq);
});
afterAll(async () => {
  const leaked = await reapLeaks(state.fileTag, EXIT_GRACE_MS);
  reap(0);
  if (leaked.length > 0) {
    throw new Error(
      `processes left running after this file's tests (killed now; stop them in the file's hooks):\n${leaked
        .map((leak) => `  ${describeLeak(leak, state.origins)}`)
        .join('\n')}`,
    );
  }
});
