/**
 * The group status the coordinator publishes as JSON in the leader pod's `lockstep.dev/group-status` annotation and
 * the kubectl plugin reads. Additive changes only: readers ignore fields they do not know.
 */
export type GroupState = 'Forming' | 'Running' | 'Recovering' | 'Failed';

export interface GroupMemberStatus {
  rank: number;
  pod: string;
  node?: string;
  address?: string;
  /** joined and heartbeating in the current epoch */
  ready: boolean;
  /** false when a device the member holds is unhealthy */
  devicesHealthy?: boolean;
  /**
   * why the member is not ready, when it is not; for a ready member released into the epoch whose engine has not
   * started, what its pod says holds it up (`engine not started: container engine waiting: ImagePullBackOff (…)`)
   */
  reason?: string;
}

export interface GroupStatus {
  /** schema version of this object */
  version: 1;
  group: string;
  namespace: string;
  size: number;
  epoch: number;
  state: GroupState;
  members: GroupMemberStatus[];
  /** group restarts (epochs after the first) */
  restarts: number;
  lastReason?: string;
  /** RFC 3339 */
  lastChange: string;
  /** time per state and recoveries (leader/coordinator/goodput.ts); absent from coordinators that predate it */
  goodput?: GroupGoodput;
}

export const GROUP_STATES: readonly GroupState[] = ['Forming', 'Running', 'Recovering', 'Failed'];

/**
 * Group goodput as of the group's last state change: a reader adds the time since `asOf` to the current state
 * (servingFraction), so the annotation is not rewritten only because time passed.
 */
export interface GroupGoodput {
  /** RFC 3339: when this coordinator began accounting (its start) */
  since: string;
  /** RFC 3339: the moment `seconds` runs to (the last state change) */
  asOf: string;
  /** seconds spent in each state from `since` to `asOf` */
  seconds: Partial<Record<GroupState, number>>;
  /** recoveries completed (loss → the group released into a new epoch) */
  recoveries: number;
  /** the last recovery's duration */
  lastRecoveryMs?: number;
  /** recoveries by the kind of loss that began them (session, heartbeat, engine, pod-deleted, device, …) */
  recoveriesByLoss?: Record<string, number>;
}

/** The share of the time since `goodput.since` that the group spent Running, at `now`, given its current state. */
export function servingFraction(goodput: GroupGoodput, state: GroupState, now: number): number | undefined {
  const open = Math.max(0, now - Date.parse(goodput.asOf)) / 1000;
  const seconds: Partial<Record<GroupState, number>> = { ...goodput.seconds };
  seconds[state] = (seconds[state] ?? 0) + open;
  const total = GROUP_STATES.reduce((sum, s) => sum + (seconds[s] ?? 0), 0);
  return total > 0 ? (seconds.Running ?? 0) / total : undefined;
}

export function parseGroupStatus(text: string | undefined): GroupStatus | undefined {
  if (!text) return undefined;
  try {
    const value = JSON.parse(text) as Partial<GroupStatus>;
    if (typeof value.group !== 'string' || typeof value.epoch !== 'number' || !Array.isArray(value.members)) {
      return undefined;
    }
    const status = value as GroupStatus;
    // anyone who may patch the leader pod may write this annotation: a malformed goodput is dropped, not trusted
    const goodput = readGoodput(value.goodput);
    if (goodput) status.goodput = goodput;
    else delete status.goodput;
    return status;
  } catch {
    return undefined;
  }
}

const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

/** A goodput object as published, or undefined when any field has the wrong shape. */
export function readGoodput(value: unknown): GroupGoodput | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const g = value as Record<string, unknown>;
  if (typeof g.since !== 'string' || Number.isNaN(Date.parse(g.since))) return undefined;
  if (typeof g.asOf !== 'string' || Number.isNaN(Date.parse(g.asOf))) return undefined;
  if (!finite(g.recoveries) || typeof g.seconds !== 'object' || g.seconds === null) return undefined;
  const seconds: Partial<Record<GroupState, number>> = {};
  for (const state of GROUP_STATES) {
    const v = (g.seconds as Record<string, unknown>)[state];
    if (v === undefined) continue;
    if (!finite(v)) return undefined;
    seconds[state] = v;
  }
  const out: GroupGoodput = { since: g.since, asOf: g.asOf, seconds, recoveries: g.recoveries };
  if (g.lastRecoveryMs !== undefined) {
    if (!finite(g.lastRecoveryMs)) return undefined;
    out.lastRecoveryMs = g.lastRecoveryMs;
  }
  if (g.recoveriesByLoss !== undefined) {
    if (typeof g.recoveriesByLoss !== 'object' || g.recoveriesByLoss === null) return undefined;
    const byLoss: Record<string, number> = {};
    for (const [k, v] of Object.entries(g.recoveriesByLoss)) {
      if (!finite(v)) return undefined;
      byLoss[k] = v;
    }
    out.recoveriesByLoss = byLoss;
  }
  return out;
}
