/**
 * `lockstep run`'s life across epochs. The engine starts on a Release; a Stop (recovery) ends its whole process tree
 * (SIGTERM, grace period, SIGKILL) and the member waits at the barrier for the next Release, which starts it again with
 * that epoch's environment. When the coordinator goes away the engine is stopped and the member joins again (the new
 * coordinator opens a later epoch). When the group is Failed, run exits non-zero so the pod's own policy applies.
 * An engine that exits 0 has finished its job: run exits 0.
 */

import { DomainError, ExitStatusError, errorMessage } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import { parseHostPort } from '../../src/net/host-port.js';
import { isTermination } from '../../src/signals.js';
import { groupEnvironment } from '../environment.js';
import type { MemberSession } from '../member/client.js';
import { type EnvFile, writeEnvFile } from '../member/env-file.js';
import type { EngineEvent, Progress, Release, Stop } from '../protocol/messages.js';
import { type EngineExit, EngineProcess, exitStatus, FORWARDED_SIGNALS } from './engine-process.js';
import { HEALTH_DEFAULTS, HealthMonitor, type HealthSpec } from './health.js';
import type { RunPhase } from './probe-proxy.js';
import { clearEngineRecord, readStat, reapLeftover, writeEngineRecord } from './process-tree.js';
import type { RendezvousGate, WarmPool } from './warm.js';

/** What the supervisor needs of a member session (MemberSession; tests give a fake). */
export type SupervisedSession = Pick<MemberSession, 'keep' | 'reportEngine' | 'close'>;

/** What the supervisor needs of an engine process (EngineProcess; tests give a fake). */
export interface SupervisedEngine {
  readonly pid: number | undefined;
  readonly running: boolean;
  stopping: boolean;
  start(): Promise<void>;
  wait(): Promise<EngineExit>;
  stop(gracePeriodMs?: number): Promise<EngineExit>;
  signal(signal: NodeJS.Signals): void;
}

export interface MemberConnection {
  session: SupervisedSession;
  file: EnvFile;
  /** the release the join already received (joined now); absent when attached from bootstrap's file */
  release?: Release;
}

export interface EngineCommand {
  argv: string[];
  env: NodeJS.ProcessEnv;
  /** health checks of this engine (health.ts); absent = process state only, with the defaults */
  health?: HealthSpec;
  /** a warm engine waits for this rendezvous to listen before its entry point runs (warm.ts) */
  gate?: RendezvousGate;
}

export interface SupervisorOptions {
  envFile: string;
  gracePeriodMs: number;
  log: Logger;
  /** argv, environment and health checks of the engine for a given group environment */
  command: (file: EnvFile) => EngineCommand;
  /** the first connection (attach from bootstrap's file, or join); `signal` aborts a join in progress */
  connect: (signal: AbortSignal) => Promise<MemberConnection>;
  /** a new connection after the coordinator went away (always a Join: a new coordinator knows nobody) */
  reconnect: (file: EnvFile, signal: AbortSignal) => Promise<MemberConnection>;
  /** how engines are made (tests: a fake process); default EngineProcess */
  spawnEngine?: (command: EngineCommand, gracePeriodMs: number) => SupervisedEngine;
  /** how an engine is watched (tests: no timers); default HealthMonitor */
  monitor?: (spec: HealthSpec, pid: number, onUnhealthy: (reason: string) => void) => { stop(): void };
  /** the warm standby (warm.ts): Python engines start in a process prepared ahead; absent = always cold */
  warm?: Pick<WarmPool, 'prepare' | 'claim' | 'close'>;
  /**
   * How long after an engine starts the next epoch's standby is started (default NEXT_STANDBY_DELAY_MS); a stop or
   * an exit of the engine starts it at once.
   */
  nextStandbyDelayMs?: number;
  /** a process signal source (tests: an emitter); default the process */
  signals?: Pick<NodeJS.Process, 'on' | 'off'>;
  /** what run is doing (the probe endpoint answers the kubelet from it) */
  onPhase?: (phase: RunPhase) => void;
}

/** Where run records its engine, so that a restarted run ends what a killed one left. */
function engineRecordPath(envFile: string): string {
  return `${envFile}.engine`;
}

const DEFAULT_HEALTH: HealthSpec = { ...HEALTH_DEFAULTS };

/**
 * The next epoch's standby waits this long after an engine starts. Its imports (torch: ~1.6 s of CPU) compete for the
 * CPU with the engine's own start — the rest of its imports, the rendezvous, the first collective — and with the other
 * members' starts where they share a host: started at once, on a 2-core machine with 4 members, the four next
 * standbys made formation with the standby slower than without it. 3 s is longer than the members' engines start apart
 * at formation (they start as their own imports end: up to 2.2 s apart measured on that machine under load), and
 * short enough that the standby is ready long before an epoch counts as healthy (10 s). A failure this early still
 * finds a standby: the stop (or exit) of the engine starts it at once, and the release waits for its imports rather
 * than starting cold.
 */
const NEXT_STANDBY_DELAY_MS = 3000;

/**
 * Threats: a coordinator that never answers again (the rejoin is abortable: SIGTERM ends run within the grace period
 * at every moment, the deleted pod never hangs); an engine that ignores SIGTERM (SIGKILL after the grace period, to
 * its whole tree); an engine that is alive but stopped or not serving (health checks stop it and say why); a stale
 * Release for an epoch already running (ignored).
 */
export class EngineSupervisor {
  private session: SupervisedSession | undefined;
  private file: EnvFile | undefined;
  private engine: SupervisedEngine | undefined;
  private health: { stop(): void } | undefined;
  private engineEpoch = 0;
  private queue: Promise<void> = Promise.resolve();
  private finished = false;
  private terminating = false;
  private readonly aborter = new AbortController();
  private lastStop = '';
  private resolveExit: (code: number) => void = () => {};
  private rejectExit: (err: Error) => void = () => {};
  private readonly recordPath: string;
  private nextStandby: NodeJS.Timeout | undefined;

  constructor(private readonly options: SupervisorOptions) {
    this.recordPath = engineRecordPath(options.envFile);
  }

  /** Runs until the engine finishes (0), the group fails, or SIGTERM; resolves with the exit status. */
  async run(): Promise<number> {
    const leftover = await reapLeftover(this.recordPath);
    if (leftover) this.options.log.warn({ pid: leftover.pid }, 'ended an engine a previous lockstep run left behind');
    const done = new Promise<number>((resolve, reject) => {
      this.resolveExit = resolve;
      this.rejectExit = reject;
    });
    const signals = this.options.signals ?? process;
    // at formation the standby's imports overlap the wait at the barrier
    this.options.warm?.prepare();
    const onSignal = (signal: NodeJS.Signals) => this.signal(signal);
    for (const s of FORWARDED_SIGNALS) signals.on(s, onSignal);
    try {
      let first: MemberConnection;
      try {
        first = await this.options.connect(this.aborter.signal);
      } catch (err) {
        // SIGTERM while joining: the terminate path decides the exit status
        if (this.terminating) return await done;
        throw err;
      }
      if (this.terminating) {
        first.session.close();
        return await done;
      }
      this.adopt(first);
      return await done;
    } finally {
      for (const s of FORWARDED_SIGNALS) signals.off(s, onSignal);
      this.session?.close();
    }
  }

  private adopt(connection: MemberConnection): void {
    this.session = connection.session;
    this.file = connection.file;
    const session = connection.session;
    session.keep(connection.release?.epoch ?? 0, {
      onRelease: (r) => this.enqueue(() => this.startEpoch(r)),
      onStop: (s) => this.enqueue(() => this.onStop(s)),
      onProgress: (p) => this.onProgress(p),
      onDisconnect: (reason) => {
        if (this.session !== session || this.finished || this.terminating) return;
        this.session = undefined;
        session.close();
        this.enqueue(() => this.coordinatorLost(reason));
      },
    });
    if (connection.release) {
      const release = connection.release;
      this.enqueue(() => this.startEpoch(release));
    }
  }

  private enqueue(step: () => Promise<void>): void {
    this.queue = this.queue.then(step).catch((err: unknown) => this.fail(err));
  }

  private async startEpoch(release: Release): Promise<void> {
    const { log } = this.options;
    if (this.finished || this.terminating || !this.file) return;
    if (release.epoch <= this.engineEpoch && this.engine?.running) return;
    if (this.engine?.running) await this.stopEngine(`epoch ${release.epoch} opened`, 0);
    const file: EnvFile = {
      ...this.file,
      rank: release.rank,
      epoch: release.epoch,
      size: release.size,
      env: groupEnvironment(release),
      release,
    };
    this.file = file;
    // the shell twin shows what the running engine got; losing this write loses nothing the engine needs
    await writeEnvFile(this.options.envFile, file).catch((err: unknown) =>
      log.warn({ err: String(err) }, 'cannot rewrite the environment file'),
    );
    const command = this.options.command(file);
    const spawnEngine =
      this.options.spawnEngine ?? ((c: EngineCommand, grace: number) => new EngineProcess(c.argv, c.env, grace));
    const claimed = this.options.warm ? await this.options.warm.claim(command) : undefined;
    const engine = claimed
      ? EngineProcess.adopt(claimed, command.argv, this.options.gracePeriodMs)
      : spawnEngine(command, this.options.gracePeriodMs);
    log.info(
      { argv: command.argv, rank: release.rank, epoch: release.epoch, warm: claimed !== undefined },
      'starting the engine',
    );
    try {
      await engine.start();
    } catch (err) {
      const message = errorMessage(err);
      log.error({ err: message }, 'cannot start the engine');
      await this.report({ state: 'ENGINE_EXITED', exitCode: 127, signal: '', message, epoch: release.epoch }, 1000);
      return;
    }
    this.engine = engine;
    this.engineEpoch = release.epoch;
    this.options.onPhase?.({ phase: 'running', epoch: release.epoch, startedAt: Date.now(), passed: false });
    // recorded first, before anything else can delay it: a run killed from here on leaves an engine its successor
    // finds (a warm engine reaches its first collective within milliseconds of the handoff)
    const pid = engine.pid;
    const stat = pid !== undefined ? readStat(pid) : undefined;
    if (pid !== undefined && stat) {
      await writeEngineRecord(this.recordPath, { pid, pgid: pid, start: stat.start }).catch(() => undefined);
    }
    // the next epoch's standby, once this engine is past its start
    this.prepareStandby(this.options.nextStandbyDelayMs ?? NEXT_STANDBY_DELAY_MS);
    if (this.terminating) {
      // SIGTERM arrived while it started: the terminate path stops what is running now
      return;
    }
    if (pid !== undefined) this.watch(engine, pid, command.health ?? DEFAULT_HEALTH);
    await this.report({ state: 'ENGINE_RUNNING', exitCode: 0, signal: '', message: '', epoch: release.epoch });
    void engine.wait().then((exit) => {
      if (this.engine !== engine || engine.stopping) return;
      this.enqueue(async () => {
        if (this.engine !== engine) return;
        this.engine = undefined;
        this.unwatch();
        const status = exitStatus(exit);
        // a failure: the next epoch is coming, its standby starts now if it has not yet
        if (status !== 0) this.prepareStandby(0);
        if (status !== 0)
          this.options.onPhase?.({
            phase: 'waiting',
            epoch: release.epoch,
            why: `engine exited with status ${status}`,
          });
        // the coordinator first: every other engine of the group waits for this word to be stopped
        const reported = this.report(
          {
            state: 'ENGINE_EXITED',
            exitCode: exit.code ?? status,
            signal: exit.signal ?? '',
            message: '',
            epoch: release.epoch,
          },
          1000,
        );
        log.info({ code: exit.code, signal: exit.signal, status, epoch: release.epoch }, 'engine exited');
        await clearEngineRecord(this.recordPath);
        await reported;
        // an engine that finished its work ends the member; a failure waits for the group's recovery
        if (status === 0) this.finish(0);
      });
    });
  }

  /** Starts the next epoch's standby after `delayMs` (0: now; a standby already alive is kept). */
  private prepareStandby(delayMs: number): void {
    const warm = this.options.warm;
    if (!warm) return;
    clearTimeout(this.nextStandby);
    this.nextStandby = undefined;
    if (delayMs <= 0) {
      warm.prepare();
      return;
    }
    this.nextStandby = setTimeout(() => {
      this.nextStandby = undefined;
      warm.prepare();
    }, delayMs);
    this.nextStandby.unref();
  }

  private closeStandby(): void {
    clearTimeout(this.nextStandby);
    this.nextStandby = undefined;
    this.options.warm?.close();
  }

  /** Health checks of the running engine: unhealthy → stopped like a dead one, with the check's reason. */
  private watch(engine: SupervisedEngine, pid: number, spec: HealthSpec): void {
    this.unwatch();
    const onUnhealthy = (reason: string) => {
      this.options.log.warn({ pid, reason }, 'the engine is unhealthy: stopping it');
      this.enqueue(async () => {
        if (this.engine !== engine || this.terminating) return;
        const stopped = this.stopEngine(reason, 0);
        this.prepareStandby(0);
        await stopped;
      });
    };
    const make =
      this.options.monitor ??
      ((s: HealthSpec, p: number, on: (reason: string) => void) => {
        const m = new HealthMonitor({ spec: s, pid: p, onUnhealthy: on });
        m.start();
        return m;
      });
    this.health = make(spec, pid, onUnhealthy);
  }

  private unwatch(): void {
    this.health?.stop();
    this.health = undefined;
  }

  /**
   * Stops the engine's whole tree and tells the coordinator, naming `epoch` (the stopped engine's, by default): the
   * report can go out after the next epoch's Release arrived, and it must not read as a loss of that epoch.
   */
  private async stopEngine(reason: string, graceMs: number, epoch = this.engineEpoch): Promise<void> {
    const engine = this.engine;
    this.engine = undefined;
    this.unwatch();
    if (!this.terminating && !this.finished)
      this.options.onPhase?.({ phase: 'waiting', epoch: this.engineEpoch, why: reason });
    if (engine?.running) {
      const started = Date.now();
      engine.stopping = true;
      const exit = await engine.stop(graceMs > 0 ? graceMs : this.options.gracePeriodMs);
      this.options.log.info(
        { reason, ms: Date.now() - started, code: exit.code, signal: exit.signal },
        'engine stopped',
      );
    }
    // the coordinator first (the next epoch waits for every engine stopped), then the record of an engine now gone
    const reported = this.report({ state: 'ENGINE_STOPPED', exitCode: 0, signal: '', message: reason, epoch });
    await clearEngineRecord(this.recordPath);
    await reported;
  }

  private async onStop(stop: Stop): Promise<void> {
    if (this.engine?.running && stop.epoch < this.engineEpoch) {
      // a Stop of an epoch this engine outlived (the stream keeps order, so only a coordinator bug sends one)
      this.options.log.warn({ epoch: stop.epoch, running: this.engineEpoch }, 'ignored a Stop of an earlier epoch');
      return;
    }
    this.lastStop = stop.reason;
    // the signal first (stopEngine sends it before its first await), then the words about it
    const stopped = this.stopEngine(stop.reason, stop.gracePeriodMs, stop.epoch);
    // the next epoch is coming: its standby starts now if it has not yet
    this.prepareStandby(0);
    this.options.log.warn({ epoch: stop.epoch, reason: stop.reason }, 'the coordinator stops the engine');
    await stopped;
  }

  private onProgress(progress: Progress): void {
    if (progress.state !== 'Failed' || this.finished) return;
    this.enqueue(async () => {
      await this.stopEngine('group failed', 0);
      this.fail(
        new DomainError(
          'group-failed',
          `group ${this.file?.group ?? ''} failed${this.lastStop ? `: ${this.lastStop.replace(/^group failed: /, '')}` : ''}`,
        ),
      );
    });
  }

  private async coordinatorLost(reason: string): Promise<void> {
    const { log } = this.options;
    log.warn({ reason }, 'lost the coordinator: stopping the engine and joining again');
    const stopped = this.stopEngine(`lost the coordinator: ${reason}`, 0);
    this.prepareStandby(0);
    await stopped;
    if (this.finished || this.terminating || !this.file) return;
    const connection = await this.options.reconnect(this.file, this.aborter.signal);
    if (this.finished || this.terminating) {
      connection.session.close();
      return;
    }
    this.adopt(connection);
  }

  private signal(signal: NodeJS.Signals): void {
    if (!isTermination(signal)) {
      this.engine?.signal(signal);
      return;
    }
    void this.terminate(signal);
  }

  /**
   * SIGTERM/SIGINT: not queued behind other steps (one may be a rejoin of a coordinator that never answers). The
   * engine is stopped now, a join in progress is abandoned, and run exits with the engine's status (143 when none ran).
   */
  private async terminate(signal: NodeJS.Signals): Promise<void> {
    if (this.terminating || this.finished) return;
    this.terminating = true;
    this.options.onPhase?.({ phase: 'ending' });
    this.closeStandby();
    this.options.log.info({ signal }, 'terminating: stopping the engine');
    this.aborter.abort();
    const reason = `lockstep run received ${signal}`;
    const engine = this.engine;
    this.engine = undefined;
    this.unwatch();
    const wasRunning = engine?.running === true;
    if (engine && wasRunning) engine.stopping = true;
    const exited = engine && wasRunning ? engine.stop(this.options.gracePeriodMs) : undefined;
    // a step in flight ends within its own bound (a start, a report, an aborted join); nothing queued starts anew
    await Promise.race([this.queue, delay(this.options.gracePeriodMs)]);
    const late = this.engine as SupervisedEngine | undefined;
    if (late && late !== engine && late.running) {
      late.stopping = true;
      await late.stop(this.options.gracePeriodMs);
    }
    const status = exited ? exitStatus(await exited) : 143;
    await clearEngineRecord(this.recordPath).catch(() => undefined);
    await this.report(
      { state: 'ENGINE_STOPPED', exitCode: 0, signal: '', message: reason, epoch: this.engineEpoch },
      200,
    );
    this.finish(status === 0 ? 0 : status);
  }

  private report(event: EngineEvent, waitMs = 0): Promise<void> {
    return this.session?.reportEngine(event, waitMs) ?? Promise.resolve();
  }

  private finish(code: number): void {
    if (this.finished) return;
    this.finished = true;
    this.options.onPhase?.({ phase: 'ending' });
    this.closeStandby();
    this.unwatch();
    if (code === 0) this.resolveExit(0);
    else this.rejectExit(new ExitStatusError(code, `the engine ended with status ${code}`));
  }

  private fail(err: unknown): void {
    // an abandoned join while terminating is the terminate path's to finish
    if (this.finished || this.terminating) return;
    this.finished = true;
    this.closeStandby();
    this.unwatch();
    // a failed step must not leave the engine behind
    if (this.engine?.running) void this.engine.stop(0);
    this.rejectExit(err instanceof Error ? err : new Error(String(err)));
  }
}

const delay = (ms: number) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    t.unref();
  });

/** `host:port` / `[v6]:port` → parts. */
export function splitAddress(address: string): { host: string; port: number } | undefined {
  const parsed = parseHostPort(address);
  return parsed?.port !== undefined && parsed.host !== '' ? { host: parsed.host, port: parsed.port } : undefined;
}
