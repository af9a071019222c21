/**
 * Turns the join flags (shared by bootstrap and run) into the member's identity and the coordinator's address.
 * Reads the pod's small facts (its /etc/hosts, its /dev listing, the token) through parameters.
 */
import { accessSync, constants, readdirSync, readFileSync, type Stats, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, resolve } from 'node:path';
import { errorMessage } from '../../src/errors.js';
import { describeFileType, unreadableFileReason } from '../../src/fs/input-checks.js';
import type { MemberIdentity } from '../protocol/messages.js';
import { jsonPathFor } from './env-file.js';
import { detectDevices, rankHint } from './identity.js';
import { type CoordinatorTarget, locateCoordinator, ownFqdn } from './locate.js';

export interface JoinFlags {
  leaderAddress?: string;
  coordinatorPort: number;
  groupSize?: number;
  rank?: number;
  podName?: string;
  podIp?: string;
  nodeName?: string;
  namespace?: string;
  tokenFile: string;
  envFile: string;
  timeout: number;
  group?: string;
  devices?: string;
  progressInterval: number;
  /** CA of a coordinator serving TLS */
  tlsCa?: string;
}

export interface PodFacts {
  hostsFile?: string;
  /** the pod's hostname (default: the OS's) */
  hostname?: string;
  devRoot?: string;
}

export interface JoinPlan {
  identity: MemberIdentity;
  target: CoordinatorTarget;
  token: string;
  /** the coordinator's CA (`--tls-ca`): connect with TLS */
  ca?: Buffer;
}

/** A join flag that cannot be used (an unreadable `--tls-ca`): a usage error for the command. */
export class JoinFlagError extends Error {
  override name = 'JoinFlagError';
}

/** Reads `--tls-ca` (only when given: plaintext members never touch the file system for it). */
export function readTlsCa(path: string | undefined): Buffer | undefined {
  if (!path) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new JoinFlagError(`cannot read --tls-ca ${path}: ${errorMessage(err)}`, { cause: err });
  }
}

/**
 * The group environment file and its JSON twin must be writable regular files or not exist yet (bootstrap creates
 * them, and `run` joins by itself when they are absent); a directory, a special file, an unreadable file or a parent
 * that cannot hold them is a usage error of its own before anything joins, instead of an EISDIR after the group
 * released this member (bootstrap) or a confusing "cannot read the group environment" (run).
 */
export function checkEnvFile(path: string): void {
  for (const file of [path, jsonPathFor(path)]) {
    const problem = unreadableFileReason(file);
    if (problem?.missing === false) {
      throw new JoinFlagError(
        file === path
          ? `--env-file ${path} ${problem.reason}`
          : `--env-file ${path}: its JSON twin ${file} ${problem.reason}`,
      );
    }
  }
  // the nearest existing ancestor is where bootstrap creates the missing directories
  let dir = dirname(resolve(path));
  for (;;) {
    let info: Stats | undefined;
    try {
      info = statSync(dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR')
        throw new JoinFlagError(`--env-file ${path}: cannot use ${dir} (${code})`);
    }
    if (info) {
      if (!info.isDirectory())
        throw new JoinFlagError(`--env-file ${path}: ${dir} is ${describeFileType(info)}, not a directory`);
      try {
        accessSync(dir, constants.W_OK | constants.X_OK);
      } catch {
        throw new JoinFlagError(`--env-file ${path}: cannot write in ${dir} (permission denied)`);
      }
      return;
    }
    const up = dirname(dir);
    if (up === dir) return;
    dir = up;
  }
}

/**
 * The projected token: a missing file means "no token" (the default path exists only where the pod mounts it), but
 * a directory or an unreadable file is a mistake that would otherwise surface as a confusing refusal: its own error.
 */
function readTokenFile(path: string | undefined): string {
  if (!path) return '';
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return '';
    if (code === 'EISDIR') throw new JoinFlagError(`--token-file ${path} is a directory, not a token file`);
    throw new JoinFlagError(`cannot read --token-file ${path}: ${errorMessage(err)}`);
  }
}

function readOr(path: string | undefined, fallback: string): string {
  if (!path) return fallback;
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return fallback;
  }
}

function listDir(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}

export function planJoin(
  flags: JoinFlags,
  rankFromCli: boolean,
  env: NodeJS.ProcessEnv,
  facts: PodFacts = {},
): JoinPlan {
  const hostsText = readOr(facts.hostsFile ?? '/etc/hosts', '');
  const podName = flags.podName;
  const hint = rankHint(flags.rank, rankFromCli, env, podName);
  const leaderFromLws =
    !!env.LWS_LEADER_ADDRESS && !env.LOCKSTEP_LEADER_ADDRESS && env.LWS_LEADER_ADDRESS === flags.leaderAddress;
  const target = locateCoordinator({
    leaderAddress: flags.leaderAddress,
    leaderAddressSource: leaderFromLws ? 'LWS_LEADER_ADDRESS' : '--leader-address',
    port: flags.coordinatorPort,
    podName,
    hostname: facts.hostname ?? (env.HOSTNAME || hostname()),
    hostsText,
  });
  const identity: MemberIdentity = {
    pod: podName ?? '',
    namespace: flags.namespace ?? '',
    ip: flags.podIp ?? '',
    node: flags.nodeName ?? '',
    rankSource: hint?.source ?? '',
    devices: detectDevices(flags.devices, env, listDir(facts.devRoot ?? '/dev')),
    group: flags.group ?? '',
    groupSize: flags.groupSize ?? 0,
    hostname: (podName && ownFqdn(podName, hostsText)) || '',
  };
  if (hint) identity.rankHint = hint.rank;
  const token = readTokenFile(flags.tokenFile).trim();
  const ca = readTlsCa(flags.tlsCa);
  checkEnvFile(flags.envFile);
  return ca ? { identity, target, token, ca } : { identity, target, token };
}
