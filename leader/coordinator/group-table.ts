/**
 * The coordinator's member table: admission, rank assignment, the start barrier and epochs. No I/O: the gRPC server
 * and the status publisher are thin shells around it, so every admission rule is tested on plain data.
 */
import type { GroupMemberStatus, GroupState, GroupStatus } from '../../src/contract/group-status.js';
import type { EngineEvent, MemberIdentity, MemberInfo, Progress, Release } from '../protocol/messages.js';
import { progressMessage } from '../protocol/progress.js';
import { GoodputLedger } from './goodput.js';

/**
 * Joined: admitted, waiting at the barrier. Released: given the environment of `epoch`. Running: its engine runs.
 * Exited: its engine ended. Lost: gone (missed heartbeats, pod deleted; set by recovery).
 */
export type MemberState = 'Joined' | 'Released' | 'Running' | 'Exited' | 'Lost';

export interface Member {
  /** the pod name: unique in the namespace, stable across container restarts */
  id: string;
  identity: MemberIdentity;
  rank: number;
  /** fixed by the workload (LWS index, ordinal, --rank, the leader); false = picked from the free ranks */
  rankFinal: boolean;
  state: MemberState;
  /** epoch the member was last released into (0 = never) */
  epoch: number;
  joinedAt: number;
  lastSeen: number;
  reason?: string;
}

export type RefusalCode =
  | 'ALREADY_EXISTS'
  | 'OUT_OF_RANGE'
  | 'FAILED_PRECONDITION'
  | 'INVALID_ARGUMENT'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'RESOURCE_EXHAUSTED'
  /** the group has failed: nobody may join it */
  | 'ABORTED';

export class JoinRefused extends Error {
  override name = 'JoinRefused';
  constructor(
    readonly code: RefusalCode,
    message: string,
  ) {
    super(message);
  }
}

export interface GroupTableOptions {
  group: string;
  namespace: string;
  size: number;
  /** the leader pod (where the coordinator runs): always rank 0 */
  leaderPod?: string;
  masterPort: number;
  /** the last epoch ever opened (from the leader pod's annotation), so epochs keep increasing across restarts */
  lastEpoch?: number;
  extraEnv?: Record<string, string>;
  now?: () => number;
}

export interface JoinOutcome {
  member: Member;
  /** the same pod joined before (a retried or restarted bootstrap) */
  rejoined: boolean;
  /** members whose provisional rank moved to make room for a fixed one */
  moved: Member[];
}

/** Pods whose reason for not joining is spelled out; a group of 64 missing everything still gets a short line. */
const NOT_JOINED_SHOWN = 4;

export class GroupTable {
  readonly group: string;
  readonly namespace: string;
  readonly size: number;
  readonly leaderPod: string | undefined;
  private readonly masterPort: number;
  private readonly extraEnv: Record<string, string>;
  private readonly now: () => number;
  private readonly byPod = new Map<string, Member>();
  private epochValue: number;
  /** the highest epoch any member reported having run (a coordinator without an API learns the past from them) */
  private epochFloor = 0;
  private stateValue: GroupState = 'Forming';
  private restartsValue = 0;
  private lastReasonValue: string | undefined;
  private lastChangeValue: number;
  /** what holds up pods of the group, as their status says (the pod watch), by pod: shown for pods not in the group */
  private readonly heldUpByPod = new Map<string, string>();
  /** time per state and recoveries (the goodput metrics and the status annotation) */
  readonly goodput: GoodputLedger;

  constructor(options: GroupTableOptions) {
    if (!Number.isInteger(options.size) || options.size < 1) {
      throw new Error(`group size must be a positive integer, got ${options.size}`);
    }
    this.group = options.group;
    this.namespace = options.namespace;
    this.size = options.size;
    this.leaderPod = options.leaderPod;
    this.masterPort = options.masterPort;
    this.extraEnv = options.extraEnv ?? {};
    this.now = options.now ?? Date.now;
    this.epochValue = options.lastEpoch ?? 0;
    this.lastChangeValue = this.now();
    this.goodput = new GoodputLedger(this.stateValue, this.lastChangeValue);
  }

  get epoch(): number {
    return this.epochValue;
  }

  /** The epoch the next openEpoch gives: above the current one and above every epoch a member reported. */
  get nextEpoch(): number {
    return Math.max(this.epochValue, this.epochFloor) + 1;
  }

  get lastReason(): string | undefined {
    return this.lastReasonValue;
  }

  /**
   * A member says it last ran `epoch` (under this or an earlier coordinator): epochs opened from now on are above it,
   * so a restarted coordinator without an API never hands out an epoch a member already saw.
   */
  noteMemberEpoch(epoch: number): void {
    if (Number.isSafeInteger(epoch) && epoch > this.epochFloor) this.epochFloor = epoch;
  }

  get state(): GroupState {
    return this.stateValue;
  }

  get lastChange(): number {
    return this.lastChangeValue;
  }

  member(id: string): Member | undefined {
    return this.byPod.get(id);
  }

  members(): Member[] {
    return [...this.byPod.values()].sort((a, b) => a.rank - b.rank);
  }

  /** Admits a member or throws JoinRefused with a message that names both pods and where their ranks came from. */
  join(identity: MemberIdentity): JoinOutcome {
    const pod = identity.pod;
    if (!pod) throw new JoinRefused('INVALID_ARGUMENT', 'a member must say which pod it is (--pod-name or POD_NAME)');
    if (this.stateValue === 'Failed') {
      // a recreated pod would otherwise be admitted and wait at a barrier that never opens again
      throw new JoinRefused(
        'ABORTED',
        `group ${this.group} failed${this.lastReasonValue ? `: ${this.lastReasonValue}` : ''}; pod ${pod} cannot join it`,
      );
    }
    if (identity.group && identity.group !== this.group) {
      throw new JoinRefused(
        'FAILED_PRECONDITION',
        `pod ${pod} belongs to group ${identity.group}, but this coordinator runs group ${this.group}`,
      );
    }
    if (identity.namespace && this.namespace && identity.namespace !== this.namespace) {
      throw new JoinRefused(
        'FAILED_PRECONDITION',
        `pod ${pod} is in namespace ${identity.namespace}, but group ${this.group} is in ${this.namespace}`,
      );
    }
    if (identity.groupSize > 0 && identity.groupSize !== this.size) {
      throw new JoinRefused(
        'FAILED_PRECONDITION',
        `pod ${pod} expects a group of ${identity.groupSize} members, but group ${this.group} has ${this.size}: the members and the coordinator disagree on the group size`,
      );
    }
    const wanted = this.wantedRank(identity);
    const existing = this.byPod.get(pod);
    const now = this.now();
    if (existing) {
      if (wanted !== undefined && existing.rankFinal && wanted.rank !== existing.rank) {
        throw new JoinRefused(
          'FAILED_PRECONDITION',
          `pod ${pod} joined before as rank ${existing.rank} and now asks for rank ${wanted.rank} (${wanted.source}): a pod's rank cannot change`,
        );
      }
      existing.identity = identity;
      existing.lastSeen = now;
      if (existing.state === 'Lost' || existing.state === 'Exited') existing.state = 'Joined';
      this.touch(now);
      return { member: existing, rejoined: true, moved: [] };
    }

    const moved: Member[] = [];
    let rank: number;
    let rankFinal: boolean;
    if (wanted !== undefined) {
      const holder = this.holderOf(wanted.rank);
      if (holder?.rankFinal) {
        throw new JoinRefused(
          'ALREADY_EXISTS',
          `rank ${wanted.rank} of group ${this.group} is already held by pod ${holder.id}${describeWhere(holder.identity)}; pod ${pod}${describeWhere(identity)} claims it too (${wanted.source}): two pods of one group have the same rank`,
        );
      }
      if (holder) {
        const free = this.freeRanks().filter((r) => r !== wanted.rank);
        if (free.length === 0) throw this.full(pod);
        holder.rank = free[0]!;
        moved.push(holder);
      }
      rank = wanted.rank;
      rankFinal = true;
    } else {
      const free = this.freeRanks();
      if (free.length === 0) throw this.full(pod);
      rank = free[0]!;
      rankFinal = false;
    }
    const member: Member = {
      id: pod,
      identity,
      rank,
      rankFinal,
      state: 'Joined',
      epoch: 0,
      joinedAt: now,
      lastSeen: now,
    };
    this.byPod.set(pod, member);
    this.heldUpByPod.delete(pod);
    this.touch(now);
    return { member, rejoined: false, moved };
  }

  /** Ranks nobody holds yet, ascending. */
  missingRanks(): number[] {
    const held = new Set([...this.byPod.values()].filter((m) => m.state !== 'Lost').map((m) => m.rank));
    const missing: number[] = [];
    for (let r = 0; r < this.size; r++) if (!held.has(r)) missing.push(r);
    return missing;
  }

  joinedCount(): number {
    return this.size - this.missingRanks().length;
  }

  isComplete(): boolean {
    return this.missingRanks().length === 0;
  }

  /**
   * Opens the next epoch: every member is released into it. Only when the group is whole; returns the epoch.
   * Recovery calls it again after a stop, which counts as a restart.
   */
  openEpoch(reason?: string): number {
    if (!this.isComplete()) {
      throw new Error(`cannot open an epoch: missing ranks ${this.missingRanks().join(', ')}`);
    }
    const now = this.now();
    if (this.epochValue > 0 && this.stateValue !== 'Forming') this.restartsValue++;
    this.epochValue = this.nextEpoch;
    for (const m of this.byPod.values()) {
      m.state = 'Released';
      m.epoch = this.epochValue;
      m.reason = undefined;
    }
    this.stateValue = 'Running';
    this.goodput.transition('Running', now);
    if (reason) this.lastReasonValue = reason;
    this.touch(now);
    return this.epochValue;
  }

  /** Seam for recovery: put the group in a state with a reason (e.g. Recovering after a member was lost). */
  setState(state: GroupState, reason?: string): void {
    const now = this.now();
    this.stateValue = state;
    this.goodput.transition(state, now);
    if (reason) this.lastReasonValue = reason;
    this.touch(now);
  }

  /** Marks a member's state (recovery marks Lost; the server marks heartbeats). */
  setMemberState(id: string, state: MemberState, reason?: string): void {
    const m = this.byPod.get(id);
    if (!m) return;
    m.state = state;
    m.reason = reason;
    this.touch(this.now());
  }

  /** Notes that a member was heard from (heartbeat, attach). */
  seen(id: string): void {
    const m = this.byPod.get(id);
    if (m) m.lastSeen = this.now();
  }

  /** Applies an engine report from a member's run; returns the member, or undefined for an unknown one. */
  recordEngine(id: string, event: EngineEvent): Member | undefined {
    const m = this.byPod.get(id);
    if (!m) return undefined;
    m.lastSeen = this.now();
    if (event.epoch && event.epoch !== this.epochValue) return m; // a report about an older epoch changes nothing
    if (event.state === 'ENGINE_RUNNING' || event.state === 'ENGINE_STARTING') {
      m.state = 'Running';
      m.reason = undefined;
    } else if (event.state === 'ENGINE_EXITED' || event.state === 'ENGINE_STOPPED') {
      m.state = 'Exited';
      m.reason = describeEngineEnd(event);
    }
    this.touch(this.now());
    return m;
  }

  progress(): Progress {
    const missing = this.missingRanks();
    return {
      joined: this.size - missing.length,
      size: this.size,
      missingRanks: missing,
      state: this.stateValue,
      epoch: this.epochValue,
      notJoined: missing.length > 0 ? this.notJoinedText() : '',
    };
  }

  /**
   * Notes what holds up a pod of the group (undefined: nothing known, or the pod is gone), as the pod watch reads its
   * status. It is shown for a pod that has not joined and for a lost member's pod (the one that should bring it back):
   * in progress messages and the group status. Returns whether the note changed.
   */
  noteHeldUp(pod: string, why: string | undefined): boolean {
    const before = this.heldUpByPod.get(pod);
    if (why === undefined) this.heldUpByPod.delete(pod);
    else this.heldUpByPod.set(pod, why);
    return why !== before;
  }

  /** The note of a pod that is not in the group now (not joined, or its member lost), if any. */
  private heldUp(pod: string): string | undefined {
    const member = this.byPod.get(pod);
    return member === undefined || member.state === 'Lost' ? this.heldUpByPod.get(pod) : undefined;
  }

  /** The notes in one line, a few pods at most: it rides on every progress message and member status. */
  private notJoinedText(): string {
    const notes = [...this.heldUpByPod.keys()]
      .sort((a, b) => a.localeCompare(b))
      .flatMap((pod) => {
        const why = this.heldUp(pod);
        return why === undefined ? [] : [`pod ${pod}: ${why}`];
      });
    const shown = notes.slice(0, NOT_JOINED_SHOWN);
    if (notes.length > NOT_JOINED_SHOWN) shown.push(`and ${notes.length - NOT_JOINED_SHOWN} more pods`);
    return shown.join('; ');
  }

  /** What a member receives when the barrier opens. */
  releaseFor(id: string): Release | undefined {
    const m = this.byPod.get(id);
    // while recovering (or failed) the current epoch is being stopped: nobody may start it again
    if (this.stateValue !== 'Running') return undefined;
    if (!m || m.epoch === 0 || m.epoch !== this.epochValue) return undefined;
    return {
      epoch: this.epochValue,
      group: this.group,
      namespace: this.namespace,
      size: this.size,
      rank: m.rank,
      members: this.memberInfos(),
      masterPort: this.masterPort,
      extraEnv: this.extraEnv,
    };
  }

  /** Every member's release at once (one member list for all): what the barrier sends when it opens. */
  releases(): Map<string, Release> {
    const out = new Map<string, Release>();
    if (this.epochValue === 0 || this.stateValue !== 'Running') return out;
    const members = this.memberInfos();
    for (const m of this.byPod.values()) {
      if (m.epoch !== this.epochValue) continue;
      out.set(m.id, {
        epoch: this.epochValue,
        group: this.group,
        namespace: this.namespace,
        size: this.size,
        rank: m.rank,
        members,
        masterPort: this.masterPort,
        extraEnv: this.extraEnv,
      });
    }
    return out;
  }

  memberInfos(): MemberInfo[] {
    return this.members().map((m) => ({
      rank: m.rank,
      pod: m.id,
      ip: m.identity.ip,
      node: m.identity.node,
      hostname: m.identity.hostname,
      gpus: m.identity.devices.filter((d) => d.kind === 'gpu').length,
      tpus: m.identity.devices.filter((d) => d.kind === 'tpu').length,
    }));
  }

  /** The group status JSON the leader pod carries (src/contract/group-status.ts). */
  snapshot(): GroupStatus {
    const missing = this.missingRanks();
    const members: GroupMemberStatus[] = this.members().map((m) => {
      const ready = (m.state === 'Released' || m.state === 'Running') && m.epoch === this.epochValue && m.epoch > 0;
      const status: GroupMemberStatus = { rank: m.rank, pod: m.id, ready };
      if (m.identity.node) status.node = m.identity.node;
      if (m.identity.ip) status.address = m.identity.ip;
      const heldUp = this.heldUp(m.id);
      const reason =
        m.reason !== undefined && heldUp !== undefined
          ? `${m.reason}; pod now: ${heldUp}`
          : (m.reason ?? (m.state === 'Joined' && missing.length > 0 ? progressMessage(this.progress()) : undefined));
      if (!ready && reason) status.reason = reason;
      // released, its engine not reported yet, and its pod says why (an engine image still pulling, or failing to)
      const engineHeldUp = m.state === 'Released' ? this.heldUpByPod.get(m.id) : undefined;
      if (ready && engineHeldUp) status.reason = `engine not started: ${engineHeldUp}`;
      return status;
    });
    const status: GroupStatus = {
      version: 1,
      group: this.group,
      namespace: this.namespace,
      size: this.size,
      epoch: this.epochValue,
      state: this.stateValue,
      members,
      restarts: this.restartsValue,
      lastChange: new Date(this.lastChangeValue).toISOString(),
    };
    if (this.lastReasonValue) status.lastReason = this.lastReasonValue;
    status.goodput = this.goodput.snapshot();
    return status;
  }

  private wantedRank(identity: MemberIdentity): { rank: number; source: string } | undefined {
    const isLeader = this.leaderPod !== undefined && identity.pod === this.leaderPod;
    const hint =
      identity.rankHint !== undefined && identity.rankHint !== null
        ? { rank: identity.rankHint, source: identity.rankSource || 'rank hint' }
        : undefined;
    if (isLeader) {
      if (hint && hint.rank !== 0) {
        throw new JoinRefused(
          'FAILED_PRECONDITION',
          `pod ${identity.pod} runs the coordinator, so it is the leader and rank 0, but it asks for rank ${hint.rank} (${hint.source})`,
        );
      }
      return { rank: 0, source: 'leader pod' };
    }
    if (!hint) return undefined;
    if (!Number.isInteger(hint.rank) || hint.rank < 0 || hint.rank >= this.size) {
      throw new JoinRefused(
        'OUT_OF_RANGE',
        `pod ${identity.pod} asks for rank ${hint.rank} (${hint.source}), but group ${this.group} has ${this.size} members (ranks 0-${this.size - 1})`,
      );
    }
    if (hint.rank === 0 && this.leaderPod !== undefined) {
      throw new JoinRefused(
        'ALREADY_EXISTS',
        `rank 0 of group ${this.group} belongs to the leader pod ${this.leaderPod}; pod ${identity.pod} claims it too (${hint.source})`,
      );
    }
    return hint;
  }

  private holderOf(rank: number): Member | undefined {
    for (const m of this.byPod.values()) if (m.rank === rank && m.state !== 'Lost') return m;
    return undefined;
  }

  private freeRanks(): number[] {
    // rank 0 waits for the leader pod when the coordinator knows it
    return this.missingRanks().filter((r) => !(r === 0 && this.leaderPod !== undefined));
  }

  private full(pod: string): JoinRefused {
    return new JoinRefused(
      'FAILED_PRECONDITION',
      `group ${this.group} is full (${this.size} members: ${this.members()
        .map((m) => `${m.rank}=${m.id}`)
        .join(', ')}); pod ${pod} has no rank left`,
    );
  }

  private touch(now: number): void {
    this.lastChangeValue = now;
  }
}

function describeWhere(identity: MemberIdentity): string {
  const parts = [identity.ip, identity.node ? `node ${identity.node}` : ''].filter((s) => s !== '');
  return parts.length ? ` (${parts.join(', ')})` : '';
}

/** How an engine's end reads in the group status and in recovery reasons: a stop is not an exit with code 0. */
export function describeEngineEnd(event: { state: string; exitCode: number; signal: string; message: string }): string {
  const detail = event.message ? `: ${event.message}` : '';
  if (event.state === 'ENGINE_STOPPED') return `engine stopped${detail}`;
  if (event.signal) return `engine killed by ${event.signal}`;
  return `engine exited with code ${event.exitCode}${detail}`;
}
