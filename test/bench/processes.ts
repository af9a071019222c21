/** Process helpers the group-runtime benchmarks share: free ports, child processes with their output by line. */
import { type ChildProcess, spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Debian's python3 (with python3-torch), for the torchrun peers. */
export const PYTHON = '/usr/bin/python3';

/** A port below Linux's ephemeral range, for a child that must be told its port (see test/support/ports.ts). */
export { freePort } from '../support/ports.js';

export interface Running {
  child: ChildProcess;
  out: () => string;
  exited: Promise<number>;
  /** called with each complete line and the moment it arrived */
  onLine: (fn: (line: string, at: number) => void) => void;
}

export function start(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv = {}): Running {
  const child = spawn(cmd, args, { env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } });
  let out = '';
  let partial = '';
  const listeners: ((line: string, at: number) => void)[] = [];
  const feed = (d: Buffer) => {
    const at = performance.now();
    out += d.toString();
    partial += d.toString();
    const lines = partial.split('\n');
    partial = lines.pop() ?? '';
    for (const l of lines) for (const fn of listeners) fn(l, at);
  };
  child.stdout?.on('data', feed);
  child.stderr?.on('data', feed);
  const exited = new Promise<number>((r) => child.on('exit', (code) => r(code ?? 128)));
  return { child, out: () => out, exited, onLine: (fn) => listeners.push(fn) };
}

/**
 * The elastic agent's flags as the torch benches run Debian's torchrun (1.13): c10d rendezvous on loopback, restarts
 * allowed (the default, 0, never recovers), and worker output redirected and teed (1.13 starts no worker without a
 * redirect). Everything else stays at torchrun's defaults.
 */
export function torchrunAgentArgs(o: { nnodes: number; nprocPerNode: number; port: number; logDir: string }): string[] {
  return [
    `--nnodes=${o.nnodes}`,
    `--nproc_per_node=${o.nprocPerNode}`,
    '--rdzv_backend=c10d',
    `--rdzv_endpoint=127.0.0.1:${o.port}`,
    '--rdzv_id=bench',
    '--max_restarts=100',
    '--redirects=1',
    '--tee=1',
    `--log_dir=${o.logDir}`,
  ];
}

/** Linux's USER_HZ: /proc reports CPU times in these ticks (100 on every architecture Linux supports today). */
const TICKS_PER_SECOND = 100;

/** pid, parent pid and CPU ticks (own user + system, plus those of children it has reaped) of one /proc/<pid>/stat. */
function procStat(pid: string): { ppid: number; ticks: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined; // exited while we looked
  }
  // the command name (field 2) may hold spaces and parentheses: the fields that follow start after the last ')'
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): ppid is field 4, utime/stime/cutime/cstime fields 14–17
  const [utime, stime, cutime, cstime] = fields.slice(11, 15).map(Number);
  return { ppid: Number(fields[1]), ticks: (utime ?? 0) + (stime ?? 0) + (cutime ?? 0) + (cstime ?? 0) };
}

/**
 * CPU seconds spent so far by the processes `roots` and every descendant they have, live or reaped (a reaped child's
 * time is in its parent's cutime/cstime; a live one's is counted on its own, so nothing counts twice). A benchmark
 * reads it to say how much work a side did, which is what a time means where the side has fewer cores than processes.
 */
export function treeCpuSeconds(roots: readonly number[]): number {
  const stats = new Map<number, { ppid: number; ticks: number }>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = procStat(name);
    if (stat) stats.set(Number(name), stat);
  }
  const children = new Map<number, number[]>();
  for (const [pid, { ppid }] of stats) children.set(ppid, [...(children.get(ppid) ?? []), pid]);
  let ticks = 0;
  const seen = new Set<number>();
  const queue = [...roots];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    if (seen.has(pid)) continue;
    seen.add(pid);
    ticks += stats.get(pid)?.ticks ?? 0;
    queue.push(...(children.get(pid) ?? []));
  }
  return ticks / TICKS_PER_SECOND;
}
