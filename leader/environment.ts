/**
 * The group environment (DESIGN.md "Group environment"): what bootstrap writes and run applies. Pure: a Release in,
 * variables out.
 */
import { enginesEnvironment, type GroupView } from './engines/index.js';
import type { Release } from './protocol/messages.js';

export const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** One member's view of a released group. */
export function groupView(release: Release): GroupView {
  const members = [...release.members].sort((a, b) => a.rank - b.rank);
  const self = members.find((m) => m.rank === release.rank);
  const leader = members.find((m) => m.rank === 0);
  const address = (m: (typeof members)[number] | undefined) => (m ? m.ip || m.hostname : '');
  return {
    group: release.group,
    namespace: release.namespace,
    size: release.size,
    rank: release.rank,
    epoch: release.epoch,
    members,
    leaderAddress: address(leader),
    masterPort: release.masterPort,
    selfAddress: address(self),
    gpus: members.reduce((n, m) => n + m.gpus, 0),
  };
}

export function groupEnvironment(release: Release): Record<string, string> {
  const view = groupView(release);
  const env: Record<string, string> = {
    LOCKSTEP_GROUP: view.group,
    LOCKSTEP_GROUP_SIZE: String(view.size),
    LOCKSTEP_RANK: String(view.rank),
    LOCKSTEP_LEADER_ADDRESS: view.leaderAddress,
    LOCKSTEP_EPOCH: String(view.epoch),
    LOCKSTEP_MEMBERS: view.members.map((m) => m.ip || m.hostname).join(','),
    ...enginesEnvironment(view),
  };
  if (view.gpus > 0) env.LOCKSTEP_GROUP_GPUS = String(view.gpus);
  // the coordinator's extras come last but never replace the group's own names
  for (const [name, value] of Object.entries(release.extraEnv ?? {})) {
    if (ENV_NAME.test(name) && !(name in env)) env[name] = value;
  }
  return env;
}
