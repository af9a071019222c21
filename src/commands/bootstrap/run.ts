/**
 * `lockstep bootstrap`: join, wait at the barrier with progress lines, write the environment file, exit 0. This
 * module is bootstrap's whole start-up path: it must not import client-node or anything heavy (see the
 * formation benchmark's start-up figure).
 */
import { dirname } from 'node:path';
import { installLauncher } from '../../../leader/bootstrap/launcher.js';
import { groupEnvironment } from '../../../leader/environment.js';
import {
  formatMs,
  GroupFailedError,
  type Joined,
  JoinRefusedError,
  JoinTimeoutError,
  joinGroup,
} from '../../../leader/member/client.js';
import { readEnvFile, writeEnvFile } from '../../../leader/member/env-file.js';
import {
  JoinFlagError,
  type JoinFlags,
  type JoinPlan,
  type PodFacts,
  planJoin,
} from '../../../leader/member/join-options.js';
import { LocateError } from '../../../leader/member/locate.js';
import type { Role } from '../../../leader/protocol/messages.js';
import { CliError, usageError } from '../../cli/errors.js';
import { EXIT } from '../../cli/exit-codes.js';
import type { Logger } from '../../log.js';
import { formatHostPort } from '../../net/host-port.js';
import { abortOnTermination, signalExitStatus } from '../../signals.js';

/**
 * Exit codes (src/cli/exit-codes.ts): the group never formed in time; the coordinator refused this pod; the group has
 * failed (its restart budget is spent: `lockstep run` exits with it too, and a pod joining a failed group is refused
 * with it).
 */
const EXIT_TIMEOUT = EXIT.unavailable;
const EXIT_REFUSED = EXIT.failed;
const EXIT_GROUP_FAILED = EXIT.groupFailed;

export function plan(flags: JoinFlags, rankFromCli: boolean, env: NodeJS.ProcessEnv, facts?: PodFacts): JoinPlan {
  try {
    return planJoin(flags, rankFromCli, env, facts);
  } catch (err) {
    if (err instanceof LocateError || err instanceof JoinFlagError) throw usageError(err.message);
    throw err;
  }
}

/** Joins and writes the environment file; the session stays open for the caller (run keeps it). */
export async function joinAndWrite(
  flags: JoinFlags,
  joinPlan: JoinPlan,
  role: Role,
  log: Logger,
  trace: { onJoinSent?: () => void; onReleased?: () => void } = {},
  more: { lastEpoch?: number; signal?: AbortSignal } = {},
): Promise<Joined> {
  let joined: Joined;
  try {
    joined = await joinGroup({
      target: joinPlan.target,
      identity: joinPlan.identity,
      token: joinPlan.token,
      ca: joinPlan.ca,
      role,
      timeoutMs: flags.timeout,
      progressIntervalMs: flags.progressInterval,
      onProgress: (line) => log.info(line),
      onJoinSent: trace.onJoinSent,
      lastEpoch: more.lastEpoch,
      signal: more.signal,
    });
  } catch (err) {
    if (err instanceof JoinTimeoutError) throw new CliError(EXIT_TIMEOUT, err.message);
    if (err instanceof GroupFailedError) throw new CliError(EXIT_GROUP_FAILED, err.message);
    if (err instanceof JoinRefusedError) throw new CliError(EXIT_REFUSED, err.message);
    throw err;
  }
  trace.onReleased?.();
  const { release, reply } = joined;
  const env = groupEnvironment(release);
  await writeEnvFile(flags.envFile, {
    version: 1,
    group: release.group,
    namespace: release.namespace,
    rank: release.rank,
    epoch: release.epoch,
    size: release.size,
    memberId: reply.memberId,
    sessionSecret: reply.sessionSecret,
    coordinator: formatHostPort(joined.address, joinPlan.target.port),
    heartbeatIntervalMs: reply.heartbeatIntervalMs,
    env,
    release,
  });
  log.info(
    { group: release.group, rank: release.rank, size: release.size, epoch: release.epoch, envFile: flags.envFile },
    `group ${release.group} released: rank ${release.rank} of ${release.size}, epoch ${release.epoch}; environment in ${flags.envFile}`,
  );
  return joined;
}

/**
 * Installs the launcher beside the environment file, unless disabled or not running from the bundle. Never fails the
 * bootstrap by itself: the caller decides (an injected engine container cannot start without it).
 */
async function launcher(
  flags: { envFile: string; installLauncher?: boolean },
  log: Logger,
  signal: AbortSignal,
  entry: string | undefined = process.argv[1],
): Promise<void> {
  const dir = dirname(flags.envFile);
  if (flags.installLauncher === false) {
    log.info('not installing the launcher (--install-launcher=false)');
    return;
  }
  if (!entry?.endsWith('.mjs')) {
    log.info({ entry }, 'not installing the launcher: lockstep is not running from its bundle');
    return;
  }
  const started = Date.now();
  const result = await installLauncher(dir, { node: process.execPath, entry }, signal);
  log.info(
    { script: result.script, ms: Date.now() - started },
    result.installed ? `installed the launcher ${result.script}` : `the launcher ${result.script} is up to date`,
  );
}

/**
 * SIGTERM (the pod deleted while its init container waits) or SIGINT stops bootstrap where it stands: the join is
 * abandoned, a launcher copy in progress is removed, and it exits 128 + the signal's number (143) with one `error:`
 * line. What it writes is atomic, so the volume holds the environment file and the launcher complete or not at all;
 * a signal that comes once both are written changes nothing (exit 0).
 */
export async function runBootstrap(
  flags: JoinFlags & { installLauncher?: boolean },
  rankFromCli: boolean,
  env: NodeJS.ProcessEnv,
  log: Logger,
  facts?: PodFacts,
): Promise<number> {
  const joinPlan = plan(flags, rankFromCli, env, facts);
  const termination = abortOnTermination();
  const stopped = (what: string): CliError => {
    const signal = termination.received() ?? 'SIGTERM';
    return new CliError(signalExitStatus(signal), `received ${signal}: stopped ${what}`);
  };
  // copying node takes a moment: it runs while the group forms, not before the join
  const installing = launcher(flags, log, termination.signal).then(
    () => undefined,
    (err: unknown) => err,
  );
  try {
    log.info(
      {
        coordinator: `${joinPlan.target.host}:${joinPlan.target.port}`,
        pod: joinPlan.identity.pod,
        rank: joinPlan.identity.rankHint,
      },
      `joining the group through ${joinPlan.target.host}:${joinPlan.target.port} (${joinPlan.target.source}); giving up after ${formatMs(flags.timeout)}`,
    );
    // the formation benchmark reads these: ms since process start, and wall-clock ms for comparing processes
    const trace = env.LOCKSTEP_TRACE_STARTUP === '1';
    const mark = (what: string) =>
      process.stderr.write(
        `lockstep-trace ${what} ${performance.now().toFixed(1)} ${(performance.timeOrigin + performance.now()).toFixed(1)}\n`,
      );
    // a restarted bootstrap (the pod's emptyDir survives a container restart) says which epoch it last saw
    const previous = await readEnvFile(flags.envFile).catch(() => undefined);
    let joined: Joined;
    try {
      joined = await joinAndWrite(
        flags,
        joinPlan,
        'ROLE_BOOTSTRAP',
        log,
        trace ? { onJoinSent: () => mark('join-sent'), onReleased: () => mark('released') } : {},
        { lastEpoch: previous?.epoch, signal: termination.signal },
      );
    } catch (err) {
      if (!termination.received()) throw err;
      // the launcher copy stops at its next step and removes what it had begun
      await installing;
      throw stopped(`before the group formed: ${flags.envFile} was not written`);
    }
    if (trace) mark('written');
    joined.session.close();
    const failed = await installing;
    if (failed && termination.received()) {
      throw stopped(`while installing the launcher in ${dirname(flags.envFile)}/bin: ${flags.envFile} is written`);
    }
    if (failed) {
      throw new CliError(1, `cannot install the launcher in ${dirname(flags.envFile)}/bin: ${String(failed)}`);
    }
    return 0;
  } finally {
    termination.stop();
  }
}
