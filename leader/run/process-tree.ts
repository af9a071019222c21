/**
 * The engine's whole process tree. The engine starts as the leader of its own process group, so one signal to the
 * group reaches every worker it forked (torchrun's workers, vLLM's executor processes, Ray's raylets); descendants
 * that left the group (setsid) are found through /proc. A pid file beside the environment file records the group, so
 * a restarted `lockstep run` (its container restarted, or it was killed with SIGKILL) ends what its predecessor left.
 *
 * Threats: a descendant that left the group (found from the root down while the root lives, through the group's
 * surviving members once it has gone); a reaped root whose pid now names another process (after the root's exit
 * only its group is followed, never its pid); a recycled pid in the record (pid and start time must both match); a
 * kernel without children files (the walk of every process in /proc instead). Beyond reach, as for any supervisor
 * that is not a subreaper: a descendant that left the group under a parent that has already died (the kernel
 * reparented it out of the tree); one under a surviving member of the group is reached when the root has exited.
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface ProcStat {
  pid: number;
  ppid: number;
  pgid: number;
  /** start time in clock ticks since boot: with the pid, it names one process for good */
  start: string;
}

/** Parses /proc/<pid>/stat (the command may hold spaces and parentheses: split after the last ')'). */
export function parseStat(text: string): ProcStat | undefined {
  const close = text.lastIndexOf(')');
  const pid = Number.parseInt(text, 10);
  if (close < 0 || !Number.isInteger(pid)) return undefined;
  const fields = text
    .slice(close + 2)
    .trim()
    .split(' ');
  // fields[0] = state, [1] = ppid, [2] = pgrp, … [19] = starttime (field 22 of the whole line)
  const ppid = Number(fields[1]);
  const pgid = Number(fields[2]);
  const start = fields[19];
  if (!Number.isInteger(ppid) || !Number.isInteger(pgid) || start === undefined) return undefined;
  return { pid, ppid, pgid, start };
}

export function readStat(pid: number, procRoot = '/proc'): ProcStat | undefined {
  try {
    return parseStat(readFileSync(`${procRoot}/${pid}/stat`, 'utf8'));
  } catch {
    return undefined;
  }
}

function allStats(procRoot: string): ProcStat[] {
  let names: string[];
  try {
    names = readdirSync(procRoot);
  } catch {
    return [];
  }
  const out: ProcStat[] = [];
  for (const n of names) {
    if (!/^\d+$/.test(n)) continue;
    const s = readStat(Number(n), procRoot);
    if (s) out.push(s);
  }
  return out;
}

/**
 * Every live process of the tree: the group's members and all descendants of the root (when it is still there,
 * undefined: it has exited), wherever they went.
 */
export function treeMembers(root: number | undefined, pgid: number, stats: readonly ProcStat[]): number[] {
  const children = new Map<number, number[]>();
  for (const s of stats) {
    const list = children.get(s.ppid) ?? [];
    list.push(s.pid);
    children.set(s.ppid, list);
  }
  const found = new Set<number>();
  for (const s of stats) if (s.pgid === pgid) found.add(s.pid);
  const queue = root === undefined ? [...found] : [root, ...found];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    for (const c of children.get(pid) ?? []) {
      if (!found.has(c)) {
        found.add(c);
        queue.push(c);
      }
    }
  }
  if (root !== undefined && stats.some((s) => s.pid === root)) found.add(root);
  return [...found].sort((a, b) => a - b);
}

/** The pids a /proc/<pid>/task/<tid>/children file lists. */
export function parseChildren(text: string): number[] {
  return text
    .split(/\s+/)
    .filter((word) => /^\d+$/.test(word))
    .map(Number);
}

/**
 * The root's live descendants, read down from the root through /proc/<pid>/task/<tid>/children (each thread lists
 * the children it forked): a cost in proportion to the engine's own tree, not to every process on the host. The
 * root comes first. Undefined when the root is gone or the kernel has no children files (CONFIG_PROC_CHILDREN).
 */
export function linkedDescendants(root: number, procRoot = '/proc'): number[] | undefined {
  const rootChildren = childrenOf(root, procRoot);
  if (rootChildren === undefined) return undefined;
  const found = [root];
  const seen = new Set(found);
  const queue = [...rootChildren];
  while (queue.length > 0) {
    const pid = queue.shift()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    found.push(pid);
    // one that exited meanwhile has no children left to find
    queue.push(...(childrenOf(pid, procRoot) ?? []));
  }
  return found;
}

/** The children of every thread of a process; undefined when it is gone or its threads list no children file. */
function childrenOf(pid: number, procRoot: string): number[] | undefined {
  let threads: string[];
  try {
    threads = readdirSync(`${procRoot}/${pid}/task`);
  } catch {
    return undefined;
  }
  const out: number[] = [];
  let readable = false;
  for (const tid of threads) {
    try {
      out.push(...parseChildren(readFileSync(`${procRoot}/${pid}/task/${tid}/children`, 'utf8')));
      readable = true;
    } catch {
      // the thread ended meanwhile, or no children files at all (then none is readable)
    }
  }
  return readable ? out : undefined;
}

/** Whether any process is in the group (signal 0 checks without sending). */
function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Sends the signals, in order, to the whole process group (one system call each); false when it is empty. */
function signalGroup(pgid: number, signals: readonly NodeJS.Signals[]): boolean {
  let reached = false;
  for (const signal of signals) {
    try {
      process.kill(-pgid, signal);
      reached = true;
    } catch {
      // the group is empty: strays may still live
    }
  }
  return reached;
}

/**
 * Sends the signals, in order, to the group and then to every stray descendant; returns how many processes (or
 * the group, as one) it reached. `root` undefined: the engine's first process has exited (and its pid may already
 * name another process).
 *
 * A stop is on the critical path of a recovery: every other engine of the group is being stopped at the same
 * moment, on the same hosts, and every millisecond of CPU spent here delays their exits. So the strays are found
 * from the root down (children files: the engine's own tree); the walk of every process in /proc (milliseconds of
 * CPU on a busy host) is left for what only it can find: members of the group, and their descendants, once the
 * root has gone (its children were reparented away from it), or a kernel without children files. An empty group
 * with its root gone has nothing that walk could reach (every descendant left was reparented to a reaper outside
 * the tree), so it is skipped. Strays are found before any signal is sent, while the links still hold.
 */
export function signalTree(
  root: number | undefined,
  pgid: number,
  signals: NodeJS.Signals | readonly NodeJS.Signals[],
  procRoot = '/proc',
): number {
  const list = typeof signals === 'string' ? [signals] : signals;
  // found before any signal: a member killed first would have its children reparented out of reach
  const linked = root === undefined ? undefined : linkedDescendants(root, procRoot);
  const strays = linked ?? (groupExists(pgid) ? treeMembers(root, pgid, allStats(procRoot)) : []);
  let reached = signalGroup(pgid, list) ? 1 : 0;
  for (const pid of strays) {
    try {
      for (const signal of list) process.kill(pid, signal);
      reached++;
    } catch {
      // gone meanwhile
    }
  }
  return reached;
}

export interface EngineRecord {
  pid: number;
  pgid: number;
  start: string;
}

/** Records the running engine (temp + rename: a reader never sees half a file). */
export async function writeEngineRecord(path: string, record: EngineRecord): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(record)}\n`);
  await rename(tmp, path);
}

export async function clearEngineRecord(path: string): Promise<void> {
  await rm(path, { force: true });
}

/**
 * Ends an engine a previous `lockstep run` left behind: only when the recorded process is still the same one (pid
 * and start time match), so a recycled pid is never hit. SIGKILL at once: its wrapper is gone, nobody waits for it.
 */
export async function reapLeftover(path: string, procRoot = '/proc'): Promise<EngineRecord | undefined> {
  let record: EngineRecord;
  try {
    record = JSON.parse(await readFile(path, 'utf8')) as EngineRecord;
  } catch {
    return undefined;
  }
  const now = readStat(record.pid, procRoot);
  if (now && now.start === record.start) {
    signalTree(record.pid, record.pgid, 'SIGKILL', procRoot);
  } else if (!now) {
    // the leader is gone but its group may live on: a group id is never reused while any member holds it
    try {
      process.kill(-record.pgid, 'SIGKILL');
    } catch {
      // nobody left
    }
  }
  // else the pid was reused by another process: its old group is empty, nothing to end
  await clearEngineRecord(path);
  return record;
}

/**
 * Waits for a check's process, started detached (its own process group): undefined when it ends with status 0, else
 * `failure(code, signal)`. Past `timeoutMs` its whole group is killed, so a check that forked leaves no hung child
 * behind, and the answer is `timeoutMessage`. `ended` is the event that counts as its end: 'close' also waits for
 * its output pipes.
 */
export function checkOutcome(
  child: ChildProcess,
  timeoutMs: number,
  timeoutMessage: string,
  failure: (code: number | null, signal: NodeJS.Signals | null) => string,
  ended: 'exit' | 'close' = 'exit',
): Promise<string | undefined> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (v: string | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(v);
    };
    const timer = setTimeout(() => {
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      finish(timeoutMessage);
    }, timeoutMs);
    child.once('error', (err) => finish(err.message));
    child.once(ended, (code: number | null, signal: NodeJS.Signals | null) =>
      finish(code === 0 ? undefined : failure(code, signal)),
    );
  });
}
