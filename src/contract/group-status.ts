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
  /** why the member is not ready, when it is not */
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
}

export function parseGroupStatus(text: string | undefined): GroupStatus | undefined {
  if (!text) return undefined;
  try {
    const value = JSON.parse(text) as Partial<GroupStatus>;
    if (typeof value.group !== 'string' || typeof value.epoch !== 'number' || !Array.isArray(value.members)) {
      return undefined;
    }
    return value as GroupStatus;
  } catch {
    return undefined;
  }
}
