/**
 * The group environment (DESIGN.md "Group environment"): what bootstrap writes and run applies. Pure: a Release in,
 * variables out; and the engine's environment: the container's own variables merged with the group's.
 *
 * Threats to the merge: a Kubernetes service link (`MASTER_PORT=tcp://10.96.0.5:29500`, made for a Service named
 * `master` in the namespace) that nobody set on purpose would point torch at a Service (the group's value wins, and
 * the override is reported); a container variable that names another group instance (a hard-coded MASTER_ADDR in a
 * workload with several replicas) is the user's to fix, so it is kept and reported, never silently replaced.
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

/** A group variable the container's own environment also sets with another value, and which value the engine gets. */
export interface EnvOverride {
  name: string;
  container: string;
  group: string;
  /** whose value the engine gets */
  kept: 'container' | 'group';
  why: string;
}

/** `tcp://10.96.0.5:29500` in `<SERVICE>_PORT`: what the kubelet writes for every Service in the namespace. */
const SERVICE_LINK = /^(tcp|udp|sctp):\/\/[^\s:]+:\d+$/;

/**
 * The engine's environment: the container's variables, then the group's, except where the container sets a group
 * variable itself (the user in the pod spec, or the workload's controller, such as LWS's TPU_WORKER_ID on TPU
 * containers): that value wins, and the difference is returned so `run` can report it. lockstep's own names
 * (`LOCKSTEP_*`) and Kubernetes service links always take the group's value.
 */
export function engineEnvironment(
  container: NodeJS.ProcessEnv,
  group: Readonly<Record<string, string>>,
): { env: NodeJS.ProcessEnv; overrides: EnvOverride[] } {
  const env: NodeJS.ProcessEnv = { ...container, ...group };
  const overrides: EnvOverride[] = [];
  for (const [name, groupValue] of Object.entries(group)) {
    const own = container[name];
    if (own === undefined || own === groupValue || name.startsWith('LOCKSTEP_')) continue;
    if (name.endsWith('_PORT') && SERVICE_LINK.test(own)) {
      overrides.push({
        name,
        container: own,
        group: groupValue,
        kept: 'group',
        why: 'a Kubernetes service link (a Service whose name makes this variable), not a setting',
      });
      continue;
    }
    env[name] = own;
    overrides.push({
      name,
      container: own,
      group: groupValue,
      kept: 'container',
      why: "the container sets it (pod spec, image or the workload's controller); remove it there to get the group's",
    });
  }
  return { env, overrides };
}
