/** Process helpers the group-runtime benchmarks share: free ports, child processes with their output by line. */
import { type ChildProcess, spawn } from 'node:child_process';

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
