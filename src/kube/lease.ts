import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import { silentLogger } from '../log.js';
import { Backoff, sleep } from './backoff.js';
import { ApiError, isAlreadyExists, isConflict, isNotFound, type KubeClient } from './client.js';
import { LEASES, resourcePath } from './resources.js';
import type { KubeObject } from './types.js';

/**
 * One holder at a time for a piece of work, through a coordination.k8s.io/v1 Lease (the mechanism client-go's leader
 * election and the kubelet's node heartbeat use). The node agent takes one Lease per node and driver so that, while a
 * DaemonSet rollout runs the old and the new agent of a node side by side (`maxSurge: 1`), only one of them writes the
 * node's ResourceSlices: any difference in their view (a flag, a health reading) would otherwise have each overwrite
 * the other's slice as fast as the API answers.
 *
 * Handover: the holder renews every `renewIntervalMs`; a candidate takes the Lease when it is free (no holder: the
 * previous holder released it on stop) or when its record has not changed for `leaseDurationMs` as measured on the
 * candidate's own clock (never by comparing its clock with the holder's `renewTime`, so clock skew between nodes does
 * not matter). On a rollout the old agent releases when the DaemonSet stops it, which is after the new pod is ready;
 * the new one then takes over within one `retryIntervalMs`. A holder stops counting itself the holder
 * `renewDeadlineMs` after its last successful renewal, before any candidate may take over.
 *
 * Threats (test/kube/lease.test.ts has one test each):
 * - two candidates race to create or take the same Lease: the API's create/update preconditions (AlreadyExists,
 *   resourceVersion 409) let exactly one win; the loser re-reads and waits;
 * - a holder that crashed without releasing: candidates take over after the lease duration;
 * - a holder cut off from the API: it stops holding after the renew deadline, before the others take over;
 * - the same pod restarted (same identity): it takes its own Lease back at once instead of waiting for it to expire;
 * - no RBAC for Leases (403), no Lease API or no such namespace (404): the work runs unguarded, with a warning,
 *   rather than not at all;
 * - a holder identity or Lease name from flags: the name is built to be a valid DNS subdomain (hashed when too long).
 */

export interface Lease extends KubeObject {
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/** What a candidate does next with the Lease it just read. */
export type LeaseStep = 'create' | 'renew' | 'take' | 'wait';

/** A candidate's memory of the Lease record: when (on its own clock) it last saw the record change. */
export interface LeaseObservation {
  resourceVersion: string;
  observedAt: number;
}

/**
 * The decision of one tick, pure: `lease` as read (undefined: it does not exist), what this candidate saw before, who
 * it is and what time its clock says.
 */
export function decideLeaseStep(
  lease: Lease | undefined,
  seen: LeaseObservation | undefined,
  identity: string,
  now: number,
): LeaseStep {
  if (!lease) return 'create';
  const holder = lease.spec?.holderIdentity ?? '';
  if (holder === identity) return 'renew';
  if (holder === '') return 'take';
  const durationMs = Math.max(1, lease.spec?.leaseDurationSeconds ?? 0) * 1000;
  // a record this candidate has not seen before starts its own clock: someone is renewing it
  if (!seen || seen.resourceVersion !== lease.metadata.resourceVersion) return 'wait';
  return now - seen.observedAt >= durationMs ? 'take' : 'wait';
}

/**
 * The Lease name for a node's slices of one driver: `<driver>.<node>` (both are DNS subdomains, so the join is one),
 * or the driver and a hash of the node name when that is longer than a name may be.
 */
export function nodeLeaseName(driver: string, nodeName: string): string {
  const plain = `${driver}.${nodeName}`;
  if (plain.length <= 253) return plain;
  return `${driver}.${createHash('sha256').update(nodeName).digest('hex').slice(0, 32)}`;
}

/** Lease times are MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

export interface LeaseHolderOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  /** unique per process that may hold it; a restarted container of the same pod should keep it (the pod UID) */
  identity: string;
  /** how long a record that stopped changing is still honoured (default 40 s, the kubelet's node lease) */
  leaseDurationMs?: number;
  /** the holder's renewal period (default a quarter of the duration) */
  renewIntervalMs?: number;
  /** how long after its last renewal a holder still counts itself the holder (default half the duration) */
  renewDeadlineMs?: number;
  /** a candidate's polling period (default 2 s): the handover delay after a release */
  retryIntervalMs?: number;
  log?: Logger;
  now?: () => number;
}

export class LeaseHolder {
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly durationMs: number;
  private readonly path: string;
  private seen: LeaseObservation | undefined;
  private lease: Lease | undefined;
  private lastRenewedAt: number | undefined;
  private unguarded = false;
  private holdingNow = false;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<(holding: boolean) => void>();
  private stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private readonly backoff = new Backoff({ initialMs: 500, maxMs: 10_000, jitter: 0.5 });

  constructor(private readonly options: LeaseHolderOptions) {
    this.log = options.log ?? silentLogger();
    this.now = options.now ?? Date.now;
    this.durationMs = options.leaseDurationMs ?? 40_000;
    this.path = resourcePath(LEASES, { namespace: options.namespace, name: options.name });
  }

  /** Whether this process holds the Lease now (or runs unguarded because the Lease API refused it). */
  get holding(): boolean {
    return this.holdingNow;
  }

  /** Called with the new state each time holding changes. */
  subscribe(listener: (holding: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    if (this.loop) return;
    this.stopping = new AbortController();
    this.loop = this.run();
  }

  /** Stops renewing and, when holding, releases the Lease so a candidate takes over at its next poll. */
  async stop(): Promise<void> {
    if (!this.loop) return;
    this.stopping.abort();
    await this.loop;
    this.loop = undefined;
    clearTimeout(this.deadlineTimer);
    const wasHolding = this.holdingNow && !this.unguarded;
    this.setHolding(false);
    if (wasHolding && this.lease) await this.release(this.lease);
  }

  private async run(): Promise<void> {
    const renewMs = this.options.renewIntervalMs ?? Math.max(1000, Math.floor(this.durationMs / 4));
    const retryMs = this.options.retryIntervalMs ?? 2000;
    while (!this.stopping.signal.aborted) {
      let waitMs: number;
      try {
        await this.tick();
        this.backoff.reset();
        waitMs = this.holdingNow && !this.unguarded ? renewMs : retryMs;
        if (this.unguarded) waitMs = Math.max(retryMs, renewMs);
      } catch (err) {
        waitMs = Math.min(retryMs, this.backoff.next());
        if (!isConflict(err)) this.log.warn({ err: errorMessage(err), lease: this.options.name }, 'lease call failed');
      }
      await sleep(waitMs, this.stopping.signal);
    }
  }

  private async tick(): Promise<void> {
    let lease: Lease | undefined;
    try {
      lease = await this.options.client.get<Lease>(this.path);
    } catch (err) {
      if (this.refusedByApi(err)) return;
      if (!isNotFound(err)) throw err;
    }
    // the Lease API answers again with a Lease: from now on publish only while holding it (a missing Lease in a
    // missing namespace keeps this process unguarded without flapping between holding and not)
    if (this.unguarded && lease) {
      this.unguarded = false;
      this.log.info({ lease: this.options.name }, 'the Lease API answers again: publishing only while holding it');
      this.setHolding(false);
    }
    const now = this.now();
    if (lease && lease.metadata.resourceVersion !== this.seen?.resourceVersion) {
      this.seen = { resourceVersion: lease.metadata.resourceVersion ?? '', observedAt: now };
    }
    this.lease = lease;
    const step = decideLeaseStep(lease, this.seen, this.options.identity, now);
    if (step === 'wait') {
      this.setHolding(false);
      return;
    }
    const spec = {
      holderIdentity: this.options.identity,
      leaseDurationSeconds: Math.max(1, Math.ceil(this.durationMs / 1000)),
      renewTime: microTime(now),
    };
    try {
      let written: Lease;
      if (step === 'create') {
        written = await this.options.client.create<Lease>(resourcePath(LEASES, { namespace: this.options.namespace }), {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.options.name, namespace: this.options.namespace },
          spec: { ...spec, acquireTime: microTime(now), leaseTransitions: 0 },
        });
      } else {
        const taking = step === 'take';
        // the resourceVersion makes a racing candidate's write fail (409) instead of both believing they hold it
        written = await this.options.client.replace<Lease>(this.path, {
          ...lease,
          spec: {
            ...lease?.spec,
            ...spec,
            ...(taking
              ? { acquireTime: microTime(now), leaseTransitions: (lease?.spec?.leaseTransitions ?? 0) + 1 }
              : {}),
          },
        });
      }
      this.lease = written;
      this.unguarded = false;
      this.seen = { resourceVersion: written.metadata.resourceVersion ?? '', observedAt: now };
      this.renewed(now);
      if (step !== 'renew') this.log.info({ lease: this.options.name }, 'took the lease: publishing for this node');
    } catch (err) {
      if (this.refusedByApi(err)) return;
      // creating in a namespace that does not exist (a wrong --lease-namespace): a Lease can never be held there
      if (step === 'create' && isNotFound(err)) return this.runUnguarded(err);
      if (isConflict(err) || isAlreadyExists(err)) {
        // someone else wrote first: read again at the next tick and decide from what they wrote
        this.seen = undefined;
        this.setHolding(false);
        return;
      }
      throw err;
    }
  }

  /** 403 (no RBAC for Leases) or 404 on the collection (no Lease API): run unguarded rather than never publish. */
  private refusedByApi(err: unknown): boolean {
    const forbidden = err instanceof ApiError && err.status === 403;
    const noApi = err instanceof ApiError && err.status === 404 && err.reason !== 'NotFound';
    if (!forbidden && !noApi) return false;
    this.runUnguarded(err);
    return true;
  }

  private runUnguarded(err: unknown): void {
    if (!this.unguarded) {
      this.log.warn(
        { err: errorMessage(err), lease: this.options.name },
        'cannot use the Lease: publishing without one (two agents of this node may overwrite each other’s slices)',
      );
    }
    this.unguarded = true;
    clearTimeout(this.deadlineTimer);
    this.setHolding(true);
  }

  private renewed(at: number): void {
    this.lastRenewedAt = at;
    this.setHolding(true);
    clearTimeout(this.deadlineTimer);
    const deadlineMs = this.options.renewDeadlineMs ?? Math.floor(this.durationMs / 2);
    this.deadlineTimer = setTimeout(() => {
      if (this.lastRenewedAt === at) {
        this.log.warn({ lease: this.options.name }, 'could not renew the lease in time: stopped publishing');
        this.setHolding(false);
      }
    }, deadlineMs);
    this.deadlineTimer.unref?.();
  }

  private async release(lease: Lease): Promise<void> {
    try {
      // client-go's ReleaseOnCancel: no holder, and a 1 s duration for candidates that still see the old record
      const { holderIdentity: _holder, ...rest } = lease.spec ?? {};
      await this.options.client.replace<Lease>(this.path, {
        ...lease,
        spec: { ...rest, leaseDurationSeconds: 1, renewTime: microTime(this.now()) },
      });
      this.log.info({ lease: this.options.name }, 'released the lease');
    } catch (err) {
      // someone took it already, or the API is gone: the lease expires on its own
      this.log.warn({ err: errorMessage(err), lease: this.options.name }, 'cannot release the lease');
    }
  }

  private setHolding(holding: boolean): void {
    if (holding === this.holdingNow) return;
    this.holdingNow = holding;
    for (const listener of this.listeners) listener(holding);
  }
}
