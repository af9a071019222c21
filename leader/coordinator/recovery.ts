/**
 * Recovery: the coordinator's state machine for a group that loses a member.
 *
 *   Forming ──whole──► Running(e) ──member lost──► Recovering(e) ──whole, every engine stopped, backoff over──► Running(e+1)
 *                                                      │ budget exhausted
 *                                                      ▼
 *                                                    Failed (terminal: members' `lockstep run` exit non-zero)
 *
 * A member is lost when its run session breaks, its heartbeats stop (hung), its engine exits with an error, its pod
 * restarts, is deleted, or holds an unhealthy device (the last three come from the pod watch). On a loss every member
 * gets Stop(e); each `lockstep run` stops its engine's whole process tree and waits. The lost member is back when a
 * fresh run session attaches (or, when it only hung, when it is heard from again) and its pod exists; a member whose
 * device is unhealthy has its pod deleted so it is rescheduled away from the device, while healthy pods stay.
 * Epochs are persisted on the API before they open, so they keep increasing across coordinator restarts.
 */
import type { Logger } from '../../src/log.js';
import type { EngineEvent, Role } from '../protocol/messages.js';
import { describeEngineEnd, type GroupTable, type Member } from './group-table.js';
import { RestartPolicy, type RestartPolicyOptions } from './restart-policy.js';
import type { CoordinatorHooks, CoordinatorServer } from './server.js';

export type RecoveryPolicyName = 'InPlace' | 'RecreateGroup';

/** What recovery does on the API (the kube implementation is pod-actions.ts; absent without an API). */
export interface GroupPodActions {
  deletePod(pod: string, reason: string): Promise<void>;
  event(type: 'Normal' | 'Warning', reason: string, message: string, pod?: string): Promise<void>;
  /** persist the epoch about to open (annotation lockstep.dev/epoch on the leader pod) */
  saveEpoch(epoch: number): Promise<void>;
}

export interface RecoveryOptions extends RestartPolicyOptions {
  table: GroupTable;
  log: Logger;
  heartbeatTimeoutMs: number;
  policy: RecoveryPolicyName;
  /** grace period the members are told to give their engines (0 = their own --grace-period) */
  stopGraceMs?: number;
  actions?: GroupPodActions;
  /** the table changed (the status publisher listens) */
  onChange?: () => void;
  now?: () => number;
}

interface Track {
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
  /** its engine is known not to run (reported stopped/exited, or a fresh run attached) */
  stopped: boolean;
  /** its engine finished its job (exit 0): its run ends cleanly, which is no loss */
  finished?: boolean;
  lastLossAt?: number;
}

export type LossKind = 'session' | 'heartbeat' | 'engine' | 'rejoin' | 'pod-deleted' | 'pod-restarted' | 'device';

export class RecoveryManager {
  private readonly tracks = new Map<string, Track>();
  private readonly policy: RestartPolicy;
  private server: CoordinatorServer | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private notBefore = 0;
  private opening = false;
  private recoveringSince = 0;
  private allStoppedLogged = false;
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly options: RecoveryOptions) {
    this.policy = new RestartPolicy(options);
    this.now = options.now ?? Date.now;
  }

  /** The hooks the server calls. */
  hooks(): CoordinatorHooks {
    return {
      openBarrier: () => this.open('group complete'),
      onAttach: (m, role) => this.attached(m, role),
      onSessionClosed: (m, role, clean) => this.sessionClosed(m, role, clean),
      onEngineEvent: (m, e) => this.engineEvent(m, e),
      onHeartbeat: (m) => this.heard(m),
      onRejoin: (m, released) => this.rejoined(m, released),
    };
  }

  start(server: CoordinatorServer): void {
    this.server = server;
    const every = Math.max(25, Math.floor(this.options.heartbeatTimeoutMs / 4));
    this.watchdog = setInterval(() => this.checkHeartbeats(), every);
    this.watchdog.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.restartTimer) clearTimeout(this.restartTimer);
  }

  // ---- signals from the server and the pod watch

  /** A member (or, with no member, the group) is lost. Public: the pod watch reports through here. */
  lose(id: string, reason: string, kind: LossKind): void {
    const { table, log } = this.options;
    const member = table.member(id);
    if (!member || table.state === 'Failed' || this.stopped) return;
    const t = this.track(id);
    const now = this.now();
    if (kind === 'pod-restarted' && t.lastLossAt !== undefined && now - t.lastLossAt < 10_000) {
      // the kubelet reports a container restart after the session already broke: the same loss, seen again
      return;
    }
    if (kind === 'pod-deleted' || kind === 'device') t.podGone = true;
    if (t.lostAt === undefined || kind !== 'heartbeat') {
      t.lostAt = now;
      t.lastLossAt = now;
      t.lostReason = reason;
      t.silent = kind === 'heartbeat';
    }
    if (kind === 'engine') {
      // the member itself is fine (its run reported the exit): only its engine is gone
      t.lostAt = undefined;
      t.stopped = true;
    } else {
      table.setMemberState(id, 'Lost', reason);
    }
    log.warn({ pod: id, rank: member.rank, reason, kind, state: table.state }, 'member lost');
    void this.options.actions?.event('Warning', 'MemberLost', `rank ${member.rank} (pod ${id}): ${reason}`, id);
    if (kind === 'device' && this.options.policy === 'InPlace') {
      // rescheduled away from the device; the other members wait in place
      void this.deletePod(id, reason);
    }
    if (table.state === 'Running') this.beginRecovery(`rank ${member.rank} (pod ${id}): ${reason}`);
    else if (table.state === 'Forming' && kind !== 'engine') this.changed();
    else this.changed();
  }

  /** The pod watch saw the member's pod (again): a recreated pod clears podGone. */
  podPresent(id: string): void {
    const t = this.tracks.get(id);
    if (!t?.podGone) return;
    t.podGone = false;
    const m = this.options.table.member(id);
    // the new pod's member may have joined before the watch brought its pod: it is back now
    if (m && t.lostAt !== undefined && t.runSessions + t.bootSessions > 0) this.back(m, t);
    else this.tryRestart();
  }

  // ---- the state machine

  private beginRecovery(reason: string): void {
    const { table, log } = this.options;
    const epoch = table.epoch;
    const decision = this.policy.decide(this.now());
    if (decision.kind === 'fail') {
      this.fail(`${reason}; ${decision.reason}`);
      return;
    }
    this.recoveringSince = this.now();
    this.allStoppedLogged = false;
    this.notBefore = this.recoveringSince + decision.delayMs;
    table.setState('Recovering', reason);
    for (const m of table.members()) this.track(m.id).stopped = this.track(m.id).stopped && m.state === 'Exited';
    // members lost with their run gone have nothing running that a Stop could reach; a fresh run reaps leftovers
    const sent = this.broadcast({
      kind: 'stop',
      stop: { epoch, reason, gracePeriodMs: this.options.stopGraceMs ?? 0 },
    });
    log.warn(
      { epoch, reason, restart: decision.count, backoffMs: decision.delayMs, stopsSent: sent },
      'group recovering: every member stops its engine',
    );
    void this.options.actions?.event(
      'Warning',
      'GroupRecovering',
      `epoch ${epoch} stopped: ${reason}; restart ${decision.count} in the window, backoff ${decision.delayMs} ms`,
    );
    if (this.options.policy === 'RecreateGroup') void this.recreateGroup(reason);
    this.changed();
    this.armRestartTimer(decision.delayMs);
    this.checkAllStopped();
  }

  private armRestartTimer(delayMs: number): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => this.tryRestart(), delayMs);
    this.restartTimer.unref();
  }

  private fail(reason: string): void {
    const { table, log } = this.options;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    table.setState('Failed', reason);
    log.error({ epoch: table.epoch, reason }, 'group failed');
    this.broadcast({ kind: 'stop', stop: { epoch: table.epoch, reason: `group failed: ${reason}`, gracePeriodMs: 0 } });
    this.broadcast({ kind: 'progress', progress: table.progress() });
    void this.options.actions?.event('Warning', 'GroupFailed', reason);
    this.changed();
  }

  /** Opens the next epoch when the group is whole, every engine is stopped and the backoff is over. */
  private tryRestart(): void {
    const { table } = this.options;
    if (this.stopped || table.state !== 'Recovering' || this.opening) return;
    this.checkAllStopped();
    const wait = this.notBefore - this.now();
    if (wait > 0) {
      // timers may fire a little before the wall clock says the backoff is over: re-arm for what is left, or a whole
      // group with nothing more to report would wait for ever
      this.armRestartTimer(wait);
      return;
    }
    if (!this.ready()) return;
    void this.open(`recovered after ${this.options.table.snapshot().lastReason ?? 'a member loss'}`);
  }

  private ready(): boolean {
    const { table } = this.options;
    if (!table.isComplete()) return false;
    for (const m of table.members()) {
      const t = this.track(m.id);
      if (t.lostAt !== undefined || t.podGone || t.runSessions + t.bootSessions === 0 || !t.stopped) return false;
    }
    return true;
  }

  private async open(reason: string): Promise<void> {
    const { table, log, actions } = this.options;
    if (this.opening) return;
    this.opening = true;
    const next = table.epoch + 1;
    try {
      if (actions) {
        try {
          await actions.saveEpoch(next);
        } catch (err) {
          // an epoch that is not persisted could repeat after a coordinator restart: retry rather than open it
          log.warn({ err: String(err), epoch: next }, 'cannot persist the next epoch; retrying');
          this.opening = false;
          const retry = setTimeout(() => (table.state === 'Forming' ? this.open(reason) : this.tryRestart()), 500);
          retry.unref();
          return;
        }
      }
      if (this.stopped) return;
      const restarting = table.state === 'Recovering';
      if (restarting && !this.ready()) return;
      if (!restarting && !(table.state === 'Forming' && table.isComplete())) return;
      const epoch = table.openEpoch(restarting ? reason : undefined);
      for (const m of table.members()) this.track(m.id).stopped = false;
      this.server?.broadcastReleases();
      log.info(
        restarting
          ? { epoch, size: table.size, recoveryMs: this.now() - this.recoveringSince }
          : { epoch, size: table.size },
        restarting ? 'group running again' : 'group complete: released',
      );
      if (restarting)
        void actions?.event('Normal', 'GroupRunning', `epoch ${epoch}: all ${table.size} members restarted`);
      this.changed();
    } finally {
      this.opening = false;
    }
  }

  private checkAllStopped(): void {
    const { table, log } = this.options;
    if (table.state !== 'Recovering' || this.allStoppedLogged) return;
    if (table.members().every((m) => this.track(m.id).stopped)) {
      this.allStoppedLogged = true;
      log.info({ epoch: table.epoch, stopMs: this.now() - this.recoveringSince }, 'every engine stopped');
    }
  }

  private async recreateGroup(reason: string): Promise<void> {
    const { table } = this.options;
    // the leader last: deleting it ends this coordinator
    const pods = table
      .members()
      .map((m) => m.id)
      .filter((p) => p !== table.leaderPod);
    await Promise.all(pods.map((p) => this.deletePod(p, `recreating the group: ${reason}`)));
    if (table.leaderPod) await this.deletePod(table.leaderPod, `recreating the group: ${reason}`);
  }

  private async deletePod(pod: string, reason: string): Promise<void> {
    try {
      await this.options.actions?.deletePod(pod, reason);
      this.options.log.warn({ pod, reason }, 'deleted the pod');
    } catch (err) {
      this.options.log.error({ pod, err: String(err) }, 'cannot delete the pod');
    }
  }

  // ---- hook handlers

  private attached(m: Member, role: Role): void {
    const t = this.track(m.id);
    if (role === 'ROLE_RUN') t.runSessions++;
    else t.bootSessions++;
    // a run attaches with no engine running: a restarted one reaped what its predecessor left
    t.stopped = true;
    this.back(m, t);
  }

  private sessionClosed(m: Member, role: Role, _clean: boolean): void {
    const t = this.track(m.id);
    if (role !== 'ROLE_RUN') {
      t.bootSessions = Math.max(0, t.bootSessions - 1);
      return;
    }
    t.runSessions = Math.max(0, t.runSessions - 1);
    // a run session outlives its engines across epochs, so only a finished job ends it cleanly
    if (!t.finished && this.options.table.state !== 'Failed') {
      this.lose(m.id, 'its lockstep run session broke (process or container died, or the network failed)', 'session');
    }
  }

  private engineEvent(m: Member, e: EngineEvent): void {
    const { table } = this.options;
    const t = this.track(m.id);
    if (e.state === 'ENGINE_STOPPED' || e.state === 'ENGINE_EXITED') t.stopped = true;
    if (e.state === 'ENGINE_RUNNING' || e.state === 'ENGINE_STARTING') {
      t.stopped = false;
      t.finished = false;
    }
    if (e.state === 'ENGINE_EXITED' && e.exitCode === 0 && e.signal === '') t.finished = true;
    // an exit 0 is a finished job; a stop nobody asked for (SIGTERM to the wrapper: the pod is terminating) is a loss
    const failed =
      (e.state === 'ENGINE_EXITED' && (e.exitCode !== 0 || e.signal !== '')) || e.state === 'ENGINE_STOPPED';
    if (failed && table.state === 'Running' && (!e.epoch || e.epoch === table.epoch)) {
      const why =
        e.state === 'ENGINE_STOPPED'
          ? `engine stopped by its wrapper${e.message ? `: ${e.message}` : ''}`
          : describeEngineEnd(e);
      this.lose(m.id, why, 'engine');
      return;
    }
    this.checkAllStopped();
    this.tryRestart();
  }

  private heard(m: Member): void {
    const t = this.track(m.id);
    if (t.lostAt !== undefined && t.silent) this.back(m, t);
  }

  private rejoined(m: Member, released: boolean): void {
    const { table } = this.options;
    if (released && table.state === 'Running') {
      this.lose(m.id, 'its pod joined again (bootstrap restarted: the pod restarted or was recreated)', 'rejoin');
    }
    // the Join itself is a sign of life; presence still waits for its run session
    const t = this.track(m.id);
    if (t.lostAt !== undefined && !t.podGone) {
      t.lostAt = undefined;
      table.setMemberState(m.id, 'Joined');
      this.changed();
    }
  }

  private back(m: Member, t: Track): void {
    if (t.lostAt !== undefined && !t.podGone) {
      this.options.log.info({ pod: m.id, rank: m.rank, after: t.lostReason }, 'member back');
      t.lostAt = undefined;
      t.silent = false;
      this.options.table.setMemberState(m.id, this.options.table.state === 'Running' ? 'Running' : 'Joined');
      this.changed();
    }
    this.tryRestart();
  }

  private checkHeartbeats(): void {
    const { table, heartbeatTimeoutMs } = this.options;
    if (table.state === 'Forming' || table.state === 'Failed') return;
    const now = this.now();
    for (const m of table.members()) {
      const t = this.track(m.id);
      if (t.runSessions === 0 || (t.lostAt !== undefined && t.silent)) continue;
      const silent = now - m.lastSeen;
      if (silent > heartbeatTimeoutMs) {
        this.lose(
          m.id,
          `no heartbeat for ${silent} ms (timeout ${heartbeatTimeoutMs} ms): the member hangs`,
          'heartbeat',
        );
      }
    }
  }

  private track(id: string): Track {
    let t = this.tracks.get(id);
    if (!t) {
      t = { runSessions: 0, bootSessions: 0, stopped: true };
      this.tracks.set(id, t);
    }
    return t;
  }

  private broadcast(message: Parameters<CoordinatorServer['sendTo']>[1]): number {
    let sent = 0;
    for (const m of this.options.table.members()) sent += this.server?.sendTo(m.id, message) ?? 0;
    return sent;
  }

  private changed(): void {
    this.options.onChange?.();
  }
}
