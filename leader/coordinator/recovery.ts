/**
 * Recovery's shell: runs the pure reducer (recovery-reducer.ts) on what the server hooks, the pod watch, a watchdog
 * and a restart timer report, and carries out the actions it returns on the member table, the members' sessions and
 * the API. Every decision lives in the reducer; this module only owns the timers and the I/O.
 */
import type { Logger } from '../../src/log.js';
import type { CoordinatorMessage } from '../protocol/messages.js';
import type { GroupTable } from './group-table.js';
import {
  type GroupView,
  initialRecoveryState,
  type LossKind,
  type RecoveryAction,
  type RecoveryConfig,
  type RecoveryEvent,
  type RecoveryPolicyName,
  type RecoveryState,
  reduce,
} from './recovery-reducer.js';
import { checkRestartPolicy, type RestartPolicyOptions } from './restart-policy.js';
import type { CoordinatorHooks, CoordinatorServer } from './server.js';

export type { LossKind } from './recovery-reducer.js';

/** What recovery does on the API (the kube implementation is pod-actions.ts; absent without an API). */
export interface GroupPodActions {
  deletePod(pod: string, reason: string): Promise<void>;
  event(type: 'Normal' | 'Warning', reason: string, message: string, pod?: string): Promise<void>;
  /** persist the epoch about to open (on the owning workload, so it outlives the leader pod) */
  saveEpoch(epoch: number): Promise<void>;
}

/** Who listens to the group's life (the goodput metrics). */
interface RecoveryObserver {
  /** the group runs again after a recovery of `ms`, begun by a loss of `loss` */
  recovered?(ms: number, loss: LossKind | undefined): void;
}

export interface RecoveryOptions extends RestartPolicyOptions {
  table: GroupTable;
  log: Logger;
  heartbeatTimeoutMs: number;
  /** how long a released member may go without a run session before it is lost (absent or 0: for ever) */
  runAttachTimeoutMs?: number;
  policy: RecoveryPolicyName;
  /** grace period the members are told to give their engines (0 = their own --grace-period) */
  stopGraceMs?: number;
  /** an epoch that ran this long was healthy: the next failure restarts at once (default 10 s) */
  healthyAfterMs?: number;
  actions?: GroupPodActions;
  /** the table changed (the status publisher listens) */
  onChange?: () => void;
  observer?: RecoveryObserver;
  now?: () => number;
}

/** Default for RecoveryOptions.healthyAfterMs. */
const HEALTHY_AFTER_MS = 10_000;

type EventBody = RecoveryEvent extends infer E ? (E extends RecoveryEvent ? Omit<E, 'now'> : never) : never;

export class RecoveryManager {
  private state: RecoveryState = initialRecoveryState();
  private readonly config: RecoveryConfig;
  private server: CoordinatorServer | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;

  constructor(private readonly options: RecoveryOptions) {
    checkRestartPolicy(options);
    this.now = options.now ?? Date.now;
    this.config = {
      heartbeatTimeoutMs: options.heartbeatTimeoutMs,
      runAttachTimeoutMs: options.runAttachTimeoutMs ?? 0,
      policy: options.policy,
      stopGraceMs: options.stopGraceMs ?? 0,
      persistEpochs: options.actions !== undefined,
      healthyAfterMs: options.healthyAfterMs ?? HEALTHY_AFTER_MS,
      budget: options.budget,
      windowMs: options.windowMs,
      backoffInitialMs: options.backoffInitialMs,
      backoffMaxMs: options.backoffMaxMs,
    };
  }

  /** The hooks the server calls. */
  hooks(): CoordinatorHooks {
    return {
      openBarrier: () => this.dispatch({ kind: 'barrier-complete' }),
      onAttach: (m, role, epoch) => this.dispatch({ kind: 'attach', id: m.id, role, epoch }),
      onSessionClosed: (m, role) => this.dispatch({ kind: 'session-closed', id: m.id, role }),
      onEngineEvent: (m, engine) => this.dispatch({ kind: 'engine', id: m.id, engine }),
      onHeartbeat: (m) => this.dispatch({ kind: 'heartbeat', id: m.id }),
      onRejoin: (m, released) => this.dispatch({ kind: 'rejoin', id: m.id, released }),
    };
  }

  start(server: CoordinatorServer): void {
    this.server = server;
    const every = Math.max(25, Math.floor(this.options.heartbeatTimeoutMs / 4));
    this.watchdog = setInterval(() => this.dispatch({ kind: 'tick' }), every);
    this.watchdog.unref();
  }

  stop(): void {
    this.dispatch({ kind: 'shutdown' });
    if (this.watchdog) clearInterval(this.watchdog);
  }

  /** A member is lost. Public: the pod watch reports through here. */
  lose(id: string, reason: string, kind: LossKind): void {
    this.dispatch({ kind: 'loss', id, reason, loss: kind });
  }

  /** The pod watch saw the member's pod (again): a recreated pod clears its absence. */
  podPresent(id: string): void {
    this.dispatch({ kind: 'pod-present', id });
  }

  /** The pod watch read what holds up the member's pod (undefined: nothing any more). */
  podHeldUp(id: string, why: string | undefined): void {
    this.dispatch(why === undefined ? { kind: 'pod-held-up', id } : { kind: 'pod-held-up', id, why });
  }

  /** The reducer's state, for tests and the metrics. */
  get current(): RecoveryState {
    return this.state;
  }

  private view(): GroupView {
    const { table } = this.options;
    return {
      epoch: table.epoch,
      nextEpoch: table.nextEpoch,
      size: table.size,
      lastReason: table.lastReason,
      members: table.members().map((m) => ({ id: m.id, rank: m.rank, state: m.state, lastSeen: m.lastSeen })),
    };
  }

  private dispatch(event: EventBody): void {
    const { state, actions } = reduce(
      this.state,
      { ...event, now: this.now() } as RecoveryEvent,
      this.view(),
      this.config,
    );
    this.state = state;
    this.apply(actions);
  }

  private apply(actions: readonly RecoveryAction[]): void {
    const { table, log } = this.options;
    let changed = false;
    const deletions: Array<{ pod: string; reason: string }> = [];
    // the stops go out before the bookkeeping (table, logs, events): every other engine of the group waits for its
    // stop, and on a loaded host each millisecond of CPU spent here first is a wait of many more
    const ordered = [...actions.filter((a) => a.kind === 'stop-all'), ...actions.filter((a) => a.kind !== 'stop-all')];
    for (const a of ordered) {
      switch (a.kind) {
        case 'set-group-state':
          table.setState(a.state, a.reason);
          changed = true;
          break;
        case 'set-member-state':
          table.setMemberState(a.id, a.state, a.reason);
          changed = true;
          break;
        case 'stop-all':
          this.broadcast({ kind: 'stop', stop: { epoch: a.epoch, reason: a.reason, gracePeriodMs: a.gracePeriodMs } });
          break;
        case 'stop-member':
          this.server?.sendTo(a.id, {
            kind: 'stop',
            stop: { epoch: a.epoch, reason: a.reason, gracePeriodMs: a.gracePeriodMs },
          });
          break;
        case 'progress-all':
          this.broadcast({ kind: 'progress', progress: table.progress() });
          break;
        case 'save-epoch':
          this.save(a.epoch);
          break;
        case 'open-epoch':
          table.openEpoch(a.reason);
          this.server?.broadcastReleases();
          changed = true;
          break;
        case 'delete-pod':
          deletions.push({ pod: a.pod, reason: a.reason });
          break;
        case 'event':
          void this.options.actions?.event(a.type, a.reason, a.message, a.pod).catch(() => undefined);
          break;
        case 'arm-timer':
          this.arm(a.delayMs);
          break;
        case 'cancel-timer':
          if (this.restartTimer) clearTimeout(this.restartTimer);
          this.restartTimer = undefined;
          break;
        case 'log':
          log[a.level](a.fields, a.message);
          break;
        case 'recovered':
          table.goodput.recovered(a.ms, a.loss);
          this.options.observer?.recovered?.(a.ms, a.loss);
          changed = true;
          break;
      }
    }
    if (deletions.length > 0) void this.deletePods(deletions);
    if (changed) this.options.onChange?.();
  }

  private arm(delayMs: number): void {
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      this.dispatch({ kind: 'timer' });
    }, delayMs);
    this.restartTimer.unref();
  }

  private save(epoch: number): void {
    const actions = this.options.actions;
    if (!actions) {
      this.dispatch({ kind: 'epoch-saved', epoch });
      return;
    }
    actions.saveEpoch(epoch).then(
      () => this.dispatch({ kind: 'epoch-saved', epoch }),
      (err: unknown) => this.dispatch({ kind: 'epoch-save-failed', epoch, error: String(err) }),
    );
  }

  /** Deletes pods, the leader's last: deleting it ends this coordinator. */
  private async deletePods(pods: readonly { pod: string; reason: string }[]): Promise<void> {
    const leader = this.options.table.leaderPod;
    await Promise.all(pods.filter((p) => p.pod !== leader).map((p) => this.deletePod(p.pod, p.reason)));
    for (const p of pods.filter((p) => p.pod === leader)) await this.deletePod(p.pod, p.reason);
  }

  private async deletePod(pod: string, reason: string): Promise<void> {
    try {
      await this.options.actions?.deletePod(pod, reason);
      this.options.log.warn({ pod, reason }, 'deleted the pod');
    } catch (err) {
      this.options.log.error({ pod, err: String(err) }, 'cannot delete the pod');
    }
  }

  private broadcast(message: CoordinatorMessage): number {
    let sent = 0;
    for (const m of this.options.table.members()) sent += this.server?.sendTo(m.id, message) ?? 0;
    return sent;
  }
}
