/**
 * The engine's whole process tree. The engine starts as the leader of its own process group, so one signal to the
 * group reaches every worker it forked (torchrun's workers, vLLM's executor processes, Ray's raylets); descendants
 * that left the group (setsid) are found through /proc. A pid file beside the environment file records the group, so
 * a restarted `lockstep run` (its container restarted, or it was killed with SIGKILL) ends what its predecessor left.
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

/** Every live process of the tree: the group's members and all descendants of the root, wherever they went. */
export function treeMembers(root: number, pgid: number, stats: readonly ProcStat[]): number[] {
  const children = new Map<number, number[]>();
  for (const s of stats) {
    const list = children.get(s.ppid) ?? [];
    list.push(s.pid);
    children.set(s.ppid, list);
  }
  const found = new Set<number>();
  for (const s of stats) if (s.pgid === pgid) found.add(s.pid);
  const queue = [root, ...found];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    for (const c of children.get(pid) ?? []) {
      if (!found.has(c)) {
        found.add(c);
        queue.push(c);
      }
    }
  }
  if (stats.some((s) => s.pid === root)) found.add(root);
  return [...found].sort((a, b) => a - b);
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
 * Sends the signals, in order, to the group and then to every stray descendant; returns how many processes it
 * reached. The group goes first (a recovery's stop reaches every engine process at once); the strays are found by
 * one walk of /proc for all the signals, since a walk reads every process's stat and costs milliseconds of CPU on a
 * busy host.
 */
export function signalTree(
  root: number,
  pgid: number,
  signals: NodeJS.Signals | readonly NodeJS.Signals[],
  procRoot = '/proc',
): number {
  const list = typeof signals === 'string' ? [signals] : signals;
  let reached = signalGroup(pgid, list) ? 1 : 0;
  for (const pid of treeMembers(root, pgid, allStats(procRoot))) {
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
