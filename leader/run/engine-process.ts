/**
 * The engine as a child process: started with the group environment (no shell), signals forwarded, stopped with
 * SIGTERM then SIGKILL after the grace period. Recovery stops and starts it again through stop()/start().
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { signalExitStatus, TERMINATION_SIGNALS } from '../../src/signals.js';
import { signalTree } from './process-tree.js';

export interface EngineExit {
  /** exit status when it exited by itself */
  code: number | null;
  /** signal name when a signal ended it */
  signal: NodeJS.Signals | null;
}

/** The shell convention: a signal's death reads as 128 + its number. */
export function exitStatus(exit: EngineExit): number {
  if (exit.code !== null) return exit.code;
  return exit.signal ? signalExitStatus(exit.signal) : 1;
}

export const FORWARDED_SIGNALS: readonly NodeJS.Signals[] = [
  ...TERMINATION_SIGNALS,
  'SIGHUP',
  'SIGQUIT',
  'SIGUSR1',
  'SIGUSR2',
];

export class EngineProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<EngineExit> | undefined;
  private killTimer: NodeJS.Timeout | undefined;
  /** set by whoever stops it on purpose: its exit is then no failure */
  stopping = false;

  constructor(
    private readonly argv: readonly string[],
    private readonly env: NodeJS.ProcessEnv,
    private readonly gracePeriodMs: number,
  ) {
    if (argv.length === 0) throw new Error('no command to run');
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** An engine already running in `child` (a warm standby that took the epoch; detached like a cold start). */
  static adopt(child: ChildProcess, argv: readonly string[], gracePeriodMs: number): EngineProcess {
    const engine = new EngineProcess(argv, {}, gracePeriodMs);
    engine.attach(child);
    engine.adopted = true;
    return engine;
  }

  private adopted = false;

  /** Starts the engine; resolves once it is running, rejects when it cannot be started (e.g. not found). */
  start(): Promise<void> {
    if (this.adopted) return Promise.resolve();
    // its own process group: a stop reaches every process the engine forked, not only the first
    const child = spawn(this.argv[0]!, this.argv.slice(1), { env: this.env, stdio: 'inherit', detached: true });
    this.attach(child);
    return new Promise((resolve, reject) => {
      child.once('spawn', () => resolve());
      child.once('error', (err: NodeJS.ErrnoException) => {
        reject(
          new Error(
            err.code === 'ENOENT'
              ? `cannot start ${this.argv[0]}: command not found`
              : `cannot start ${this.argv[0]}: ${err.message}`,
          ),
        );
      });
    });
  }

  private attach(child: ChildProcess): void {
    this.child = child;
    this.exited = new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) {
        // an adopted process that already ended
        resolve({ code: child.exitCode, signal: child.signalCode });
        return;
      }
      child.once('exit', (code, signal) => {
        if (this.killTimer) clearTimeout(this.killTimer);
        const pid = child.pid;
        resolve({ code, signal });
        // workers outlive a crashed or killed leader: nothing of this engine may survive it. Right after whoever
        // waits for this exit has had its turn (the supervisor tells the coordinator, whose recovery stops every
        // other engine of the group). The pid is reaped and may name another process now: only its group counts
        if (pid !== undefined) setImmediate(() => signalTree(undefined, pid, 'SIGKILL'));
      });
    });
  }

  /** Resolves when the engine has exited. */
  wait(): Promise<EngineExit> {
    if (!this.exited) throw new Error('engine not started');
    return this.exited;
  }

  signal(signal: NodeJS.Signals): void {
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
  }

  /** Signals, in order, to the whole process tree (the engine's group, then strays: one walk of /proc for all). */
  signalTree(signals: NodeJS.Signals | readonly NodeJS.Signals[]): void {
    const pid = this.child?.pid;
    if (pid !== undefined && this.child?.exitCode === null && this.child.signalCode === null) {
      signalTree(pid, pid, signals);
    }
  }

  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM to the whole tree, then SIGKILL once the grace period has passed; resolves on exit. */
  stop(gracePeriodMs = this.gracePeriodMs): Promise<EngineExit> {
    // a stopped engine (SIGSTOP, a failed health check's usual cause) only handles its SIGTERM once continued
    this.signalTree(['SIGTERM', 'SIGCONT']);
    if (!this.killTimer) {
      this.killTimer = setTimeout(() => this.signalTree('SIGKILL'), gracePeriodMs);
      this.killTimer.unref();
    }
    return this.wait();
  }
}
