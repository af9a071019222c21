/**
 * EngineSupervisor with a fake engine process and a fake member session: the engine's life across epochs, what run
 * reports, SIGTERM at every moment (while the engine runs, while it joins, while it rejoins a lost coordinator), a
 * failed group, and an unhealthy engine.
 */
import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SessionHandlers } from '../../../leader/member/client.js';
import type { EnvFile } from '../../../leader/member/env-file.js';
import type { EngineEvent, Release } from '../../../leader/protocol/messages.js';
import type { EngineExit } from '../../../leader/run/engine-process.js';
import {
  type EngineCommand,
  EngineSupervisor,
  type MemberConnection,
  type SupervisedEngine,
  type SupervisedSession,
  type SupervisorOptions,
} from '../../../leader/run/supervisor.js';
import { CliError, toCliError } from '../../../src/cli/errors.js';
import { EXIT } from '../../../src/cli/exit-codes.js';
import { createLogger } from '../../../src/log.js';

const log = createLogger({ level: 'error', to: 'stderr' });

class FakeSession implements SupervisedSession {
  handlers: SessionHandlers = {};
  readonly reports: EngineEvent[] = [];
  closed = false;
  constructor(private readonly onReport?: (event: EngineEvent) => void) {}
  keep(_epoch: number, handlers: SessionHandlers): void {
    this.handlers = handlers;
  }
  reportEngine(event: EngineEvent): Promise<void> {
    this.reports.push(event);
    this.onReport?.(event);
    return Promise.resolve();
  }
  close(): void {
    this.closed = true;
  }
}

let nextPid = 4_000_000;

class FakeEngine implements SupervisedEngine {
  readonly pid: number;
  running = false;
  stopping = false;
  stops: number[] = [];
  /** stop() ends it at once unless the test holds it (an engine that ignores SIGTERM) */
  hold = false;
  private resolveExit: (exit: EngineExit) => void = () => {};
  private readonly exited = new Promise<EngineExit>((r) => {
    this.resolveExit = r;
  });
  /** `pid`: a real process standing in for the engine, where a test needs its record written */
  constructor(
    readonly command: EngineCommand,
    pid?: number,
  ) {
    this.pid = pid ?? nextPid++;
  }
  start(): Promise<void> {
    this.running = true;
    return Promise.resolve();
  }
  wait(): Promise<EngineExit> {
    return this.exited;
  }
  stop(grace?: number): Promise<EngineExit> {
    this.stops.push(grace ?? -1);
    if (!this.hold) this.exit({ code: null, signal: 'SIGTERM' });
    return this.exited;
  }
  signal(): void {}
  exit(exit: EngineExit): void {
    this.running = false;
    this.resolveExit(exit);
  }
}

const release = (epoch: number): Release => ({
  epoch,
  group: 'g',
  namespace: 'ns',
  size: 2,
  rank: 1,
  members: [
    { rank: 0, pod: 'g-0', ip: '127.0.0.1', node: '', hostname: '', gpus: 0, tpus: 0 },
    { rank: 1, pod: 'g-1', ip: '127.0.0.2', node: '', hostname: '', gpus: 0, tpus: 0 },
  ],
  masterPort: 29500,
  extraEnv: {},
});

const tick = () => new Promise((r) => setTimeout(r, 5));
async function until(what: string, fn: () => boolean): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (fn()) return;
    await tick();
  }
  throw new Error(`timed out waiting for ${what}`);
}

interface Harness {
  supervisor: EngineSupervisor;
  engines: FakeEngine[];
  sessions: FakeSession[];
  signals: EventEmitter;
  unhealthy: Array<(reason: string) => void>;
  exit: Promise<number | CliError>;
  reconnects: AbortSignal[];
  /** the environment file (the engine record lies beside it) */
  envFile: string;
}

function harness(
  opts: {
    connect?: (signal: AbortSignal) => Promise<MemberConnection>;
    reconnectHangs?: boolean;
    enginePid?: number;
    onReport?: (event: EngineEvent) => void;
    warm?: SupervisorOptions['warm'];
    nextStandbyDelayMs?: number;
  } = {},
) {
  const dir = mkdtempSync(join(tmpdir(), 'lockstep-supervisor-'));
  const engines: FakeEngine[] = [];
  const sessions: FakeSession[] = [];
  const unhealthy: Array<(reason: string) => void> = [];
  const reconnects: AbortSignal[] = [];
  const signals = new EventEmitter();
  const file: EnvFile = {
    version: 1,
    group: 'g',
    namespace: 'ns',
    rank: 1,
    epoch: 0,
    size: 2,
    memberId: 'g-1',
    coordinator: '127.0.0.1:1',
    env: {},
  } as EnvFile;
  const connection = (): MemberConnection => {
    const session = new FakeSession(opts.onReport);
    sessions.push(session);
    return { session, file };
  };
  const envFile = join(dir, 'group.env');
  const supervisor = new EngineSupervisor({
    envFile,
    gracePeriodMs: 1000,
    log,
    command: (f) => ({ argv: ['engine', String(f.epoch)], env: { ...f.env } }),
    connect: opts.connect ?? (() => Promise.resolve(connection())),
    reconnect: (_f, signal) => {
      reconnects.push(signal);
      if (!opts.reconnectHangs) return Promise.resolve(connection());
      // a coordinator that never comes back: only the abort ends the wait
      return new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted'))));
    },
    spawnEngine: (command) => {
      const e = new FakeEngine(command, opts.enginePid);
      engines.push(e);
      return e;
    },
    monitor: (_spec, _pid, onUnhealthy) => {
      unhealthy.push(onUnhealthy);
      return { stop: () => undefined };
    },
    signals: signals as unknown as Pick<NodeJS.Process, 'on' | 'off'>,
    warm: opts.warm,
    nextStandbyDelayMs: opts.nextStandbyDelayMs,
  });
  const exit = supervisor.run().then(
    (code) => code,
    (err: unknown) => toCliError(err) as CliError,
  );
  const h: Harness = { supervisor, engines, sessions, signals, unhealthy, exit, reconnects, envFile };
  return h;
}

const states = (s: FakeSession) => s.reports.map((r) => r.state);

/** A warm pool that only counts: its claims start nothing (the engine starts cold, from the fake). */
class CountingWarmPool {
  prepared = 0;
  closed = 0;
  prepare(): void {
    this.prepared++;
  }
  claim(): Promise<undefined> {
    return Promise.resolve(undefined);
  }
  close(): void {
    this.closed++;
  }
}

describe('EngineSupervisor', () => {
  it.each([
    [
      'a Stop from the coordinator',
      (h: Harness) => h.sessions[0]!.handlers.onStop?.({ epoch: 1, reason: 'x', gracePeriodMs: 0 }),
    ],
    ['the engine failing', (h: Harness) => h.engines[0]!.exit({ code: 1, signal: null })],
    ['a failed health check', (h: Harness) => h.unhealthy[0]!('the HTTP check failed')],
    ['the coordinator going away', (h: Harness) => h.sessions[0]!.handlers.onDisconnect?.('gone')],
  ])('the next standby waits while the engine starts, and starts at once on %s', async (_name, lose) => {
    const warm = new CountingWarmPool();
    // a delay no test outlives: only the loss can start the next standby
    const h = harness({ warm, nextStandbyDelayMs: 3_600_000 });
    await until('a session', () => h.sessions.length === 1);
    // the first standby imports while the member waits at the barrier
    expect(warm.prepared).toBe(1);
    h.sessions[0]!.handlers.onRelease?.(release(1));
    await until('engine', () => h.engines.length === 1);
    await until('running', () => states(h.sessions[0]!).includes('ENGINE_RUNNING'));
    // not while the engine starts (its imports, rendezvous and first collective need the CPU)
    expect(warm.prepared).toBe(1);
    lose(h);
    await until('the next standby', () => warm.prepared === 2);
    h.signals.emit('SIGTERM', 'SIGTERM');
    await h.exit;
    expect(warm.closed).toBeGreaterThan(0);
  });

  it('the next standby starts by itself once the engine is past its start', async () => {
    const warm = new CountingWarmPool();
    const h = harness({ warm, nextStandbyDelayMs: 50 });
    await until('a session', () => h.sessions.length === 1);
    h.sessions[0]!.handlers.onRelease?.(release(1));
    await until('engine', () => h.engines.length === 1);
    await until('the next standby', () => warm.prepared === 2);
    h.signals.emit('SIGTERM', 'SIGTERM');
    await h.exit;
  });

  it('starts an engine per release with that epoch, stops it on Stop, and reports each step', async () => {
    const h = harness();
    await until('a session', () => h.sessions.length === 1);
    const session = h.sessions[0]!;
    session.handlers.onRelease?.(release(1));
    await until('engine 1', () => h.engines.length === 1);
    expect(h.engines[0]!.command.argv).toEqual(['engine', '1']);
    expect(h.engines[0]!.command.env.LOCKSTEP_EPOCH).toBe('1');
    session.handlers.onStop?.({ epoch: 1, reason: 'rank 0 lost', gracePeriodMs: 250 });
    await until('stopped', () => states(session).includes('ENGINE_STOPPED'));
    expect(h.engines[0]!.stops).toEqual([250]);
    expect(session.reports.at(-1)?.message).toBe('rank 0 lost');
    session.handlers.onRelease?.(release(2));
    await until('engine 2', () => h.engines.length === 2);
    expect(h.engines[1]!.command.env.LOCKSTEP_EPOCH).toBe('2');
    // a release of the epoch already running changes nothing
    session.handlers.onRelease?.(release(2));
    await tick();
    expect(h.engines).toHaveLength(2);
    h.engines[1]!.exit({ code: 0, signal: null });
    expect(await h.exit).toBe(0);
    expect(states(session)).toEqual(['ENGINE_RUNNING', 'ENGINE_STOPPED', 'ENGINE_RUNNING', 'ENGINE_EXITED']);
  });

  it("every report names its engine's epoch, even when it goes out after the next epoch's Release", async () => {
    const h = harness();
    await until('a session', () => h.sessions.length === 1);
    const session = h.sessions[0]!;
    session.handlers.onRelease?.(release(1));
    await until('engine 1', () => h.engines.length === 1);
    await until('running', () => states(session).includes('ENGINE_RUNNING'));
    // the engine is killed; the coordinator's Stop of epoch 1 and its Release of epoch 2 then arrive in one read (a
    // member whose engine died does not hold the next epoch back), so the Stop is answered after epoch 2 opened
    h.engines[0]!.exit({ code: null, signal: 'SIGKILL' });
    await until('exit report', () => states(session).includes('ENGINE_EXITED'));
    session.handlers.onStop?.({ epoch: 1, reason: 'rank 1: engine killed by SIGKILL', gracePeriodMs: 0 });
    session.handlers.onRelease?.(release(2));
    await until('engine 2 running', () => session.reports.some((r) => r.state === 'ENGINE_RUNNING' && r.epoch === 2));
    // and a running engine of epoch 2 stopped by the Release of epoch 3 is reported as epoch 2's
    session.handlers.onRelease?.(release(3));
    await until('engine 3 running', () => session.reports.some((r) => r.state === 'ENGINE_RUNNING' && r.epoch === 3));
    expect(session.reports.map((r) => [r.state, r.epoch])).toEqual([
      ['ENGINE_RUNNING', 1],
      ['ENGINE_EXITED', 1],
      ['ENGINE_STOPPED', 1],
      ['ENGINE_RUNNING', 2],
      ['ENGINE_STOPPED', 2],
      ['ENGINE_RUNNING', 3],
    ]);
    h.signals.emit('SIGTERM', 'SIGTERM');
    await h.exit;
    expect(session.reports.at(-1)).toMatchObject({ state: 'ENGINE_STOPPED', epoch: 3 });
  });

  it('a Stop of an epoch the running engine outlived is ignored', async () => {
    const h = harness();
    await until('a session', () => h.sessions.length === 1);
    const session = h.sessions[0]!;
    session.handlers.onRelease?.(release(2));
    await until('running', () => states(session).includes('ENGINE_RUNNING'));
    session.handlers.onStop?.({ epoch: 1, reason: 'late', gracePeriodMs: 0 });
    await tick();
    await tick();
    expect(h.engines[0]!.running).toBe(true);
    expect(states(session)).toEqual(['ENGINE_RUNNING']);
    session.handlers.onStop?.({ epoch: 2, reason: 'rank 0 lost', gracePeriodMs: 0 });
    await until('stopped', () => states(session).includes('ENGINE_STOPPED'));
    expect(h.engines[0]!.running).toBe(false);
    h.signals.emit('SIGTERM', 'SIGTERM');
    await h.exit;
  });

  it('an engine that fails is reported with its status and run waits for the group', async () => {
    const h = harness();
    await until('a session', () => h.sessions.length === 1);
    const session = h.sessions[0]!;
    session.handlers.onRelease?.(release(1));
    await until('engine', () => h.engines.length === 1);
    h.engines[0]!.exit({ code: 3, signal: null });
    await until('exit report', () => states(session).includes('ENGINE_EXITED'));
    expect(session.reports.at(-1)).toMatchObject({ exitCode: 3, signal: '' });
    session.handlers.onRelease?.(release(2));
    await until('engine 2', () => h.engines.length === 2);
    h.signals.emit('SIGTERM', 'SIGTERM');
    const exit = await h.exit;
    expect(exit).toBeInstanceOf(CliError);
    expect((exit as CliError).exitCode).toBe(143);
  });

  it('SIGTERM while it rejoins a lost coordinator ends run at once (the rejoin is abandoned)', async () => {
    const h = harness({ reconnectHangs: true });
    await until('a session', () => h.sessions.length === 1);
    const session = h.sessions[0]!;
    session.handlers.onRelease?.(release(1));
    await until('engine', () => h.engines.length === 1);
    session.handlers.onDisconnect?.('the coordinator ended the session');
    await until('rejoining', () => h.reconnects.length === 1);
    expect(h.engines[0]!.running).toBe(false);
    h.signals.emit('SIGTERM', 'SIGTERM');
    const exit = await h.exit;
    expect(h.reconnects[0]!.aborted).toBe(true);
    expect((exit as CliError).exitCode).toBe(143);
  });

  it('SIGTERM while it first joins ends run (no engine ever started)', async () => {
    const h = harness({
      connect: (signal) =>
        new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('aborted')))),
    });
    await tick();
    h.signals.emit('SIGTERM', 'SIGTERM');
    expect(((await h.exit) as CliError).exitCode).toBe(143);
    expect(h.engines).toEqual([]);
  });

  it('SIGTERM stops a running engine with the grace period without waiting behind queued steps', async () => {
    const h = harness();
    await until('a session', () => h.sessions.length === 1);
    const session = h.sessions[0]!;
    session.handlers.onRelease?.(release(1));
    await until('engine', () => h.engines.length === 1);
    const engine = h.engines[0]!;
    engine.hold = true;
    h.signals.emit('SIGTERM', 'SIGTERM');
    await tick();
    expect(engine.stops).toEqual([1000]);
    // a release arriving now starts nothing
    session.handlers.onRelease?.(release(2));
    engine.exit({ code: 0, signal: null });
    expect(await h.exit).toBe(0);
    expect(h.engines).toHaveLength(1);
  });

  it('a failed group stops the engine and exits with the group-failed status', async () => {
    const h = harness();
    await until('a session', () => h.sessions.length === 1);
    const session = h.sessions[0]!;
    session.handlers.onRelease?.(release(1));
    await until('engine', () => h.engines.length === 1);
    session.handlers.onStop?.({ epoch: 1, reason: 'group failed: restart budget exhausted', gracePeriodMs: 0 });
    session.handlers.onProgress?.({ joined: 2, size: 2, missingRanks: [], state: 'Failed', epoch: 1, notJoined: '' });
    const exit = (await h.exit) as CliError;
    expect(exit.exitCode).toBe(EXIT.groupFailed);
    expect(exit.message).toBe('group g failed: restart budget exhausted');
  });

  it('an unhealthy engine is stopped and reported with the reason of the check', async () => {
    const h = harness();
    await until('a session', () => h.sessions.length === 1);
    const session = h.sessions[0]!;
    session.handlers.onRelease?.(release(1));
    await until('a monitor', () => h.unhealthy.length === 1);
    h.unhealthy[0]!('health check GET http://127.0.0.1:8000/health failed 3 times in a row (every 1s): HTTP 503');
    await until('stopped', () => states(session).includes('ENGINE_STOPPED'));
    expect(h.engines[0]!.running).toBe(false);
    expect(session.reports.at(-1)?.message).toMatch(/^health check GET .* HTTP 503$/);
    h.signals.emit('SIGTERM', 'SIGTERM');
    await h.exit;
  });

  it('tells the coordinator of an engine exit before anything else: its record is still on disk when the report goes out', async () => {
    // a real process stands in for the engine, so that run records it (the record names a live pid and start time)
    const holder = spawn('/bin/sleep', ['300'], { stdio: 'ignore' });
    try {
      const recordAtReport = new Map<string, boolean>();
      let record = '';
      const h = harness({
        enginePid: holder.pid,
        onReport: (event) => recordAtReport.set(event.state, existsSync(record)),
      });
      record = `${h.envFile}.engine`;
      await until('a session', () => h.sessions.length === 1);
      const session = h.sessions[0]!;
      session.handlers.onRelease?.(release(1));
      await until('the engine recorded', () => existsSync(record) && states(session).includes('ENGINE_RUNNING'));
      h.engines[0]!.exit({ code: null, signal: 'SIGKILL' });
      await until('exit report', () => states(session).includes('ENGINE_EXITED'));
      expect(session.reports.at(-1)).toMatchObject({ state: 'ENGINE_EXITED', exitCode: 137, signal: 'SIGKILL' });
      expect(recordAtReport.get('ENGINE_EXITED')).toBe(true);
      // then the record of the engine that is gone
      await until('the record cleared', () => !existsSync(record));
      h.signals.emit('SIGTERM', 'SIGTERM');
      await h.exit;
    } finally {
      holder.kill('SIGKILL');
    }
  });
});
