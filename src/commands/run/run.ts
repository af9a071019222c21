/**
 * `lockstep run -- <command…>`: take the group environment (bootstrap's file, or join now when no bootstrap ran),
 * adapt the command for the engine, expand $(VAR) references, run it with signals forwarded, and report its exit to
 * the coordinator. Exits with the engine's status.
 */

import { EngineError, selectEngine } from '../../../leader/engines/index.js';
import { type EnvOverride, engineEnvironment, groupView } from '../../../leader/environment.js';
import { attachSession, type MemberTls } from '../../../leader/member/client.js';
import { type EnvFile, readEnvFile } from '../../../leader/member/env-file.js';
import {
  checkEnvFile,
  JoinFlagError,
  type JoinPlan,
  type PodFacts,
  readTlsCa,
} from '../../../leader/member/join-options.js';
import { expandArgs } from '../../../leader/run/expand.js';
import { defaultHealthProbe, HealthCheckError, type HealthSpec, parseHealthCheck } from '../../../leader/run/health.js';
import { type ProbeChecks, ProbeEndpoint, parseEngineCheck } from '../../../leader/run/probe-proxy.js';
import { EngineSupervisor, type MemberConnection, splitAddress } from '../../../leader/run/supervisor.js';
import { rendezvousGate, type WarmPool } from '../../../leader/run/warm.js';
import { CliError, usageError } from '../../cli/errors.js';
import { DomainError, errorMessage } from '../../errors.js';
import type { Logger } from '../../log.js';
import { joinAndWrite, plan } from '../bootstrap/run.js';
import type { RunFlags } from './index.js';

/**
 * The probe endpoint of --probe-port, or undefined without it. Carried probes without a port to serve them are a
 * usage error (nothing would check them); a carried probe that cannot be checked is refused before anything starts.
 */
function probeEndpoint(options: RunFlags, processEnv: NodeJS.ProcessEnv, log: Logger): ProbeEndpoint | undefined {
  if (options.probePort === undefined) {
    if (options.livenessProbe !== undefined || options.startupProbe !== undefined)
      throw usageError('--liveness-probe and --startup-probe need --probe-port, where the kubelet probes run');
    return undefined;
  }
  let checks: ProbeChecks;
  try {
    checks = {
      liveness:
        options.livenessProbe === undefined ? undefined : parseEngineCheck(options.livenessProbe, '--liveness-probe'),
      startup:
        options.startupProbe === undefined ? undefined : parseEngineCheck(options.startupProbe, '--startup-probe'),
      startGraceMs: options.probeStartGrace,
    };
  } catch (err) {
    if (err instanceof DomainError) throw usageError(err.message);
    throw err;
  }
  return new ProbeEndpoint({
    port: options.probePort,
    // the kubelet probes the pod IP, and a probe without a host means it
    checkHost: processEnv.POD_IP || '127.0.0.1',
    checks,
    onFailure: (probe, reason) => log.warn({ probe, reason }, 'the engine fails its own probe: answering it as failed'),
  });
}

/** The health checks of an engine: the flags over the engine's defaults (health.ts). Bad flags are usage errors. */
function healthSpec(
  options: Pick<RunFlags, 'health' | 'healthPeriod' | 'healthFailures' | 'healthStartGrace' | 'healthTimeout'>,
  engine: string,
  argv: readonly string[],
  rank: number,
): HealthSpec {
  let parsed: ReturnType<typeof parseHealthCheck>;
  try {
    parsed = parseHealthCheck(options.health);
  } catch (err) {
    if (err instanceof HealthCheckError) throw usageError(err.message);
    throw err;
  }
  const failures = options.healthFailures;
  if (!Number.isInteger(failures) || failures < 1) {
    throw usageError(`--health-failures must be a positive integer, got ${failures}`);
  }
  const periodMs = options.healthPeriod;
  if (periodMs <= 0) throw usageError('--health-period must be positive');
  return {
    probe: parsed === 'auto' ? defaultHealthProbe(engine, argv, rank) : parsed,
    periodMs,
    failureThreshold: failures,
    startGraceMs: options.healthStartGrace,
    timeoutMs: Math.max(1, Math.min(options.healthTimeout, periodMs)),
  };
}

/**
 * The command line to start, from the user's argv: $(VAR) expanded, then the engine's flags for this rank; its
 * environment is the container's with the group's variables, the container's own settings winning (environment.ts).
 */
function buildCommand(
  argv: readonly string[],
  file: EnvFile,
  options: { engine: string; shell: boolean },
  processEnv: NodeJS.ProcessEnv,
): { argv: string[]; env: NodeJS.ProcessEnv; engine: string; overrides: EnvOverride[] } {
  const { env, overrides } = engineEnvironment(processEnv, file.env);
  const expanded = expandArgs(argv, env);
  const engine = selectEngine(options.engine, options.shell ? [] : expanded);
  let adapted: string[];
  try {
    adapted = engine.adapt(expanded, groupView(file.release), env);
  } catch (err) {
    if (err instanceof EngineError) throw usageError(err.message);
    throw err;
  }
  // with --shell the user's words form one script; the engine's added flags are plain words appended to it
  const final = options.shell ? ['/bin/sh', '-c', adapted.join(' ')] : adapted;
  return { argv: final, env, engine: engine.name, overrides };
}

/** Says once, at the first start, which group variables the container's own values replace (or do not). */
function overrideReporter(log: Logger): (overrides: readonly EnvOverride[]) => void {
  let reported = false;
  return (overrides) => {
    if (reported) return;
    reported = true;
    for (const o of overrides) {
      log.warn(
        { name: o.name, container: o.container, group: o.group, kept: o.kept },
        o.kept === 'container'
          ? `${o.name}: the container's value wins over the group's (${o.why})`
          : `${o.name}: the group's value replaces the container's (${o.why})`,
      );
    }
  };
}

export async function runRun(
  argv: readonly string[],
  options: RunFlags,
  rankFromCli: boolean,
  processEnv: NodeJS.ProcessEnv,
  log: Logger,
  /** the warm standby, already starting (standby.ts), or undefined for cold starts */
  warm: WarmPool | undefined,
  facts?: PodFacts,
): Promise<number> {
  if (argv.length === 0) throw usageError('no command: use lockstep run [options] -- <command> [args…]');
  const readFile = () =>
    readEnvFile(options.envFile).catch((err: unknown) => {
      throw new CliError(1, `cannot read the group environment: ${errorMessage(err)}`);
    });
  let ca: Buffer | undefined;
  try {
    ca = readTlsCa(options.tlsCa);
    checkEnvFile(options.envFile);
  } catch (err) {
    if (err instanceof JoinFlagError) throw usageError(err.message);
    throw err;
  }
  // TLS: the session goes to the address bootstrap resolved, the certificate names the leader's host
  const tlsFor = (file: EnvFile, joinPlan?: JoinPlan): MemberTls | undefined => {
    if (!ca) return undefined;
    let host: string | undefined;
    try {
      host = (joinPlan ?? joinPlanFor(file)).target.host;
    } catch {
      host = undefined;
    }
    return { ca, serverName: host && host !== splitAddress(file.coordinator)?.host ? host : undefined };
  };
  // Join (as bootstrap would), then attach the run session: a run's session lives across epochs and coordinators
  const join = async (joinPlan: JoinPlan, signal: AbortSignal, lastEpoch?: number): Promise<MemberConnection> => {
    const joined = await joinAndWrite(options, joinPlan, 'ROLE_BOOTSTRAP', log, {}, { signal, lastEpoch });
    joined.session.close();
    const file = await readFile();
    if (!file) throw new CliError(1, `the environment file ${options.envFile} vanished after writing it`);
    const session = attachSession(
      file.coordinator,
      { memberId: file.memberId, sessionSecret: joined.reply.sessionSecret },
      file.heartbeatIntervalMs ?? 1000,
      'ROLE_RUN',
      tlsFor(file, joinPlan),
    );
    return { session, file, release: joined.release };
  };
  const joinPlanFor = (file: EnvFile | undefined): JoinPlan => {
    try {
      return plan(options, rankFromCli, processEnv, facts);
    } catch (err) {
      // no way to find the coordinator from the pod's facts: use the address bootstrap found
      const at = file ? splitAddress(file.coordinator) : undefined;
      if (!at) throw err;
      return plan({ ...options, leaderAddress: at.host, coordinatorPort: at.port }, rankFromCli, processEnv, facts);
    }
  };
  const probes = probeEndpoint(options, processEnv, log);
  if (probes) {
    const port = await probes.listen().catch((err: unknown) => {
      throw new CliError(1, `cannot serve probes on port ${options.probePort}: ${errorMessage(err)}`);
    });
    log.info({ port }, 'serving the liveness/startup probes');
  }
  try {
    const reportOverrides = overrideReporter(log);
    const supervisor = new EngineSupervisor({
      warm,
      envFile: options.envFile,
      gracePeriodMs: options.gracePeriod,
      log,
      command: (file) => {
        const { overrides, ...built } = buildCommand(argv, file, options, processEnv);
        reportOverrides(overrides);
        return {
          ...built,
          health: healthSpec(options, built.engine, built.argv, file.rank),
          gate: rendezvousGate(built.engine, built.env),
        };
      },
      connect: async (signal) => {
        const file = await readFile();
        if (!file) {
          log.info('no environment file: joining the group directly');
          return join(joinPlanFor(undefined), signal);
        }
        log.info(
          { envFile: options.envFile, rank: file.rank, epoch: file.epoch },
          'using the environment bootstrap wrote',
        );
        // the command and its checks must be valid before anything starts
        const built = buildCommand(argv, file, options, processEnv);
        healthSpec(options, built.engine, built.argv, file.rank);
        const session = attachSession(
          file.coordinator,
          { memberId: file.memberId, sessionSecret: file.sessionSecret ?? '' },
          file.heartbeatIntervalMs ?? 1000,
          'ROLE_RUN',
          tlsFor(file),
        );
        return { session, file };
      },
      // the epoch it ran: a coordinator that restarted without an API continues above it
      reconnect: (file, signal) => join(joinPlanFor(file), signal, file.epoch),
      onPhase: (phase) => probes?.setPhase(phase),
    });
    return await supervisor.run();
  } finally {
    await probes?.close();
  }
}
