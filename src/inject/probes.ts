/**
 * The engine container's liveness and startup probes, pointed at `lockstep run`'s probe endpoint. An in-place group
 * restart stops every engine and starts them again once the slowest member is back at the barrier; the engine's own
 * check fails all that time, and a probe whose `failureThreshold × periodSeconds` is shorter than the restart would have
 * the kubelet kill the container, turning a restart of seconds into a pod restart. Run answers alive while the group
 * forms or restarts and checks the engine with the original probe once it runs (leader/run/probe-proxy.ts), so a hung
 * engine is still killed. The original handler travels in LOCKSTEP_LIVENESS_PROBE / LOCKSTEP_STARTUP_PROBE (JSON, named
 * ports resolved), the time the originals gave a fresh container in LOCKSTEP_PROBE_START_GRACE.
 *
 * Readiness probes stay as written: not serving during a restart is right for readiness, and nothing is killed.
 * A probe run cannot carry (gRPC, a named port the container does not declare) is left alone with a warning.
 */
import { RUN_PROBE } from '../contract/names.js';
import { childArray, isObject, type Json, type JsonObject, objectAt, stringAt } from './json.js';
import type { InjectReport } from './options.js';

const KINDS = [
  { field: 'livenessProbe', env: RUN_PROBE.env.liveness, path: RUN_PROBE.paths.liveness },
  { field: 'startupProbe', env: RUN_PROBE.env.startup, path: RUN_PROBE.paths.startup },
] as const;

const TIMING = ['initialDelaySeconds', 'periodSeconds', 'successThreshold', 'failureThreshold'] as const;

function numberAt(probe: JsonObject, key: string, fallback: number): number {
  const v = probe[key];
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 ? v : fallback;
}

function isRewired(probe: JsonObject, path: string): boolean {
  const get = objectAt(probe, 'httpGet');
  return get !== undefined && get.port === RUN_PROBE.port && get.path === path;
}

/** A probe's port (number, digits or a name of the container's ports) as a number, or undefined. */
function resolvePort(port: Json | undefined, container: JsonObject): number | undefined {
  if (typeof port === 'number') return port;
  if (typeof port !== 'string') return undefined;
  if (/^\d+$/.test(port)) return Number(port);
  const named = (container.ports as Json[] | undefined)?.find((p) => isObject(p) && p.name === port);
  return isObject(named) && typeof named.containerPort === 'number' ? named.containerPort : undefined;
}

/** The handler run checks, as JSON: the original's, named port resolved; or why it cannot be carried. */
function carried(probe: JsonObject, container: JsonObject): { handler: JsonObject; shows: string } | { why: string } {
  const timeoutSeconds = numberAt(probe, 'timeoutSeconds', 1);
  if (objectAt(probe, 'grpc')) return { why: 'a gRPC probe, which lockstep run does not proxy' };
  for (const key of ['httpGet', 'tcpSocket'] as const) {
    const handler = objectAt(probe, key);
    if (!handler) continue;
    const port = resolvePort(handler.port, container);
    if (port === undefined) return { why: `its port ${JSON.stringify(handler.port)} is not one of the container's` };
    const shows =
      key === 'httpGet' ? `GET ${stringAt(handler, 'path') ?? '/'} on port ${port}` : `TCP connect to port ${port}`;
    return { handler: { [key]: { ...handler, port }, timeoutSeconds }, shows };
  }
  const exec = objectAt(probe, 'exec');
  if (exec && Array.isArray(exec.command))
    return { handler: { exec, timeoutSeconds }, shows: `exec ${exec.command.join(' ')}` };
  return { why: 'it has no httpGet, tcpSocket or exec handler' };
}

/**
 * Seconds after an engine start during which its failed checks answer alive: what the originals gave a fresh
 * container (a startup probe's initialDelaySeconds + failureThreshold × periodSeconds, else the liveness probe's
 * initialDelaySeconds).
 */
function startGraceSeconds(container: JsonObject): number {
  const startup = objectAt(container, 'startupProbe');
  if (startup)
    return (
      numberAt(startup, 'initialDelaySeconds', 0) +
      numberAt(startup, 'failureThreshold', 3) * numberAt(startup, 'periodSeconds', 10)
    );
  const liveness = objectAt(container, 'livenessProbe');
  return liveness ? numberAt(liveness, 'initialDelaySeconds', 0) : 0;
}

/** A carried value stays literal: the kubelet expands `$(VAR)` in env values and turns `$$` into `$`. */
const literal = (text: string) => text.replace(/\$/g, '$$$$');

/** Rewires the main container's liveness/startup probes to `lockstep run`'s endpoint (idempotent). */
export function rewireProbes(main: JsonObject, at: string, report: InjectReport, change: (what: string) => void): void {
  const name = stringAt(main, 'name') ?? '(unnamed)';
  const pending = KINDS.filter(({ field, path }) => {
    const probe = objectAt(main, field);
    return probe !== undefined && !isRewired(probe, path);
  });
  if (pending.length === 0) return;
  const grace = startGraceSeconds(main);
  const env = childArray(main, 'env');
  const setEnv = (envName: string, value: string) => {
    const have = env.find((e) => isObject(e) && e.name === envName);
    if (isObject(have)) have.value = value;
    else env.push({ name: envName, value });
  };
  let rewired = 0;
  for (const { field, env: envName, path } of pending) {
    const probe = objectAt(main, field)!;
    const original = carried(probe, main);
    if ('why' in original) {
      report.warnings.push(
        `${at}: container ${name}: ${field} left as written (${original.why}): a group restart longer than its failureThreshold × periodSeconds gets the container killed`,
      );
      continue;
    }
    const timing: JsonObject = {};
    for (const key of TIMING) if (probe[key] !== undefined) timing[key] = probe[key]!;
    main[field] = {
      httpGet: { path, port: RUN_PROBE.port },
      ...timing,
      // one second on top of the engine check's own timeout, for run's answer
      timeoutSeconds: numberAt(probe, 'timeoutSeconds', 1) + 1,
    };
    setEnv(envName, literal(JSON.stringify(original.handler)));
    rewired++;
    change(
      `container ${name}: ${field} asks lockstep run (port ${RUN_PROBE.port} ${path}): alive while the group forms or restarts, the engine's own check (${original.shows}, carried in ${envName}) once it runs, so a group restart longer than the probe's window does not get the container killed`,
    );
  }
  if (rewired === 0) return;
  setEnv(RUN_PROBE.env.port, String(RUN_PROBE.port));
  if (grace > 0) setEnv(RUN_PROBE.env.startGrace, `${grace}s`);
}
