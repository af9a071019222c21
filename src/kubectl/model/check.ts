import { count } from '../render/words.js';
import type { DeviceRecord, PoolRecord } from './devices.js';
import type { GroupRecord } from './groups.js';
import type { PodRecord } from './pods.js';

/** `agent`: no agent has published anything in scope, so nothing could be checked */
type ProblemKind = 'agent' | 'device' | 'pool' | 'pod' | 'group';

export interface Problem {
  kind: ProblemKind;
  /** `node/device`, `namespace/pod`, `namespace/group`, `node` for a pool */
  object: string;
  problem: string;
}

export interface CheckInput {
  devices: readonly DeviceRecord[];
  pools: readonly PoolRecord[];
  pods: readonly PodRecord[];
  groups: readonly GroupRecord[];
}

export interface CheckResult {
  problems: Problem[];
  checked: { nodes: number; devices: number; pods: number; groups: number };
}

/**
 * Everything `kubectl lockstep check` calls a problem (an admin's NoSchedule/NoExecute DeviceTaintRule on a device
 * included: the device cannot take new pods). Deliberately not problems: an admin's taint with effect None, a group still Forming (it is
 * starting), a kubelet device status of Unknown (the kubelet's health gate may simply be off).
 */
export function findProblems(input: CheckInput): CheckResult {
  const problems: Problem[] = [];
  for (const d of input.devices) {
    if (d.health === 'Unhealthy') {
      problems.push({
        kind: 'device',
        object: `${d.node}/${d.name}`,
        problem: `unhealthy: ${d.reason ?? 'no reason given'}`,
      });
    } else if (d.health === 'Unknown') {
      problems.push({ kind: 'device', object: `${d.node}/${d.name}`, problem: 'health not published' });
    }
    // an admin's taint keeps new pods off the device (NoExecute also evicts); effect None is only information
    for (const t of d.taints) {
      if (t.rule === undefined || t.effect === 'None') continue;
      const taint = `${t.key}${t.value === undefined ? '' : `=${t.value}`}:${t.effect}`;
      problems.push({
        kind: 'device',
        object: `${d.node}/${d.name}`,
        problem: `tainted by DeviceTaintRule ${t.rule}: ${taint}`,
      });
    }
  }
  for (const p of input.pools) {
    if (p.slices < p.expectedSlices) {
      problems.push({
        kind: 'pool',
        object: p.node,
        problem: `pool ${p.pool} incomplete: ${p.slices} of ${count(p.expectedSlices, 'slice')} at generation ${p.generation}`,
      });
    }
  }
  for (const p of input.pods) {
    const bad = p.allocated.filter((a) => a.health === 'Unhealthy').map((a) => a.device ?? a.resourceID);
    if (bad.length > 0) {
      problems.push({
        kind: 'pod',
        object: `${p.namespace}/${p.name}`,
        problem: `device unhealthy: ${bad.join(', ')}`,
      });
    } else if (p.condition?.status === 'False') {
      const why = p.condition.message ?? p.condition.reason ?? 'no reason given';
      problems.push({ kind: 'pod', object: `${p.namespace}/${p.name}`, problem: `DevicesHealthy=False: ${why}` });
    }
  }
  for (const g of input.groups) {
    const object = `${g.namespace}/${g.name}`;
    const reason = g.lastReason ? `: ${g.lastReason}` : '';
    if (g.state === 'Failed' || g.state === 'Recovering') {
      problems.push({ kind: 'group', object, problem: `${g.state} at epoch ${g.epoch ?? '?'}${reason}` });
    } else if (g.state === 'Running' && g.ready < g.size) {
      problems.push({ kind: 'group', object, problem: `Running with ${g.ready} of ${count(g.size, 'member')} ready` });
    }
  }
  return {
    problems,
    checked: {
      nodes: new Set(input.pools.map((p) => p.node)).size,
      devices: input.devices.length,
      pods: input.pods.length,
      groups: input.groups.length,
    },
  };
}
