/**
 * Real lockstep processes for the group tests: the coordinator and members run from the bundle (dist/lockstep.mjs)
 * on loopback addresses, exactly as in pods, only with 127.0.0.x for pod IPs.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { bundlePath } from '../../support/build.js';
import { killProcessTree } from '../../support/child-reaper.js';

export interface Proc {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** resolves with the exit code (128+n for a signal) */
  exited: Promise<number>;
  /** resolves when a line of output matches */
  waitFor(re: RegExp, timeoutMs?: number): Promise<string>;
  /**
   * SIGKILL to the process and everything it started, as the kubelet kills a deleted pod's containers: a member's
   * engine runs in a process group of its own, so killing only `lockstep run` would leave the engine running.
   */
  killPod(): void;
}

const running = new Set<ChildProcess>();

/** Kills every process a test left running, with what each started (a member's engine) (afterEach). */
export function killAll(): void {
  for (const c of running) if (c.pid !== undefined) killProcessTree(c.pid);
  running.clear();
}

export function lockstep(args: readonly string[], env: NodeJS.ProcessEnv = {}): Proc {
  const child = spawn(process.execPath, [bundlePath('lockstep'), ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let out = '';
  let err = '';
  const waiters: Array<{ re: RegExp; resolve: (l: string) => void }> = [];
  const check = () => {
    for (const w of [...waiters]) {
      const m = (out + err).split('\n').find((l) => w.re.test(l));
      if (m !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    check();
  });
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
    check();
  });
  const exited = new Promise<number>((resolve) => {
    child.on('exit', (code, signal) => {
      running.delete(child);
      resolve(code ?? (signal === 'SIGTERM' ? 143 : signal === 'SIGKILL' ? 137 : 128));
    });
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    killPod() {
      if (child.pid !== undefined) killProcessTree(child.pid);
    },
    waitFor(re, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no line matching ${re} within ${timeoutMs} ms:\n${out}\n${err}`)),
          timeoutMs,
        );
        waiters.push({
          re,
          resolve: (l) => {
            clearTimeout(timer);
            resolve(l);
          },
        });
        check();
      });
    },
  };
}

/** A port below Linux's ephemeral range (see test/support/ports.ts). */
export { freePort } from '../../support/ports.js';

export interface StartedCoordinator {
  proc: Proc;
  port: number;
  address: string;
}

/**
 * Coordinator flags for recovery on a test's time scale: a silent member is lost after `heartbeatTimeout`, and the
 * first restart waits only 100 ms. What is not given stays at the coordinator's default.
 */
export function recoveryArgs({
  heartbeatTimeout,
  restartBudget,
  backoffMax,
}: {
  heartbeatTimeout: string;
  restartBudget?: number;
  backoffMax?: string;
}): string[] {
  return [
    '--heartbeat-timeout',
    heartbeatTimeout,
    '--backoff-initial',
    '100ms',
    ...(backoffMax === undefined ? [] : ['--backoff-max', backoffMax]),
    ...(restartBudget === undefined ? [] : ['--restart-budget', String(restartBudget)]),
  ];
}

/** Starts `lockstep coordinator` on 127.0.0.1 and waits until it listens. */
export async function startCoordinator(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  port = 0,
): Promise<StartedCoordinator> {
  const proc = lockstep(['coordinator', '--listen', `127.0.0.1:${port}`, '--log-level', 'debug', ...args], env);
  const line = await proc.waitFor(/coordinator listening/);
  const bound = Number(/"port":(\d+)/.exec(line)?.[1]);
  return { proc, port: bound, address: `127.0.0.1:${bound}` };
}
