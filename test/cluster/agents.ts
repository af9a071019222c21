/**
 * `lockstep agent` processes for simulated nodes, as the demo, the end-to-end tests and the `npm run cluster --nodes`
 * playground run them: the real bundle (dist/lockstep.mjs) with the node's flags (`NodeRuntime.agentArgs()`), its
 * output in a log file, SIGTERM then SIGKILL after 10 s on stop.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { bundlePath } from '../support/build.js';

/** A `lockstep agent` process for one simulated node (`node -- dist/lockstep.mjs agent …`). */
export class AgentProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  readonly pids: number[] = [];

  constructor(
    readonly nodeName: string,
    private readonly args: string[],
    private readonly logFile: string,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  start(): void {
    const log = openSync(this.logFile, 'a');
    const child = spawn(process.execPath, ['--', bundlePath('lockstep'), ...this.args], {
      env: this.env,
      stdio: ['ignore', log, log],
    });
    closeSync(log);
    this.child = child;
    if (child.pid) this.pids.push(child.pid);
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** SIGTERM, SIGKILL after 10 s. */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child || !this.running) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await this.exited;
    clearTimeout(timer);
  }

  async restart(): Promise<void> {
    await this.stop();
    this.start();
  }

  log(): Promise<string> {
    return readFile(this.logFile, 'utf8').catch(() => '');
  }
}
