/**
 * The probe endpoint of `lockstep run` (`--probe-port`): the kubelet's liveness and startup probes of the engine
 * container point here instead of at the engine (inject rewires them). An in-place group restart stops every engine,
 * waits at the barrier for the slowest member and starts them again; the engine's own `/health` is down all that time,
 * and a liveness probe of `failureThreshold × periodSeconds` shorter than the restart would have the kubelet kill the
 * container, which turns a seconds-long restart into a pod restart (and, for LWS, a recreated group). So:
 *
 * - while the group forms or restarts (no engine of this member runs), liveness and startup answer alive: run itself
 *   lives, heartbeats its coordinator, and will start the engine when the group is whole;
 * - once this epoch's engine runs, the engine's own check (the original probe's handler, carried by
 *   `--liveness-probe`/`--startup-probe`) is proxied: its failure is the probe's failure, so an engine that is hung or
 *   serving errors still gets the container killed, as the user's probe meant;
 * - right after an engine (re)start, failures are answered as alive for `--probe-start-grace` (what the original
 *   startup probe, or the liveness probe's initial delay, allowed a fresh container), ending at the first pass: a model
 *   loads again on every epoch, not only when the container starts.
 *
 * Readiness is not proxied: the engine's own readiness probe is already right during a restart (not serving, not
 * Ready), and the GroupReady gate covers the group.
 *
 * Threats: a client that connects and never sends (server timeouts; at most one check in flight per kind, later
 * requests share its answer); a check target that never answers or streams for ever (each check has its timeout and
 * the status line decides); an exec check that forks and hangs (its process group is killed at the timeout); a path
 * other than the probe paths (404, no check run); a malformed carried probe (refused at start with the flag's name,
 * never half-applied). The decision (`decideProbe`) is pure; the server and the checks are its shell.
 */
import { spawn } from 'node:child_process';
import type { IncomingMessage, Server } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { RUN_PROBE } from '../../src/contract/names.js';
import { DomainError } from '../../src/errors.js';
import { http } from '../../src/net/node-http.js';
import { type Attempt, httpGetStatus, passingStatus, tcpConnect } from './probe-io.js';
import { checkOutcome } from './process-tree.js';

/** The kubelet probes that point at run's endpoint, and their paths. */
export type ProxiedProbe = 'liveness' | 'startup';
const PROBE_PATHS: Readonly<Record<ProxiedProbe, string>> = RUN_PROBE.paths;

/** The engine's own check, as its container's probe declared it (named ports already resolved to numbers). */
export type EngineCheck =
  | {
      kind: 'httpGet';
      path: string;
      port: number;
      host?: string;
      https: boolean;
      headers: { name: string; value: string }[];
      timeoutMs: number;
    }
  | { kind: 'tcpSocket'; port: number; host?: string; timeoutMs: number }
  | { kind: 'exec'; command: string[]; timeoutMs: number };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function checkPort(value: unknown, flagName: string): number {
  const n = typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : value;
  if (typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= 65_535) return n;
  if (typeof value === 'string')
    throw new DomainError('invalid', `${flagName}: port "${value}" is a name; give the container port's number`);
  throw new DomainError('invalid', `${flagName}: port ${JSON.stringify(value)} is not a port (1-65535)`);
}

function optionalHost(value: unknown, flagName: string): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string') throw new DomainError('invalid', `${flagName}: host is not a string`);
  return value;
}

/**
 * A carried probe (`--liveness-probe`, `--startup-probe`): the container probe's JSON as the pod spec wrote it
 * (`{"httpGet":{"path":"/health","port":8000},"timeoutSeconds":2}`; timing fields other than timeoutSeconds are the
 * kubelet's and ignored here). Exactly one of httpGet, tcpSocket, exec; gRPC is refused (not proxied).
 */
export function parseEngineCheck(text: string, flagName: string): EngineCheck {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new DomainError('invalid', `${flagName}: not JSON (a container probe, as in {"httpGet":{"port":8000}})`);
  }
  if (!isRecord(value)) throw new DomainError('invalid', `${flagName}: not a JSON object`);
  const handlers = ['httpGet', 'tcpSocket', 'exec', 'grpc'].filter((k) => value[k] !== undefined);
  if (handlers.length !== 1) {
    throw new DomainError(
      'invalid',
      `${flagName}: needs exactly one of httpGet, tcpSocket, exec (found ${handlers.length === 0 ? 'none' : handlers.join(', ')})`,
    );
  }
  const seconds = value.timeoutSeconds ?? 1;
  if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 1 || seconds > 3600)
    throw new DomainError('invalid', `${flagName}: timeoutSeconds must be an integer 1-3600`);
  const timeoutMs = seconds * 1000;
  const handler = value[handlers[0]!];
  if (!isRecord(handler)) throw new DomainError('invalid', `${flagName}: ${handlers[0]} is not an object`);
  switch (handlers[0]) {
    case 'httpGet': {
      const scheme = handler.scheme ?? 'HTTP';
      if (scheme !== 'HTTP' && scheme !== 'HTTPS')
        throw new DomainError('invalid', `${flagName}: scheme must be HTTP or HTTPS`);
      const path = handler.path ?? '/';
      if (typeof path !== 'string') throw new DomainError('invalid', `${flagName}: path is not a string`);
      const headers = handler.httpHeaders ?? [];
      if (
        !Array.isArray(headers) ||
        !headers.every((h) => isRecord(h) && typeof h.name === 'string' && typeof h.value === 'string')
      )
        throw new DomainError('invalid', `${flagName}: httpHeaders must be a list of {name, value} strings`);
      return {
        kind: 'httpGet',
        path: path.startsWith('/') ? path : `/${path}`,
        port: checkPort(handler.port, flagName),
        host: optionalHost(handler.host, flagName),
        https: scheme === 'HTTPS',
        headers: headers as { name: string; value: string }[],
        timeoutMs,
      };
    }
    case 'tcpSocket':
      return {
        kind: 'tcpSocket',
        port: checkPort(handler.port, flagName),
        host: optionalHost(handler.host, flagName),
        timeoutMs,
      };
    case 'exec': {
      const command = handler.command;
      if (!Array.isArray(command) || command.length === 0 || !command.every((w) => typeof w === 'string'))
        throw new DomainError('invalid', `${flagName}: exec.command must be a non-empty list of strings`);
      return { kind: 'exec', command: command as string[], timeoutMs };
    }
    default:
      throw new DomainError('invalid', `${flagName}: gRPC probes are not proxied; leave that probe on the engine`);
  }
}

// ---- the decision (pure)

/** What run is doing, as the supervisor reports it. */
export type RunPhase =
  /** no engine of this member runs: joining, at the barrier, or stopped for a restart */
  | { phase: 'waiting'; epoch: number; why: string }
  /** this epoch's engine runs since `startedAt`; `passed`: one of its checks passed since then */
  | { phase: 'running'; epoch: number; startedAt: number; passed: boolean }
  /** run is terminating (SIGTERM) or finished */
  | { phase: 'ending' };

export type ProbeDecision =
  | { answer: 'pass'; why: string }
  /** run the engine's check; its pass passes; its failure fails, or passes while `failurePasses` */
  | { answer: 'check'; check: EngineCheck; failurePasses: boolean; why: string };

export interface ProbeChecks {
  liveness?: EngineCheck;
  startup?: EngineCheck;
  /** failures right after an engine start that are answered as alive */
  startGraceMs: number;
}

/**
 * One kubelet probe → the answer, or the check whose result is the answer. A startup probe without its own engine
 * check uses the liveness check (the kubelet would run liveness right after it), and the other way round.
 */
export function decideProbe(probe: ProxiedProbe, run: RunPhase, checks: ProbeChecks, now: number): ProbeDecision {
  if (run.phase === 'ending') return { answer: 'pass', why: 'lockstep run is stopping the engine' };
  if (run.phase === 'waiting')
    return { answer: 'pass', why: `group restarting or forming (epoch ${run.epoch}): ${run.why}` };
  const check = probe === 'startup' ? (checks.startup ?? checks.liveness) : (checks.liveness ?? checks.startup);
  if (!check) return { answer: 'pass', why: `engine of epoch ${run.epoch} running; no engine check to proxy` };
  const starting = !run.passed && now - run.startedAt < checks.startGraceMs;
  return {
    answer: 'check',
    check,
    failurePasses: starting,
    why: starting ? `engine of epoch ${run.epoch} starting` : `engine of epoch ${run.epoch} running`,
  };
}

// ---- the shell

/** One check of the engine: undefined when it passed, else what failed (the kubelet's wording where it has one). */
export function runEngineCheck(check: EngineCheck, defaultHost: string): Promise<string | undefined> {
  if (check.kind === 'exec') return execCheck(check.command, check.timeoutMs);
  const host = check.host ?? defaultHost;
  if (check.kind === 'tcpSocket') return tcpCheck(host, check.port, check.timeoutMs);
  return httpCheck(check, host);
}

async function httpCheck(check: Extract<EngineCheck, { kind: 'httpGet' }>, host: string): Promise<string | undefined> {
  const headers: Record<string, string> = { 'user-agent': 'kube-probe/lockstep-run', accept: '*/*' };
  for (const h of check.headers) headers[h.name.toLowerCase()] = h.value;
  const url = `${check.https ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${check.port}${check.path}`;
  const attempt = await httpGetStatus(
    check.https ? httpsRequest : http.request,
    url,
    // the kubelet does not verify an HTTPS probe's certificate
    { headers, ...(check.https ? { rejectUnauthorized: false } : {}) },
    check.timeoutMs,
  );
  if ('status' in attempt) {
    return passingStatus(attempt.status) ? undefined : `HTTP probe failed with statuscode: ${attempt.status}`;
  }
  return 'timedOut' in attempt ? `Get "${url}": context deadline exceeded` : `Get "${url}": ${errorOf(attempt)}`;
}

async function tcpCheck(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  const attempt = await tcpConnect(host, port, timeoutMs);
  if ('connected' in attempt) return undefined;
  return `dial tcp ${host}:${port}: ${'timedOut' in attempt ? 'i/o timeout' : errorOf(attempt)}`;
}

const errorOf = (attempt: Attempt): string => ('error' in attempt ? attempt.error : 'unknown');

function execCheck(command: readonly string[], timeoutMs: number): Promise<string | undefined> {
  const child = spawn(command[0]!, command.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  const take = (chunk: Buffer) => {
    if (output.length < 1024) output += chunk.toString('utf8');
  };
  child.stdout?.on('data', take);
  child.stderr?.on('data', take);
  return checkOutcome(
    child,
    timeoutMs,
    `command timed out: ${command.join(' ')}`,
    (code, signal) => output.trim().slice(0, 512) || (signal ? `killed by ${signal}` : `command exited with ${code}`),
    'close',
  );
}

export interface ProbeEndpointOptions {
  port: number;
  /** where the engine's checks go when the probe names no host: the pod IP, as the kubelet's */
  checkHost: string;
  checks: ProbeChecks;
  now?: () => number;
  /** tests replace the check */
  runCheck?: (check: EngineCheck, host: string) => Promise<string | undefined>;
  /** a probe answered as failing: logged by run (the kubelet logs its own side) */
  onFailure?: (probe: ProxiedProbe, reason: string) => void;
}

/** The HTTP server the kubelet probes: 200 with the reason when alive, 503 with it when not. */
export class ProbeEndpoint {
  private phase: RunPhase = { phase: 'waiting', epoch: 0, why: 'joining the group' };
  private readonly server: Server;
  private readonly inFlight = new Map<ProxiedProbe, Promise<{ ok: boolean; why: string }>>();
  private readonly now: () => number;

  constructor(private readonly options: ProbeEndpointOptions) {
    this.now = options.now ?? Date.now;
    this.server = http.createServer((req, res) => {
      void this.answer(req).then(({ status, body }) => {
        res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
        res.end(`${body}\n`);
      });
    });
    this.server.headersTimeout = 5000;
    this.server.requestTimeout = 10_000;
    this.server.keepAliveTimeout = 1000;
  }

  /** Listens on every address (the kubelet probes the pod IP); resolves with the bound port. */
  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, () => {
        this.server.off('error', reject);
        const address = this.server.address();
        resolve(typeof address === 'object' && address ? address.port : this.options.port);
      });
    });
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** The supervisor's phase changes. */
  setPhase(phase: RunPhase): void {
    this.phase = phase;
  }

  private async answer(req: IncomingMessage): Promise<{ status: number; body: string }> {
    const path = (req.url ?? '/').split('?')[0];
    const probe = (Object.keys(PROBE_PATHS) as ProxiedProbe[]).find((p) => PROBE_PATHS[p] === path);
    if (!probe || req.method !== 'GET')
      return { status: 404, body: `not a probe path (${Object.values(PROBE_PATHS).join(', ')})` };
    const result = await this.decide(probe);
    if (!result.ok) this.options.onFailure?.(probe, result.why);
    return { status: result.ok ? 200 : 503, body: result.why };
  }

  private decide(probe: ProxiedProbe): Promise<{ ok: boolean; why: string }> {
    const phase = this.phase;
    const decision = decideProbe(probe, phase, this.options.checks, this.now());
    if (decision.answer === 'pass') return Promise.resolve({ ok: true, why: decision.why });
    // one check per kind at a time: a burst of probes shares the answer of the one in flight
    const running = this.inFlight.get(probe);
    if (running) return running;
    const run = this.options.runCheck ?? runEngineCheck;
    const started = run(decision.check, this.options.checkHost).then((failure) => {
      this.inFlight.delete(probe);
      if (failure === undefined) {
        // the engine answered once this epoch: its start grace is over
        if (this.phase === phase && phase.phase === 'running') this.phase = { ...phase, passed: true };
        return { ok: true, why: `${decision.why}: engine check passed` };
      }
      if (decision.failurePasses) return { ok: true, why: `${decision.why}: ${failure} (within the start grace)` };
      return { ok: false, why: `${decision.why}: ${failure}` };
    });
    this.inFlight.set(probe, started);
    return started;
  }
}
