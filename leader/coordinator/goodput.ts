/**
 * Group goodput: how much of its life a group spent serving (state Running) rather than forming, recovering or
 * failed, how often it recovered, why, and how long each recovery took. A pure ledger fed by the member table's
 * state changes and the recovery reducer's `recovered` action; the coordinator's `/metrics` and the group status
 * annotation (which `kubectl lockstep group` reads) are views of it.
 *
 * Time is accounted per state between transitions. The annotation carries the totals as of the last transition
 * (`asOf`) and the state since then, so a reader adds the open interval itself: the annotation never needs a write
 * only because time passed.
 */
import type { GroupGoodput, GroupState } from '../../src/contract/group-status.js';
import type { LossKind } from './recovery-reducer.js';

export class GoodputLedger {
  private state: GroupState;
  private since: number;
  private readonly started: number;
  private readonly seconds: Record<GroupState, number> = { Forming: 0, Running: 0, Recovering: 0, Failed: 0 };
  private readonly byLoss = new Map<string, number>();
  private readonly recoveryMs: number[] = [];

  constructor(state: GroupState, at: number) {
    this.state = state;
    this.since = at;
    this.started = at;
  }

  /** The group is in `state` from `at` on (the same state again changes nothing). */
  transition(state: GroupState, at: number): void {
    if (state === this.state) return;
    this.seconds[this.state] += Math.max(0, at - this.since) / 1000;
    this.state = state;
    this.since = Math.max(this.since, at);
  }

  /** A recovery ended (the group runs again) after `ms`, begun by a loss of `loss`. */
  recovered(ms: number, loss: LossKind | undefined): void {
    this.recoveryMs.push(ms);
    const key = loss ?? 'unknown';
    this.byLoss.set(key, (this.byLoss.get(key) ?? 0) + 1);
  }

  /** Seconds per state up to `now` (the open interval included). */
  secondsAt(now: number): Record<GroupState, number> {
    const out = { ...this.seconds };
    out[this.state] += Math.max(0, now - this.since) / 1000;
    return out;
  }

  /** Durations of every recovery so far, in order. */
  get recoveries(): readonly number[] {
    return this.recoveryMs;
  }

  /** Recoveries by the kind of loss that began them. */
  get recoveriesByLoss(): ReadonlyMap<string, number> {
    return this.byLoss;
  }

  /** What the group status annotation carries: totals as of the last transition. */
  snapshot(): GroupGoodput {
    const out: GroupGoodput = {
      since: new Date(this.started).toISOString(),
      asOf: new Date(this.since).toISOString(),
      seconds: { ...this.seconds },
      recoveries: this.recoveryMs.length,
    };
    const last = this.recoveryMs.at(-1);
    if (last !== undefined) out.lastRecoveryMs = last;
    if (this.byLoss.size > 0) out.recoveriesByLoss = Object.fromEntries([...this.byLoss].sort());
    return out;
  }
}
