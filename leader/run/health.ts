/**
 * Engine health checks for `lockstep run`. A wrapper that heartbeats proves only that the wrapper lives; an engine
 * can be stopped (SIGSTOP, a debugger), a zombie, deadlocked in a collective or serving nothing while its process
 * stays. run therefore checks the engine itself, every period:
 *
 * - process state (always): the engine's leader process in state T/t (stopped, traced) or Z (zombie) fails the check;
 * - a probe (`--health`): `http://host:port/path` (any status 200–399 passes, as the kubelet's httpGet), `tcp:[host:]port`
 *   (a connection opens), `exec:<shell command>` (exit 0 within the timeout). vLLM and SGLang get their `/health` on
 *   rank 0 by default (the rank that serves HTTP); `--health none` turns probes off.
 *
 * Failures count only in a row; `failureThreshold` of them make the engine unhealthy, and run stops it and reports
 * why, which opens a new epoch like an engine that died. Probe failures inside the start grace (which begins when the
 * engine is started, and ends early at the first passing probe) do not count: models take minutes to load.
 *
 * Threats: a probe that never answers (each probe has a timeout, one probe at a time); an exec probe that forks and
 * hangs (its whole process group is killed at the timeout); an HTTP server that streams for ever (the body is not
 * read past the status line); a probe target the user mistyped (the reason names the check, so the restart loop that
 * follows says what to fix). The decision (judge) is pure; the monitor is its timer-and-socket shell.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { bracketHost, parseHostPort } from '../../src/net/host-port.js';
import { http } from '../../src/net/node-http.js';
import { basename, flagValue, pythonModule } from '../engines/argv.js';
import { type Attempt, httpGetStatus, passingStatus, tcpConnect } from './probe-io.js';
import { checkOutcome } from './process-tree.js';

export type HealthProbe =
  | { kind: 'http'; url: string }
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'exec'; command: string };

export interface HealthSpec {
  probe?: HealthProbe;
  periodMs: number;
  failureThreshold: number;
  startGraceMs: number;
  timeoutMs: number;
}

export const HEALTH_DEFAULTS = {
  periodMs: 5000,
  failureThreshold: 3,
  startGraceMs: 600_000,
  timeoutMs: 2000,
} as const;

/** A --health value that cannot be a check. */
export class HealthCheckError extends Error {
  override name = 'HealthCheckError';
}

function port(text: string, whole: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 65_535) {
    throw new HealthCheckError(`--health ${whole}: "${text}" is not a port (1-65535)`);
  }
  return Number(text);
}

/**
 * `--health` → a probe; `none` → undefined, `auto` → 'auto' (the engine's default). Accepts `http://…` / `https` is
 * refused (engines serve plain HTTP inside the pod), `http:PORT[/path]`, `tcp:PORT`, `tcp:HOST:PORT`, `exec:COMMAND`.
 */
export function parseHealthCheck(text: string): HealthProbe | 'auto' | undefined {
  const value = text.trim();
  if (value === 'none') return undefined;
  if (value === 'auto' || value === '') return 'auto';
  if (value.startsWith('exec:')) {
    const command = value.slice(5).trim();
    if (!command) throw new HealthCheckError('--health exec: needs a command, as in exec:/bin/check-engine');
    return { kind: 'exec', command };
  }
  if (value.startsWith('tcp:')) {
    const rest = value.slice(4);
    if (!rest.includes(':')) return { kind: 'tcp', host: '127.0.0.1', port: port(rest, value) };
    const target = parseHostPort(rest);
    if (target?.port === undefined) throw new HealthCheckError(`--health ${value}: use tcp:PORT or tcp:HOST:PORT`);
    if (!target.host) throw new HealthCheckError(`--health ${value}: empty host`);
    return { kind: 'tcp', host: target.host, port: port(String(target.port), value) };
  }
  if (value.startsWith('http://')) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new HealthCheckError(`--health ${value}: not a URL`);
    }
    return { kind: 'http', url: url.toString() };
  }
  if (value.startsWith('http:')) {
    const m = /^http:(\d+)(\/.*)?$/.exec(value);
    if (!m) throw new HealthCheckError(`--health ${value}: use http:PORT/path or http://host:port/path`);
    return { kind: 'http', url: `http://127.0.0.1:${port(m[1]!, value)}${m[2] ?? '/health'}` };
  }
  throw new HealthCheckError(
    `--health ${value}: unknown check (use http://host:port/path, http:PORT/path, tcp:[HOST:]PORT, exec:COMMAND, auto or none)`,
  );
}

/** Where the engine serves HTTP when the user did not say otherwise: `--host` unless it binds every address. */
function httpHost(argv: readonly string[]): string {
  const host = flagValue(argv, ['--host']);
  if (!host || host === '0.0.0.0' || host === '::' || host === '[::]') return '127.0.0.1';
  return bracketHost(host);
}

/**
 * The check `--health auto` means: vLLM's and SGLang's `/health` on rank 0 (the rank whose API server runs; other
 * ranks are headless), on their `--port` or their default port (vLLM 8000, SGLang 30000). Nothing else has a probe
 * by default; the process-state check applies to every engine.
 */
export function defaultHealthProbe(engine: string, argv: readonly string[], rank: number): HealthProbe | undefined {
  if (rank !== 0) return undefined;
  const isVllm = engine === 'vllm';
  const isSglang = engine === 'sglang';
  if (!isVllm && !isSglang) return undefined;
  // `vllm serve` / python -m vllm.entrypoints.openai.api_server serve HTTP; Ray's head wrapper does not
  const serving = isVllm
    ? basename(argv[0]) === 'vllm' || (pythonModule(argv) ?? '').startsWith('vllm.entrypoints')
    : true;
  if (!serving) return undefined;
  const given = flagValue(argv, ['--port']);
  const p = given && /^\d+$/.test(given) ? Number(given) : isVllm ? 8000 : 30_000;
  return { kind: 'http', url: `http://${httpHost(argv)}:${p}/health` };
}

function describeProbe(probe: HealthProbe): string {
  if (probe.kind === 'http') return `GET ${probe.url}`;
  if (probe.kind === 'tcp') return `tcp ${probe.host}:${probe.port}`;
  return `exec ${probe.command}`;
}

// ---- the decision (pure)

export interface HealthState {
  /** probe failures in a row (outside the start grace) */
  probeFailures: number;
  /** process-state failures in a row */
  stateFailures: number;
  /** a probe passed once: the start grace is over */
  graceOver: boolean;
}

export const INITIAL_HEALTH: HealthState = { probeFailures: 0, stateFailures: 0, graceOver: false };

export type HealthObservation =
  | { kind: 'probe'; ok: true }
  | { kind: 'probe'; ok: false; detail: string }
  /** the engine's leader process state letter from /proc/<pid>/stat (undefined: gone, which its exit reports) */
  | { kind: 'process'; state: string | undefined };

/** One observation → the next state, and the reason when the engine is now unhealthy. Pure. */
export function judge(
  state: HealthState,
  observation: HealthObservation,
  sinceStartMs: number,
  spec: HealthSpec,
): { state: HealthState; unhealthy?: string } {
  const every = `every ${formatMs(spec.periodMs)}`;
  if (observation.kind === 'process') {
    const bad = observation.state !== undefined && /^[TtZ]$/.test(observation.state);
    if (!bad) return { state: { ...state, stateFailures: 0 } };
    const stateFailures = state.stateFailures + 1;
    const next = { ...state, stateFailures };
    if (stateFailures < spec.failureThreshold) return { state: next };
    const what = observation.state === 'Z' ? 'a zombie (state Z)' : `stopped (state ${observation.state})`;
    return {
      state: next,
      unhealthy: `health check failed: the engine process is ${what}, ${stateFailures} checks in a row (${every})`,
    };
  }
  if (observation.ok) return { state: { ...state, probeFailures: 0, graceOver: true } };
  if (!state.graceOver && sinceStartMs < spec.startGraceMs) return { state: { ...state, probeFailures: 0 } };
  const probeFailures = state.probeFailures + 1;
  const next = { ...state, probeFailures };
  if (probeFailures < spec.failureThreshold || !spec.probe) return { state: next };
  return {
    state: next,
    unhealthy: `health check ${describeProbe(spec.probe)} failed ${probeFailures} times in a row (${every}): ${observation.detail}`,
  };
}

function formatMs(ms: number): string {
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

// ---- the shell

/** The process state letter of /proc/<pid>/stat (R, S, D, T, t, Z…), or undefined when the process is gone. */
export function processState(pid: number, procRoot = '/proc'): string | undefined {
  try {
    const text = readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ')[0];
  } catch {
    return undefined;
  }
}

/** Runs one probe; resolves with undefined when it passed, else what went wrong. Never rejects. */
export function runProbe(probe: HealthProbe, timeoutMs: number): Promise<string | undefined> {
  if (probe.kind === 'http') return httpProbe(probe.url, timeoutMs);
  if (probe.kind === 'tcp') return tcpProbe(probe.host, probe.port, timeoutMs);
  return execProbe(probe.command, timeoutMs);
}

async function httpProbe(url: string, timeoutMs: number): Promise<string | undefined> {
  const attempt = await httpGetStatus(
    http.request,
    url,
    { headers: { 'user-agent': 'lockstep-run/health' } },
    timeoutMs,
  );
  if ('status' in attempt) return passingStatus(attempt.status) ? undefined : `HTTP ${attempt.status}`;
  return 'timedOut' in attempt ? `no answer within ${formatMs(timeoutMs)}` : failureText(attempt);
}

async function tcpProbe(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  const attempt = await tcpConnect(host, port, timeoutMs);
  return 'timedOut' in attempt ? `no connection within ${formatMs(timeoutMs)}` : failureText(attempt);
}

/** What an attempt that neither timed out nor got an HTTP status says: undefined once connected, else the error. */
function failureText(attempt: Attempt): string | undefined {
  return 'error' in attempt ? attempt.error : undefined;
}

function execProbe(command: string, timeoutMs: number): Promise<string | undefined> {
  const child = spawn('/bin/sh', ['-c', command], { stdio: 'ignore', detached: true });
  return checkOutcome(child, timeoutMs, `did not finish within ${formatMs(timeoutMs)}`, (code, signal) =>
    signal ? `killed by ${signal}` : `exited with code ${code}`,
  );
}

export interface HealthMonitorOptions {
  spec: HealthSpec;
  pid: number;
  onUnhealthy: (reason: string) => void;
  now?: () => number;
  /** tests replace the probe and /proc */
  probe?: (probe: HealthProbe, timeoutMs: number) => Promise<string | undefined>;
  readState?: (pid: number) => string | undefined;
}

/** Checks one engine every period until stopped or unhealthy (then it reports once and stops). */
export class HealthMonitor {
  private state: HealthState = INITIAL_HEALTH;
  private timer: NodeJS.Timeout | undefined;
  private probing = false;
  private done = false;
  private readonly startedAt: number;
  private readonly now: () => number;

  constructor(private readonly options: HealthMonitorOptions) {
    this.now = options.now ?? Date.now;
    this.startedAt = this.now();
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.options.spec.periodMs);
    this.timer.unref();
  }

  stop(): void {
    this.done = true;
    if (this.timer) clearInterval(this.timer);
  }

  /** One period: process state at once, then the probe (at most one in flight). Public for tests. */
  tick(): Promise<void> {
    if (this.done) return Promise.resolve();
    const read = this.options.readState ?? processState;
    this.observe({ kind: 'process', state: read(this.options.pid) });
    const probe = this.options.spec.probe;
    if (!probe || this.probing || this.done) return Promise.resolve();
    this.probing = true;
    const run = this.options.probe ?? runProbe;
    return run(probe, this.options.spec.timeoutMs).then((detail) => {
      this.probing = false;
      this.observe(detail === undefined ? { kind: 'probe', ok: true } : { kind: 'probe', ok: false, detail });
    });
  }

  private observe(observation: HealthObservation): void {
    if (this.done) return;
    const out = judge(this.state, observation, this.now() - this.startedAt, this.options.spec);
    this.state = out.state;
    if (out.unhealthy) {
      this.stop();
      this.options.onUnhealthy(out.unhealthy);
    }
  }
}
