/**
 * Container probes as the kubelet runs them (pkg/kubelet/prober): startup, liveness and readiness, each an HTTP GET,
 * a TCP connect or a command run in the container, on its own period with its own thresholds.
 *
 * - startup runs first; until it succeeds the container is not `started` and liveness/readiness do not run; after
 *   `failureThreshold` failures the container is killed (and restarted per the pod's restartPolicy);
 * - liveness: `failureThreshold` failures in a row kill the container, like a startup failure;
 * - readiness: the container is Ready only after `successThreshold` successes in a row, and not Ready after
 *   `failureThreshold` failures in a row; a container with no readiness probe is Ready once started.
 *
 * Results follow the kubelet: HTTP 200–399 succeeds (redirects are not followed; a redirect to another host is a
 * success with a warning upstream — here any 3xx is a success), a TCP connect that opens succeeds, a command that exits
 * 0 succeeds; a probe that does not answer within `timeoutSeconds` fails. gRPC probes are not emulated (reported once,
 * counted as success so a pod with one still runs). Threats: a probe target that never answers (timeout, socket
 * destroyed), a command that never exits (killed with its process group at the timeout), a huge response body (not
 * read: the status line decides).
 */
import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';

export interface ProbeSpec {
  httpGet?: {
    path?: string;
    port: number | string;
    host?: string;
    scheme?: string;
    httpHeaders?: { name: string; value: string }[];
  };
  tcpSocket?: { port: number | string; host?: string };
  exec?: { command?: string[] };
  grpc?: { port: number; service?: string };
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
  terminationGracePeriodSeconds?: number;
}

export type ProbeKind = 'startup' | 'liveness' | 'readiness';

export interface ProbeResult {
  ok: boolean;
  /** the kubelet's wording, used in the Unhealthy event: `HTTP probe failed with statuscode: 503` */
  message: string;
}

/** What a probe needs from its container: where it listens, its named ports, how to run a command in it. */
export interface ProbeTarget {
  podIP: string;
  ports: readonly { name?: string; containerPort: number }[];
  /** runs argv as the container would (its env, its PATH, its program stand-ins); resolves with the exit code */
  exec: (argv: readonly string[], timeoutMs: number) => Promise<{ code: number; output: string }>;
}

/** The probe's port: a number, or the name of one of the container's ports. */
export function probePort(port: number | string, ports: ProbeTarget['ports']): number | undefined {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  return ports.find((p) => p.name === port)?.containerPort;
}

/** One probe attempt. */
export async function runProbe(probe: ProbeSpec, target: ProbeTarget): Promise<ProbeResult> {
  const timeoutMs = 1000 * Math.max(1, probe.timeoutSeconds ?? 1);
  if (probe.httpGet) {
    const port = probePort(probe.httpGet.port, target.ports);
    if (port === undefined) return { ok: false, message: `port ${String(probe.httpGet.port)} is not a container port` };
    return httpProbe(probe.httpGet, probe.httpGet.host || target.podIP, port, timeoutMs);
  }
  if (probe.tcpSocket) {
    const port = probePort(probe.tcpSocket.port, target.ports);
    if (port === undefined)
      return { ok: false, message: `port ${String(probe.tcpSocket.port)} is not a container port` };
    return tcpProbe(probe.tcpSocket.host || target.podIP, port, timeoutMs);
  }
  if (probe.exec?.command && probe.exec.command.length > 0) {
    const { code, output } = await target.exec(probe.exec.command, timeoutMs);
    if (code === 0) return { ok: true, message: '' };
    if (code === -1) return { ok: false, message: `command timed out: ${probe.exec.command.join(' ')}` };
    return { ok: false, message: output.trim() || `command exited with ${code}` };
  }
  if (probe.grpc) return { ok: true, message: 'gRPC probes are not emulated' };
  return { ok: false, message: 'probe has no handler' };
}

function httpProbe(
  get: NonNullable<ProbeSpec['httpGet']>,
  host: string,
  port: number,
  timeoutMs: number,
): Promise<ProbeResult> {
  const https = (get.scheme ?? 'HTTP').toUpperCase() === 'HTTPS';
  const headers: Record<string, string> = { 'User-Agent': 'kube-probe/1.35', Accept: '*/*' };
  for (const h of get.httpHeaders ?? []) headers[h.name] = h.value;
  return new Promise((resolve) => {
    const request = (https ? httpsRequest : httpRequest)(
      {
        host,
        port,
        path: get.path ?? '/',
        method: 'GET',
        headers,
        timeout: timeoutMs,
        // the kubelet does not verify the serving certificate of an HTTPS probe
        ...(https ? { rejectUnauthorized: false } : {}),
      },
      (response) => {
        const status = response.statusCode ?? 0;
        response.destroy();
        resolve(
          status >= 200 && status < 400
            ? { ok: true, message: '' }
            : { ok: false, message: `HTTP probe failed with statuscode: ${status}` },
        );
      },
    );
    request.once('timeout', () => {
      request.destroy();
      resolve({
        ok: false,
        message: `Get "${https ? 'https' : 'http'}://${host}:${port}${get.path ?? '/'}": context deadline exceeded`,
      });
    });
    request.once('error', (error) => {
      resolve({
        ok: false,
        message: `Get "${https ? 'https' : 'http'}://${host}:${port}${get.path ?? '/'}": ${error.message}`,
      });
    });
    request.end();
  });
}

function tcpProbe(host: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host, port, timeout: timeoutMs });
    socket.once('connect', () => {
      socket.destroy();
      resolve({ ok: true, message: '' });
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve({ ok: false, message: `dial tcp ${host}:${port}: i/o timeout` });
    });
    socket.once('error', (error) => resolve({ ok: false, message: `dial tcp ${host}:${port}: ${error.message}` }));
  });
}

/** Runs argv with env; -1 when it did not exit within the timeout (its process group is killed). */
export function execWithTimeout(
  argv: readonly string[],
  env: Record<string, string>,
  cwd: string,
  timeoutMs: number,
): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { env, cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const take = (chunk: Buffer) => {
      if (output.length < 10_240) output += chunk.toString('utf8');
    };
    child.stdout?.on('data', take);
    child.stderr?.on('data', take);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid) process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve({ code: 127, output: error.message });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: timedOut ? -1 : (code ?? 1), output });
    });
  });
}

/** What a container's probes decided, read by the runner for `started`, `ready` and kills. */
export interface ProbeState {
  started: boolean;
  ready: boolean;
}

export interface ProberHooks {
  /** a probe failed (the kubelet's Unhealthy event: `Liveness probe failed: …`) */
  onFailure: (kind: ProbeKind, message: string) => void;
  /** startup or liveness gave up: kill the container (grace from the probe, else the pod's) */
  onKill: (kind: 'startup' | 'liveness', gracePeriodSeconds: number | undefined) => void;
  /** started or ready changed */
  onChange: () => void;
}

/**
 * The probes of one running container. Started when the container starts, stopped when it exits; one attempt at a
 * time per probe (a slow probe delays its next period, as the kubelet's worker does).
 */
export class ContainerProber {
  readonly state: ProbeState;
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly probes: { startup?: ProbeSpec; liveness?: ProbeSpec; readiness?: ProbeSpec },
    private readonly target: ProbeTarget,
    private readonly hooks: ProberHooks,
  ) {
    this.state = { started: !probes.startup, ready: !probes.startup && !probes.readiness };
  }

  start(): void {
    if (this.probes.startup) this.loop('startup', this.probes.startup);
    else this.afterStartup();
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  private afterStartup(): void {
    if (this.probes.liveness) this.loop('liveness', this.probes.liveness);
    if (this.probes.readiness) this.loop('readiness', this.probes.readiness);
  }

  private later(ms: number, fn: () => void): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.stopped) fn();
    }, ms);
    this.timers.add(t);
  }

  private loop(kind: ProbeKind, probe: ProbeSpec): void {
    const period = 1000 * Math.max(1, probe.periodSeconds ?? 10);
    const failureThreshold = Math.max(1, probe.failureThreshold ?? 3);
    // liveness and startup must use 1 (API validation); readiness may ask for more
    const successThreshold = kind === 'readiness' ? Math.max(1, probe.successThreshold ?? 1) : 1;
    let failures = 0;
    let successes = 0;
    const attempt = async () => {
      const result = await runProbe(probe, this.target);
      if (this.stopped) return;
      if (result.ok) {
        failures = 0;
        successes++;
        if (kind === 'startup') {
          this.state.started = true;
          if (!this.probes.readiness) this.state.ready = true;
          this.hooks.onChange();
          this.afterStartup();
          return;
        }
        if (kind === 'readiness' && successes >= successThreshold && !this.state.ready) {
          this.state.ready = true;
          this.hooks.onChange();
        }
      } else {
        successes = 0;
        failures++;
        this.hooks.onFailure(kind, result.message);
        if (failures >= failureThreshold) {
          if (kind === 'readiness') {
            if (this.state.ready) {
              this.state.ready = false;
              this.hooks.onChange();
            }
          } else {
            this.stop();
            this.hooks.onKill(kind, probe.terminationGracePeriodSeconds);
            return;
          }
        }
      }
      this.later(period, () => void attempt());
    };
    this.later(1000 * Math.max(0, probe.initialDelaySeconds ?? 0), () => void attempt());
  }
}
