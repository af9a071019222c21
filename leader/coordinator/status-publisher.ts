/**
 * Publishes the group status where users and the kubectl plugin look: a JSON annotation on the leader pod, and a
 * lockstep.dev/GroupReady condition on every member pod (usable as a readiness gate). The lockstep.dev/epoch annotation
 * is NOT written here: the recovery manager's epoch store persists the next epoch before it opens, and a late status
 * write of an older snapshot would move it backwards (a coordinator restarting after that would repeat an epoch).
 * Changes are
 * coalesced: one flush at a time, always of the latest state, and only what differs from the last successful write
 * goes to the API, so forming a group of N members costs about 2N + a few writes, not N².
 */
import type { GroupStatus } from '../../src/contract/group-status.js';
import { ANNOTATION_GROUP_STATUS, CONDITION_GROUP_READY } from '../../src/contract/names.js';
import { type PodCondition, sameCondition } from '../../src/kube/pod-condition.js';
import type { Logger } from '../../src/log.js';

/** Where the status goes. The kube implementation patches pods; tests record. */
export interface StatusSink {
  annotateLeader(pod: string, annotations: Record<string, string>): Promise<void>;
  /** 'gone': the pod does not exist (404); the publisher stops writing to it until it is back */
  setCondition(pod: string, condition: PodCondition): Promise<'written' | 'gone'>;
}

/** The GroupReady condition each member pod should carry now. */
function desiredConditions(status: GroupStatus): Map<string, PodCondition> {
  const out = new Map<string, PodCondition>();
  for (const m of status.members) {
    if (m.ready) {
      out.set(m.pod, {
        type: CONDITION_GROUP_READY,
        status: 'True',
        reason: 'GroupReleased',
        message: `group ${status.group} epoch ${status.epoch}: all ${status.size} members released; this pod is rank ${m.rank}`,
      });
    } else if (status.state === 'Forming') {
      // a stable message while forming: a per-join count would rewrite every member on every join
      out.set(m.pod, {
        type: CONDITION_GROUP_READY,
        status: 'False',
        reason: 'WaitingForMembers',
        message: `rank ${m.rank} is waiting at the start barrier of group ${status.group}`,
      });
    } else {
      out.set(m.pod, {
        type: CONDITION_GROUP_READY,
        status: 'False',
        reason:
          status.state === 'Recovering' ? 'Recovering' : status.state === 'Failed' ? 'GroupFailed' : 'MemberNotReady',
        message: m.reason ?? `rank ${m.rank} is not ready in epoch ${status.epoch}`,
      });
    }
  }
  return out;
}

export interface StatusPublisherOptions {
  sink: StatusSink;
  /** the leader pod; no annotation when unknown */
  leaderPod?: string;
  snapshot: () => GroupStatus;
  log: Logger;
  /** parallel condition writes */
  concurrency?: number;
  retryMs?: number;
  now?: () => Date;
}

export class StatusPublisher {
  private readonly written = new Map<string, PodCondition>();
  /** member pods that do not exist now (deleted, or a write found them gone): nothing is written to them */
  private readonly gone = new Set<string>();
  private writtenAnnotation: string | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: StatusPublisherOptions) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  /** Writes what is left, then stops. */
  async stop(): Promise<void> {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await this.running;
    this.stopped = true;
  }

  /** The state changed: flush soon (coalesced with any flush already running). */
  schedule(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.flushLoop().finally(() => {
      this.running = undefined;
    });
  }

  /**
   * The pod is deleted (the pod watch saw it): no condition is written to it until podBack. A deleted member would
   * otherwise draw a failing PATCH on every retry until its pod returns.
   */
  podGone(pod: string): void {
    this.gone.add(pod);
  }

  /** The pod exists (again): a recreated pod carries no condition yet, so it gets the current one. */
  podBack(pod: string): void {
    if (!this.gone.delete(pod)) return;
    this.written.delete(pod);
    this.schedule();
  }

  /** Resolves when everything scheduled so far has been written (or failed). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async flushLoop(): Promise<void> {
    do {
      this.again = false;
      // let a burst of joins land before writing
      await new Promise((r) => setImmediate(r));
      const ok = await this.flush();
      if (!ok && !this.stopped) {
        this.retryTimer = setTimeout(() => this.schedule(), this.options.retryMs ?? 1000);
        this.retryTimer.unref();
        return;
      }
    } while (this.again && !this.stopped);
  }

  private async flush(): Promise<boolean> {
    const { sink, log } = this.options;
    const status = this.options.snapshot();
    let ok = true;
    if (this.options.leaderPod) {
      const json = JSON.stringify(status);
      if (json !== this.writtenAnnotation) {
        try {
          await sink.annotateLeader(this.options.leaderPod, { [ANNOTATION_GROUP_STATUS]: json });
          this.writtenAnnotation = json;
        } catch (err) {
          ok = false;
          log.warn({ err: String(err), pod: this.options.leaderPod }, 'cannot annotate the leader pod; will retry');
        }
      }
    }
    const pending = [...desiredConditions(status)].filter(
      ([pod, c]) => !this.gone.has(pod) && !sameCondition(this.written.get(pod), c),
    );
    const now = (this.options.now ?? (() => new Date()))().toISOString();
    const limit = Math.max(1, this.options.concurrency ?? 8);
    let next = 0;
    const worker = async () => {
      while (next < pending.length) {
        const [pod, condition] = pending[next++]!;
        const before = this.written.get(pod);
        const transition = !before || before.status !== condition.status ? now : before.lastTransitionTime;
        const full = { ...condition, lastTransitionTime: transition ?? now };
        try {
          if ((await sink.setCondition(pod, full)) === 'gone') {
            // no retry: the pod watch (podBack) says when it exists again
            this.gone.add(pod);
            log.info({ pod }, 'the pod is gone: no status is written to it until it is back');
            continue;
          }
          this.written.set(pod, full);
        } catch (err) {
          ok = false;
          log.warn({ err: String(err), pod }, 'cannot set the GroupReady condition; will retry');
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, pending.length) }, worker));
    return ok;
  }
}
