/**
 * Recovery decisions as a pure reducer: (state, event, group view) → (state, actions). No timers, no gRPC, no API:
 * the shell in recovery.ts feeds it events (server hooks, the pod watch, its watchdog tick and restart timer, the
 * outcome of persisting an epoch) and carries out the actions it returns, so every decision is tested on plain data.
 *
 *   Forming ──whole──► Running(e) ──member lost──► Recovering(e) ──whole, every engine stopped, backoff over──► Running(e+1)
 *                                                      │ budget exhausted
 *                                                      ▼
 *                                                    Failed (terminal: members' `lockstep run` exit non-zero)
 *
 * A member is lost when its run session breaks, its heartbeats stop (hung), its run does not attach in time after its
 * release (the engine container never started), its engine exits with an error or fails a health check (its run stops
 * it and says why), its pod restarts, is deleted, or holds an unhealthy device (the last three come from the pod
 * watch). On a loss every member gets Stop(e); each `lockstep run` stops its engine's whole process tree and waits.
 * The lost member is back when a fresh run session attaches (or, when it only hung, when it is heard from again) and
 * its pod exists; a member whose device is unhealthy has its pod deleted so it is rescheduled away from the device,
 * while healthy pods stay. With an API, an epoch is persisted before it opens (save-epoch, then epoch-saved), so
 * epochs keep increasing across coordinator restarts.
 *
 * Backoff: the first failure after a healthy run (an epoch that ran `healthyAfterMs`) restarts at once; failures in a
 * row wait longer (restart-policy.ts).
 */
import type { GroupState } from '../../src/contract/group-status.js';
import { formatDuration } from '../../src/text/duration.js';
import type { EngineEvent, Role } from '../protocol/messages.js';
import { describeEngineEnd, type MemberState } from './group-table.js';
import { decideRestart, type RestartPolicyOptions } from './restart-policy.js';

export type RecoveryPolicyName = 'InPlace' | 'RecreateGroup';

export type LossKind =
  | 'session'
  | 'heartbeat'
  | 'handover'
  | 'engine'
  | 'rejoin'
  | 'pod-deleted'
  | 'pod-restarted'
  | 'device';

/** Every way a member can be lost, for tables of tests and the restarts-by-reason metric. */
export const LOSS_KINDS: readonly LossKind[] = [
  'session',
  'heartbeat',
  'handover',
  'engine',
  'rejoin',
  'pod-deleted',
  'pod-restarted',
  'device',
];

export interface RecoveryConfig extends RestartPolicyOptions {
  heartbeatTimeoutMs: number;
  /**
   * How long a released member may go without a run session before it is lost (0 = for ever). Between bootstrap's
   * exit and the engine container's `lockstep run` a member has no session, so heartbeats cannot notice an engine
   * container that never starts (an image that cannot be pulled, a command that fails before `lockstep run`).
   */
  runAttachTimeoutMs: number;
  policy: RecoveryPolicyName;
  /** grace period the members are told to give their engines (0 = their own --grace-period) */
  stopGraceMs: number;
  /** epochs are persisted (on the API) before they open: open waits for epoch-saved */
  persistEpochs: boolean;
  /** an epoch that ran this long was healthy: the failure after it restarts without backoff */
  healthyAfterMs: number;
}

/** What recovery knows of one member beyond the table. */
interface MemberTrack {
  runSessions: number;
  /** a (re)joining pod's bootstrap waits at the barrier on its own session: it is there, its engine is not */
  bootSessions: number;
  /** when the member was lost (undefined = present) */
  lostAt?: number;
  lostReason?: string;
  /** lost because it went silent: hearing from it again brings it back */
  silent?: boolean;
  /** its pod is deleted and not back yet */
  podGone?: boolean;
  /** released while none of its run sessions was attached, at this time: its run has until the deadline to attach */
  awaitingRunSince?: number;
  /** what holds up its pod, as the pod's status says (the pod watch): an engine container waiting to start */
  podHeldUp?: string;
  /** its engine is known not to run (reported stopped/exited, or a fresh run attached) */
  stopped: boolean;
  /** its engine finished its job (exit 0): its run ends cleanly, which is no loss */
  finished?: boolean;
  lastLossAt?: number;
}

export interface RecoveryState {
  phase: GroupState;
  tracks: Readonly<Record<string, MemberTrack>>;
  /** restart times inside the window */
  restarts: readonly number[];
  /** failures in a row without a healthy epoch between them */
  streak: number;
  /** when the current epoch opened */
  runningSince?: number;
  recoveringSince?: number;
  /** the restart may not happen before this (backoff) */
  notBefore: number;
  /** the epoch being persisted before it opens */
  opening?: number;
  /** the last epoch persisted: it may open */
  saved?: number;
  allStoppedLogged: boolean;
  /** why the current recovery began (kept for the metric) */
  recoveryKind?: LossKind;
  shutdown: boolean;
}

/** The member table as the reducer sees it (read-only; the shell builds it from GroupTable). */
export interface GroupView {
  epoch: number;
  /** the epoch the next open would get (above every epoch a member reported) */
  nextEpoch: number;
  /** members the group needs (ranks 0..size-1) */
  size: number;
  lastReason?: string;
  members: readonly { id: string; rank: number; state: MemberState; lastSeen: number }[];
}

export type RecoveryEvent = { now: number } & (
  | { kind: 'barrier-complete' }
  /** `epoch`: the epoch the attaching session already runs (0 = none) */
  | { kind: 'attach'; id: string; role: Role; epoch: number }
  | { kind: 'session-closed'; id: string; role: Role }
  | { kind: 'engine'; id: string; engine: EngineEvent }
  | { kind: 'heartbeat'; id: string }
  | { kind: 'rejoin'; id: string; released: boolean }
  | { kind: 'loss'; id: string; reason: string; loss: LossKind }
  | { kind: 'pod-present'; id: string }
  /** what holds up the member's pod changed (undefined: nothing) */
  | { kind: 'pod-held-up'; id: string; why?: string }
  /** the watchdog: every quarter heartbeat timeout */
  | { kind: 'tick' }
  /** the restart timer the reducer armed fired */
  | { kind: 'timer' }
  | { kind: 'epoch-saved'; epoch: number }
  | { kind: 'epoch-save-failed'; epoch: number; error: string }
  | { kind: 'shutdown' }
);

type LogLevel = 'info' | 'warn' | 'error';

export type RecoveryAction =
  | { kind: 'set-group-state'; state: GroupState; reason: string }
  | { kind: 'set-member-state'; id: string; state: MemberState; reason?: string }
  | { kind: 'stop-all'; epoch: number; reason: string; gracePeriodMs: number }
  /** the same Stop for one member (its run attached after the stop-all went out) */
  | { kind: 'stop-member'; id: string; epoch: number; reason: string; gracePeriodMs: number }
  | { kind: 'progress-all' }
  | { kind: 'save-epoch'; epoch: number }
  /** open the next epoch and send every member its release */
  | { kind: 'open-epoch'; reason?: string; restart: boolean }
  | { kind: 'delete-pod'; pod: string; reason: string }
  | { kind: 'event'; type: 'Normal' | 'Warning'; reason: string; message: string; pod?: string }
  /** (re)arm the one restart timer */
  | { kind: 'arm-timer'; delayMs: number }
  | { kind: 'cancel-timer' }
  | { kind: 'log'; level: LogLevel; fields: Record<string, unknown>; message: string }
  /** the group runs again (goodput metrics) */
  | { kind: 'recovered'; ms: number; loss?: LossKind };

export interface Transition {
  state: RecoveryState;
  actions: RecoveryAction[];
}

/** Retry delay after the epoch could not be persisted. */
const SAVE_RETRY_MS = 500;
/** A container restart the kubelet reports this soon after a loss of the same member is that loss, seen again. */
const SAME_LOSS_MS = 10_000;

export function initialRecoveryState(): RecoveryState {
  return {
    phase: 'Forming',
    tracks: {},
    restarts: [],
    streak: 0,
    notBefore: 0,
    allStoppedLogged: false,
    shutdown: false,
  };
}

/**
 * The reducer. Pure: the state and view are not modified; a new state comes back with the actions to carry out, in
 * order.
 */
export function reduce(
  state: RecoveryState,
  event: RecoveryEvent,
  group: GroupView,
  config: RecoveryConfig,
): Transition {
  const r = new Reduction(state, group, config, event.now);
  r.handle(event);
  return { state: r.state, actions: r.actions };
}

/** One reduction: a private working copy of the state and the actions it collects. */
class Reduction {
  state: RecoveryState;
  readonly actions: RecoveryAction[] = [];
  private readonly tracks: Record<string, MemberTrack>;
  /** the members as they will be once this reduction's set-member-state actions are applied */
  private readonly members: GroupView['members'][number][];

  constructor(
    previous: RecoveryState,
    private readonly group: GroupView,
    private readonly config: RecoveryConfig,
    private readonly now: number,
  ) {
    this.tracks = Object.fromEntries(Object.entries(previous.tracks).map(([id, t]) => [id, { ...t }]));
    this.state = { ...previous, tracks: this.tracks };
    this.members = group.members.map((m) => ({ ...m }));
  }

  /** Every rank is held by a member that is not lost (GroupTable.isComplete, after this reduction's changes). */
  private complete(): boolean {
    const held = new Set(this.members.filter((m) => m.state !== 'Lost').map((m) => m.rank));
    for (let r = 0; r < this.group.size; r++) if (!held.has(r)) return false;
    return true;
  }

  private setMemberState(id: string, state: MemberState, reason?: string): void {
    const m = this.members.find((x) => x.id === id);
    if (m) m.state = state;
    this.actions.push(
      reason === undefined ? { kind: 'set-member-state', id, state } : { kind: 'set-member-state', id, state, reason },
    );
  }

  handle(event: RecoveryEvent): void {
    if (this.state.shutdown) return;
    switch (event.kind) {
      case 'barrier-complete':
        this.open('group complete', false);
        return;
      case 'attach':
        this.attached(event.id, event.role, event.epoch);
        return;
      case 'session-closed':
        this.sessionClosed(event.id, event.role);
        return;
      case 'engine':
        this.engineEvent(event.id, event.engine);
        return;
      case 'heartbeat': {
        const t = this.tracks[event.id];
        if (t && t.lostAt !== undefined && t.silent) this.back(event.id);
        return;
      }
      case 'rejoin':
        this.rejoined(event.id, event.released);
        return;
      case 'loss':
        this.lose(event.id, event.reason, event.loss);
        return;
      case 'pod-present':
        this.podPresent(event.id);
        return;
      case 'pod-held-up':
        if (this.member(event.id)) this.track(event.id).podHeldUp = event.why;
        return;
      case 'tick':
        this.checkHeartbeats();
        this.checkHandovers();
        return;
      case 'timer':
        if (this.state.phase === 'Forming') {
          if (this.complete()) this.open('group complete', false);
        } else this.tryRestart();
        return;
      case 'epoch-saved':
        this.saved(event.epoch);
        return;
      case 'epoch-save-failed':
        if (this.state.opening !== event.epoch) return;
        this.state.opening = undefined;
        // an epoch that is not persisted could repeat after a coordinator restart: retry rather than open it
        this.log('warn', { err: event.error, epoch: event.epoch }, 'cannot persist the next epoch; retrying');
        this.actions.push({ kind: 'arm-timer', delayMs: SAVE_RETRY_MS });
        return;
      case 'shutdown':
        this.state.shutdown = true;
        this.actions.push({ kind: 'cancel-timer' });
        return;
    }
  }

  // ---- losses

  private lose(id: string, reason: string, kind: LossKind): void {
    const member = this.member(id);
    if (!member || this.state.phase === 'Failed') return;
    const t = this.track(id);
    if (kind === 'pod-restarted' && t.lastLossAt !== undefined && this.now - t.lastLossAt < SAME_LOSS_MS) {
      // the kubelet reports a container restart after the session already broke: the same loss, seen again
      return;
    }
    if (kind === 'pod-deleted' || kind === 'device') t.podGone = true;
    // whatever happens next, the member comes back through a new release: the wait for its run starts again there
    t.awaitingRunSince = undefined;
    if (t.lostAt === undefined || kind !== 'heartbeat') {
      t.lostAt = this.now;
      t.lastLossAt = this.now;
      t.lostReason = reason;
      t.silent = kind === 'heartbeat';
    }
    if (kind === 'engine') {
      // the member itself is fine (its run reported the exit): only its engine is gone
      t.lostAt = undefined;
      t.stopped = true;
    } else {
      this.setMemberState(id, 'Lost', reason);
    }
    this.log('warn', { pod: id, rank: member.rank, reason, kind, state: this.state.phase }, 'member lost');
    this.actions.push({
      kind: 'event',
      type: 'Warning',
      reason: 'MemberLost',
      message: `rank ${member.rank} (pod ${id}): ${reason}`,
      pod: id,
    });
    if (kind === 'device' && this.config.policy === 'InPlace') {
      // rescheduled away from the device; the other members wait in place
      this.actions.push({ kind: 'delete-pod', pod: id, reason });
    }
    if (this.state.phase === 'Running') this.beginRecovery(`rank ${member.rank} (pod ${id}): ${reason}`, kind);
    else if (this.state.phase === 'Recovering') this.tryRestart();
  }

  private beginRecovery(reason: string, kind: LossKind): void {
    const s = this.state;
    const healthy = s.runningSince !== undefined && this.now - s.runningSince >= this.config.healthyAfterMs;
    const streak = healthy ? 1 : s.streak + 1;
    const { decision, history } = decideRestart(s.restarts, this.now, streak, this.config);
    s.restarts = history;
    s.streak = streak;
    if (decision.kind === 'fail') {
      this.fail(`${reason}; ${decision.reason}`);
      return;
    }
    const epoch = this.group.epoch;
    s.phase = 'Recovering';
    s.recoveringSince = this.now;
    s.recoveryKind = kind;
    s.allStoppedLogged = false;
    s.notBefore = this.now + decision.delayMs;
    this.actions.push({ kind: 'set-group-state', state: 'Recovering', reason });
    for (const m of this.members) {
      const t = this.track(m.id);
      t.stopped = t.stopped && m.state === 'Exited';
    }
    // members lost with their run gone have nothing running that a Stop could reach; a fresh run reaps leftovers
    this.actions.push({ kind: 'stop-all', epoch, reason, gracePeriodMs: this.config.stopGraceMs });
    this.log(
      'warn',
      { epoch, reason, restart: decision.count, streak, backoffMs: decision.delayMs },
      'group recovering: every member stops its engine',
    );
    this.actions.push({
      kind: 'event',
      type: 'Warning',
      reason: 'GroupRecovering',
      message: `epoch ${epoch} stopped: ${reason}; restart ${decision.count} in the window, backoff ${decision.delayMs} ms`,
    });
    if (this.config.policy === 'RecreateGroup') {
      // the leader last: deleting it ends this coordinator
      const leaderFirst = [...this.members].sort((a, b) => b.rank - a.rank);
      for (const m of leaderFirst) {
        this.actions.push({ kind: 'delete-pod', pod: m.id, reason: `recreating the group: ${reason}` });
      }
    }
    if (decision.delayMs > 0) this.actions.push({ kind: 'arm-timer', delayMs: decision.delayMs });
    this.checkAllStopped();
    this.tryRestart();
  }

  private fail(reason: string): void {
    const epoch = this.group.epoch;
    this.state.phase = 'Failed';
    this.actions.push({ kind: 'cancel-timer' });
    this.actions.push({ kind: 'set-group-state', state: 'Failed', reason });
    this.log('error', { epoch, reason }, 'group failed');
    this.actions.push({ kind: 'stop-all', epoch, reason: `group failed: ${reason}`, gracePeriodMs: 0 });
    this.actions.push({ kind: 'progress-all' });
    this.actions.push({ kind: 'event', type: 'Warning', reason: 'GroupFailed', message: reason });
  }

  // ---- opening epochs

  /** Opens the next epoch when the group is whole, every engine is stopped and the backoff is over. */
  private tryRestart(): void {
    const s = this.state;
    if (s.phase !== 'Recovering' || s.opening !== undefined) return;
    this.checkAllStopped();
    const wait = s.notBefore - this.now;
    if (wait > 0) {
      // timers may fire a little before the wall clock says the backoff is over: re-arm for what is left, or a whole
      // group with nothing more to report would wait for ever
      this.actions.push({ kind: 'arm-timer', delayMs: wait });
      return;
    }
    if (!this.ready()) return;
    this.open(`recovered after ${this.group.lastReason ?? 'a member loss'}`, true);
  }

  private ready(): boolean {
    if (!this.complete()) return false;
    for (const m of this.members) {
      const t = this.track(m.id);
      if (t.lostAt !== undefined || t.podGone || t.runSessions + t.bootSessions === 0 || !t.stopped) return false;
    }
    return true;
  }

  private open(reason: string, restart: boolean): void {
    const s = this.state;
    if (s.opening !== undefined) return;
    if (restart ? !(s.phase === 'Recovering' && this.ready()) : !(s.phase === 'Forming' && this.complete())) {
      return;
    }
    if (this.config.persistEpochs && s.saved !== this.group.nextEpoch) {
      s.opening = this.group.nextEpoch;
      this.actions.push({ kind: 'save-epoch', epoch: this.group.nextEpoch });
      return;
    }
    this.opened(reason, restart);
  }

  private saved(epoch: number): void {
    const s = this.state;
    if (s.opening !== epoch) return;
    s.opening = undefined;
    s.saved = epoch;
    if (s.phase === 'Forming') this.open('group complete', false);
    else if (s.phase === 'Recovering') this.tryRestart();
  }

  private opened(reason: string, restart: boolean): void {
    const s = this.state;
    const epoch = this.group.nextEpoch;
    const recoveryMs = restart && s.recoveringSince !== undefined ? this.now - s.recoveringSince : undefined;
    this.actions.push({ kind: 'cancel-timer' });
    this.actions.push(restart ? { kind: 'open-epoch', reason, restart } : { kind: 'open-epoch', restart });
    s.phase = 'Running';
    s.runningSince = this.now;
    for (const m of this.members) {
      const t = this.track(m.id);
      t.stopped = false;
      t.awaitingRunSince = t.runSessions === 0 ? this.now : undefined;
    }
    if (restart) {
      this.log('info', { epoch, size: this.members.length, recoveryMs }, 'group running again');
      this.actions.push({
        kind: 'event',
        type: 'Normal',
        reason: 'GroupRunning',
        message: `epoch ${epoch}: all ${this.members.length} members restarted`,
      });
      this.actions.push({ kind: 'recovered', ms: recoveryMs ?? 0, loss: s.recoveryKind });
      s.recoveringSince = undefined;
      s.recoveryKind = undefined;
    } else {
      this.log('info', { epoch, size: this.members.length }, 'group complete: released');
    }
  }

  private checkAllStopped(): void {
    const s = this.state;
    if (s.phase !== 'Recovering' || s.allStoppedLogged) return;
    if (this.members.every((m) => this.track(m.id).stopped)) {
      s.allStoppedLogged = true;
      const stopMs = s.recoveringSince !== undefined ? this.now - s.recoveringSince : undefined;
      this.log('info', { epoch: this.group.epoch, stopMs }, 'every engine stopped');
    }
  }

  // ---- signals from the server

  /**
   * A session attached. A run attaches with no engine running (a restarted one reaped what its predecessor left),
   * except one that comes with the release of the epoch being stopped: it joined (bootstrap's session, or its own
   * rejoin), got the release, and attached its run session after the Stop of that epoch went out, so it starts that
   * epoch's engine and never heard the Stop. It gets the Stop now, and the restart waits for its answer (without
   * this, a member crashing at once while another hands over from bootstrap to run left the group recovering for
   * ever, the other's engine running).
   */
  private attached(id: string, role: Role, epoch: number): void {
    if (!this.member(id)) return;
    const t = this.track(id);
    if (role === 'ROLE_RUN') {
      t.runSessions++;
      t.awaitingRunSince = undefined;
    } else t.bootSessions++;
    const missedStop =
      role === 'ROLE_RUN' && this.state.phase === 'Recovering' && epoch > 0 && epoch === this.group.epoch;
    t.stopped = !missedStop;
    if (missedStop) {
      this.actions.push({
        kind: 'stop-member',
        id,
        epoch,
        reason: this.group.lastReason ?? 'the group is recovering',
        gracePeriodMs: this.config.stopGraceMs,
      });
    }
    this.back(id);
  }

  private sessionClosed(id: string, role: Role): void {
    if (!this.member(id)) return;
    const t = this.track(id);
    if (role !== 'ROLE_RUN') {
      t.bootSessions = Math.max(0, t.bootSessions - 1);
      return;
    }
    t.runSessions = Math.max(0, t.runSessions - 1);
    // a run session outlives its engines across epochs, so only a finished job ends it cleanly
    if (!t.finished && this.state.phase !== 'Failed') {
      this.lose(id, 'its lockstep run session broke (process or container died, or the network failed)', 'session');
    }
  }

  private engineEvent(id: string, e: EngineEvent): void {
    if (!this.member(id)) return;
    const t = this.track(id);
    if (e.state === 'ENGINE_STOPPED' || e.state === 'ENGINE_EXITED') t.stopped = true;
    if (e.state === 'ENGINE_RUNNING' || e.state === 'ENGINE_STARTING') {
      t.stopped = false;
      t.finished = false;
    }
    if (e.state === 'ENGINE_EXITED' && e.exitCode === 0 && e.signal === '') t.finished = true;
    // an exit 0 is a finished job; a stop nobody asked for (SIGTERM to the wrapper, a failed health check) is a loss
    const failed =
      (e.state === 'ENGINE_EXITED' && (e.exitCode !== 0 || e.signal !== '')) || e.state === 'ENGINE_STOPPED';
    if (failed && this.state.phase === 'Running' && (!e.epoch || e.epoch === this.group.epoch)) {
      const why =
        e.state === 'ENGINE_STOPPED'
          ? `engine stopped by its wrapper${e.message ? `: ${e.message}` : ''}`
          : describeEngineEnd(e);
      this.lose(id, why, 'engine');
      return;
    }
    this.checkAllStopped();
    this.tryRestart();
  }

  private rejoined(id: string, released: boolean): void {
    if (!this.member(id)) return;
    if (released && this.state.phase === 'Running') {
      this.lose(id, 'its pod joined again (bootstrap restarted: the pod restarted or was recreated)', 'rejoin');
    }
    // the Join itself is a sign of life; presence still waits for its run session
    const t = this.track(id);
    if (t.lostAt !== undefined && !t.podGone) {
      t.lostAt = undefined;
      this.setMemberState(id, 'Joined');
    }
  }

  private podPresent(id: string): void {
    const t = this.tracks[id];
    if (!t?.podGone) return;
    t.podGone = false;
    // the new pod's member may have joined before the watch brought its pod: it is back now
    if (t.lostAt !== undefined && t.runSessions + t.bootSessions > 0) this.back(id);
    else this.tryRestart();
  }

  private back(id: string): void {
    const t = this.track(id);
    if (t.lostAt !== undefined && !t.podGone) {
      this.log('info', { pod: id, rank: this.member(id)?.rank, after: t.lostReason }, 'member back');
      t.lostAt = undefined;
      t.silent = false;
      this.setMemberState(id, this.state.phase === 'Running' ? 'Running' : 'Joined');
    }
    this.tryRestart();
  }

  private checkHeartbeats(): void {
    if (this.state.phase === 'Forming' || this.state.phase === 'Failed') return;
    const timeout = this.config.heartbeatTimeoutMs;
    for (const m of this.members) {
      const t = this.track(m.id);
      if (t.runSessions === 0 || (t.lostAt !== undefined && t.silent)) continue;
      const silent = this.now - m.lastSeen;
      if (silent > timeout) {
        this.lose(m.id, `no heartbeat for ${silent} ms (timeout ${timeout} ms): the member hangs`, 'heartbeat');
      }
    }
  }

  /**
   * A released member whose run has not attached by the deadline is lost: its engine container never started (or its
   * command failed before `lockstep run`). Without this a group would wait for that engine for ever, shown Running.
   * The deadline is generous by default: an engine image of many gigabytes is pulled only after bootstrap exits.
   */
  private checkHandovers(): void {
    const limit = this.config.runAttachTimeoutMs;
    if (limit <= 0 || this.state.phase === 'Forming' || this.state.phase === 'Failed') return;
    for (const m of this.members) {
      const t = this.track(m.id);
      if (t.awaitingRunSince === undefined || t.lostAt !== undefined) continue;
      if (this.now - t.awaitingRunSince <= limit) continue;
      const why = t.podHeldUp ?? 'image pull, or a command that fails before lockstep run';
      this.lose(
        m.id,
        `its lockstep run did not attach within ${formatDuration(limit)} of its release: the engine container did not start (${why})`,
        'handover',
      );
    }
  }

  // ---- helpers

  private member(id: string) {
    return this.members.find((m) => m.id === id);
  }

  private track(id: string): MemberTrack {
    let t = this.tracks[id];
    if (!t) {
      t = { runSessions: 0, bootSessions: 0, stopped: true };
      this.tracks[id] = t;
    }
    return t;
  }

  private log(level: LogLevel, fields: Record<string, unknown>, message: string): void {
    this.actions.push({ kind: 'log', level, fields, message });
  }
}
