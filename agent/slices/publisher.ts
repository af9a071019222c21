import type { Logger } from 'pino';
import { ANNOTATION_PUBLISHED_AT, ATTR, isLockstepTaintKey, TAINT_KEYS } from '../../src/contract/names.js';
import { errorMessage } from '../../src/errors.js';
import { Backoff, type BackoffOptions, sleep } from '../../src/kube/backoff.js';
import { ApiError, isConflict, isNotFound, type KubeClient, retryDelay } from '../../src/kube/client.js';
import { Informer, objectKey } from '../../src/kube/informer.js';
import { NODES, RESOURCE_SLICES, resourcePath } from '../../src/kube/resources.js';
import type { DeviceTaintEffect, KubeList, Node, ResourceSlice } from '../../src/kube/types.js';
import { silentLogger } from '../../src/log.js';
import type { Inventory } from '../discovery/inventory.js';
import type { DeviceHealthBoard } from '../health/board.js';
import { buildDevices, buildSlice, type HealthSince, hasTaints, maxDevicesPerSlice, splitDevices } from './builder.js';
import { checkPool } from './compare.js';

/**
 * The publisher keeps the API's ResourceSlices for this node equal to the inventory plus live health. It is
 * level-triggered: every trigger (new inventory, a health change, any event on its own slices, a failed write) asks
 * for one reconcile, reconciles never overlap, and a reconcile that finds the API already right writes nothing.
 */

export type TaintMode = 'auto' | 'on' | 'off';

export interface PublisherOptions {
  client: KubeClient;
  driver: string;
  nodeName: string;
  /** effect of the unhealthy taint */
  taintEffect?: DeviceTaintEffect;
  /**
   * whether to write device taints. `auto`: write them until the API server shows it drops them (a write's answer
   * comes back without the taints we sent; servers without the DRADeviceTaints gate do that silently), then stop.
   */
  taints?: TaintMode;
  /** publish numaNode in its list form, with these lists (the agent's last NUMA scan); left out: the int form */
  numaNodeLists?: () => ReadonlyMap<number, readonly number[]>;
  agentVersion?: string;
  /** collects bursts of triggers (a health storm, a watch replay) into one reconcile */
  coalesceMs?: number;
  backoff?: BackoffOptions;
  log?: Logger;
  now?: () => number;
  random?: () => number;
  /**
   * Only write while this says so (the node's Lease, src/kube/lease.ts): during a rollout two agents of one node run
   * side by side, and the one not holding keeps its view current without writing. Left out, always write.
   */
  gate?: PublishGate;
  /** informer tuning (tests, benchmarks) */
  watchTimeoutSeconds?: number;
  /**
   * After a (re)start, a device the monitors have not judged yet keeps the health the API already shows, for this
   * long: otherwise a restarted agent would publish the scan's optimistic view and then the monitors' verdict again,
   * two writes for nothing. Default 10 s.
   */
  healthGraceMs?: number;
}

/** Whether this process may write the node's slices now, and news of when that changes. */
interface PublishGate {
  readonly holding: boolean;
  subscribe(listener: (holding: boolean) => void): () => void;
}

export interface PublisherStats {
  reconciles: number;
  creates: number;
  updates: number;
  deletes: number;
  conflicts: number;
  errors: number;
  /** reconciles that found the API right and wrote nothing */
  noops: number;
  /** reconciles skipped because another agent of this node holds the Lease */
  standby: number;
}

export class SlicePublisher {
  private readonly client: KubeClient;
  private readonly log: Logger;
  private readonly informer: Informer<ResourceSlice>;
  private readonly backoff: Backoff;
  private readonly now: () => number;
  private inventory: Inventory | undefined;
  private board: DeviceHealthBoard | undefined;
  private unsubscribe: (() => void)[] = [];
  private nodeUid: string | undefined;
  private nodeLookedUpAt = 0;
  private taintsKept: boolean | undefined;
  private lastGeneration = 0;
  /** UIDs this process deleted: stale watch events for them must not bring them back into view */
  private readonly deleted = new Set<string>();
  /** resourceVersion of each slice as this process last wrote it */
  private readonly ownWrites = new Map<string, string>();
  private needFreshList = false;
  private running = false;
  private stopping = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  private busy: Promise<void> | undefined;
  private dirty = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private idleWaiters: (() => void)[] = [];
  private converged = false;
  private startedAt = 0;
  private booting: Promise<void> | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  readonly stats: PublisherStats = {
    reconciles: 0,
    creates: 0,
    updates: 0,
    deletes: 0,
    conflicts: 0,
    errors: 0,
    noops: 0,
    standby: 0,
  };

  constructor(private readonly options: PublisherOptions) {
    this.client = options.client;
    this.log = options.log ?? silentLogger();
    this.now = options.now ?? Date.now;
    this.backoff = new Backoff(
      options.backoff ?? { initialMs: 100, maxMs: 30_000, jitter: 0.5, random: options.random },
    );
    this.taintsKept = options.taints === 'on' ? true : options.taints === 'off' ? false : undefined;
    this.informer = new Informer<ResourceSlice>(this.client, {
      type: RESOURCE_SLICES,
      // only this node's slices of this driver: the watch stays small on a 1,000-node cluster
      fieldSelector: `spec.nodeName=${options.nodeName},spec.driver=${options.driver}`,
      log: this.log,
      backoff: options.backoff,
      watchTimeoutSeconds: options.watchTimeoutSeconds,
      random: options.random,
    });
  }

  /** The newest scan; publishing follows when it changes what the API should hold. */
  setInventory(inventory: Inventory): void {
    this.inventory = inventory;
    this.trigger();
  }

  /** Live health: a change on the board republishes within a few ms (taint budget: ≤ 250 ms p99 end to end). */
  attachBoard(board: DeviceHealthBoard): void {
    this.board = board;
    if (this.running) this.unsubscribe.push(board.subscribe(() => this.trigger()));
  }

  /**
   * Returns at once: the Node lookup, the first list and the first publish go on in the background (with retries),
   * so an API outage at boot never holds up the managers after this one (the kubelet plugin, health).
   * whenConverged() says when the API matches.
   */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.stopping = new AbortController();
    if (this.board) this.unsubscribe.push(this.board.subscribe(() => this.trigger()));
    // taking the Lease over: publish this process's view at once (it may differ from the last holder's)
    if (this.options.gate) this.unsubscribe.push(this.options.gate.subscribe((holding) => holding && this.trigger(0)));
    this.unsubscribe.push(
      this.informer.on((type, slice) => {
        // the echo of this process's own write changes nothing: skip the reconcile it would cost
        if (type !== 'delete' && this.ownWrites.get(slice.metadata.name ?? '') === slice.metadata.resourceVersion)
          return;
        this.trigger();
      }),
    );
    this.unsubscribe.push(this.informer.onResync(() => this.deleted.clear()));
    this.startedAt = this.now();
    if (this.board) {
      // when the grace ends, devices the monitors never judged fall back to the scan's reading
      this.graceTimer = setTimeout(() => this.trigger(), this.options.healthGraceMs ?? 10_000);
      this.graceTimer.unref?.();
    }
    this.booting = this.boot();
  }

  private async boot(): Promise<void> {
    await this.lookUpNode();
    if (!this.running) return;
    this.informer.start();
    await Promise.race([this.informer.synced(), new Promise((r) => this.stopping.signal.addEventListener('abort', r))]);
    this.trigger(0);
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.stopping.abort();
    for (const u of this.unsubscribe.splice(0)) u();
    clearTimeout(this.timer);
    clearTimeout(this.retryTimer);
    clearTimeout(this.graceTimer);
    this.timer = undefined;
    this.retryTimer = undefined;
    await this.booting;
    await this.busy;
    await this.informer.stop();
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Resolves when the API matches the node (the last reconcile wrote or found everything right). For tests. */
  whenConverged(): Promise<void> {
    if (this.converged && !this.dirty && !this.busy && !this.timer && !this.retryTimer) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** The slices of this node in the publisher's view of the API. */
  slices(): ResourceSlice[] {
    return this.informer.list().filter((s) => !this.deleted.has(s.metadata.uid ?? ''));
  }

  /** Whether the API server keeps device taints (undefined: not known yet). */
  get taintsSupported(): boolean | undefined {
    return this.taintsKept;
  }

  /**
   * Removes every slice of this node and driver (`lockstep agent --uninstall`). Works without start(); returns how
   * many it deleted.
   */
  async uninstall(): Promise<number> {
    const path = resourcePath(RESOURCE_SLICES);
    const list = await this.client.get<KubeList<ResourceSlice>>(path, {
      fieldSelector: `spec.nodeName=${this.options.nodeName},spec.driver=${this.options.driver}`,
    });
    let removed = 0;
    for (const slice of list.items) {
      try {
        await this.client.delete(resourcePath(RESOURCE_SLICES, { name: slice.metadata.name }));
        removed++;
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return removed;
  }

  private async lookUpNode(): Promise<void> {
    const backoff = new Backoff({ initialMs: 200, maxMs: 10_000, jitter: 0.5, random: this.options.random });
    while (this.running) {
      try {
        this.nodeLookedUpAt = this.now();
        const node = await this.client.get<Node>(resourcePath(NODES, { name: this.options.nodeName }));
        this.nodeUid = node.metadata.uid;
        return;
      } catch (err) {
        if (isNotFound(err)) {
          // slices still work without the owner; they just do not disappear with the Node
          this.log.warn({ node: this.options.nodeName }, 'node not found in the API; slices get no owner reference');
          return;
        }
        const delay = backoff.next();
        this.log.warn({ err: message(err), retryInMs: delay }, 'cannot read the Node; retrying');
        await sleep(delay, this.stopping.signal);
      }
    }
  }

  /**
   * Our slices vanished (kubelet wipe, or the Node was deleted and garbage collection took them): a re-registered
   * Node has a new UID, and slices owned by the old one would be collected again at once.
   */
  private async refreshNodeUid(): Promise<void> {
    this.nodeLookedUpAt = this.now();
    try {
      const node = await this.client.get<Node>(resourcePath(NODES, { name: this.options.nodeName }));
      this.nodeUid = node.metadata.uid;
    } catch (err) {
      if (isNotFound(err)) this.nodeUid = undefined;
      // anything else: keep what we had, the write decides
    }
  }

  private trigger(delay = this.options.coalesceMs ?? 2): void {
    if (!this.running) return;
    this.converged = false;
    this.dirty = true;
    if (this.busy || this.timer || this.retryTimer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.busy = this.runReconciles().finally(() => {
        this.busy = undefined;
        // a trigger that arrived while the last reconcile was finishing still needs its run
        if (this.dirty && !this.retryTimer) this.trigger(0);
        else if (this.converged) for (const w of this.idleWaiters.splice(0)) w();
      });
    }, delay);
  }

  private async runReconciles(): Promise<void> {
    while (this.dirty && this.running) {
      this.dirty = false;
      if (!this.inventory || !this.informer.isSynced) {
        this.converged = false;
        return;
      }
      if (this.options.gate && !this.options.gate.holding) {
        // the other agent of this node publishes; this one follows the API through its watch and waits its turn
        this.stats.standby++;
        this.converged = false;
        return;
      }
      try {
        await this.reconcile(this.inventory);
        this.backoff.reset();
      } catch (err) {
        this.stats.errors++;
        this.needFreshList = true;
        // conflicts back off like any failure: a fast retry loses every race against a writer that never stops
        const delay = retryDelay(err, this.backoff.next());
        if (isConflict(err)) this.stats.conflicts++;
        this.log.warn({ err: message(err), retryInMs: delay }, 'publishing slices failed; retrying');
        this.dirty = true;
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.trigger(0);
        }, delay);
        return;
      }
    }
    if (!this.dirty && this.running) this.converged = true;
  }

  private async deleteSlices(slices: readonly ResourceSlice[]): Promise<void> {
    for (const surplus of slices) {
      if (surplus.metadata.uid && this.deleted.has(surplus.metadata.uid)) continue;
      try {
        // the UID precondition makes sure a slice of the same name created since is left alone
        await this.client.delete(resourcePath(RESOURCE_SLICES, { name: surplus.metadata.name }), undefined, {
          apiVersion: 'v1',
          kind: 'DeleteOptions',
          preconditions: { uid: surplus.metadata.uid },
        });
      } catch (err) {
        if (!isNotFound(err) && !(err instanceof ApiError && err.status === 409)) throw err;
      }
      this.stats.deletes++;
      this.ownWrites.delete(surplus.metadata.name ?? '');
      if (surplus.metadata.uid) this.deleted.add(surplus.metadata.uid);
      this.informer.forget(objectKey(surplus));
    }
  }

  private healthOf = (device: string): HealthSince | undefined => {
    const entry = this.board?.get(device);
    const live = entry ? { state: entry.state, reason: entry.reason, since: entry.since } : undefined;
    // a device only tracked so far (healthy by default, no monitor has spoken) is not judged yet
    const judged = entry && !(entry.state !== 'unhealthy' && (entry.source ?? 'discovery') === 'discovery');
    if (!judged && this.board && this.now() - this.startedAt < (this.options.healthGraceMs ?? 10_000)) {
      return publishedHealth(this.slices(), device) ?? live;
    }
    return live;
  };

  private async currentSlices(): Promise<ResourceSlice[]> {
    if (this.needFreshList) {
      // after a failed write the watch may not have shown what the server did (a create whose answer was lost):
      // read the truth once before deciding again
      const list = await this.client.get<KubeList<ResourceSlice>>(resourcePath(RESOURCE_SLICES), {
        fieldSelector: `spec.nodeName=${this.options.nodeName},spec.driver=${this.options.driver}`,
      });
      const present = new Set(list.items.map(objectKey));
      for (const item of list.items) this.informer.remember(item);
      for (const cached of this.informer.list())
        if (!present.has(objectKey(cached))) this.informer.forget(objectKey(cached));
      this.needFreshList = false;
    }
    return this.slices();
  }

  private async reconcile(inventory: Inventory): Promise<void> {
    this.stats.reconciles++;
    const existing = (await this.currentSlices()).sort((a, b) =>
      (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '', 'en'),
    );
    if (this.taintsKept === undefined) this.taintsKept = inferTaintSupport(existing);
    if (
      (existing.length === 0 && this.lastGeneration > 0) ||
      (this.nodeUid === undefined && this.now() - this.nodeLookedUpAt > 60_000)
    ) {
      await this.refreshNodeUid();
    }
    const taintEffect = this.taintsKept === false ? undefined : (this.options.taintEffect ?? 'NoSchedule');
    const { devices, problems } = buildDevices(inventory, {
      healthOf: this.healthOf,
      taintEffect,
      now: this.now,
      ...(this.options.numaNodeLists ? { numaNodeLists: this.options.numaNodeLists() } : {}),
    });
    if (problems.length > 0) this.log.debug({ problems }, 'devices left out of the slices');
    const identity = {
      driver: this.options.driver,
      nodeName: this.options.nodeName,
      nodeUid: this.nodeUid,
      agentVersion: this.options.agentVersion,
    };
    const maxPerSlice = maxDevicesPerSlice(devices);
    const check = checkPool(existing, { ...identity, devices, maxPerSlice });
    if (check.upToDate) {
      this.lastGeneration = Math.max(this.lastGeneration, check.generation);
      if (check.obsolete.length === 0) {
        this.stats.noops++;
        return;
      }
      // the newest generation is complete and right: older slices (left by an interrupted update) just go
      await this.deleteSlices(check.obsolete);
      return;
    }
    const generation = Math.max(check.generation, this.lastGeneration) + 1;
    const chunks = splitDevices(devices, maxPerSlice);
    this.log.info(
      { reason: check.reason, generation, slices: chunks.length, devices: devices.length },
      'publishing ResourceSlices',
    );
    const publishedAt = new Date(this.now()).toISOString();
    const keep = existing.filter((s) => !s.metadata.deletionTimestamp);
    let sentTaints = false;
    let keptTaints = true;
    for (const [i, chunk] of chunks.entries()) {
      const desired = buildSlice(identity, chunk, { generation, resourceSliceCount: chunks.length });
      desired.metadata.annotations = { ...desired.metadata.annotations, [ANNOTATION_PUBLISHED_AT]: publishedAt };
      const target = keep[i];
      let written: ResourceSlice;
      if (target) {
        // an update in place keeps the slice's name and UID; the resourceVersion makes it fail (409) if someone
        // else wrote in between, and the next reconcile decides again from fresh data
        const body: ResourceSlice = {
          ...desired,
          metadata: {
            ...target.metadata,
            ownerReferences: desired.metadata.ownerReferences ?? target.metadata.ownerReferences,
            annotations: { ...target.metadata.annotations, ...desired.metadata.annotations },
          },
        };
        delete body.metadata.generateName;
        written = await this.client.replace<ResourceSlice>(
          resourcePath(RESOURCE_SLICES, { name: target.metadata.name }),
          body,
        );
        this.stats.updates++;
      } else {
        written = await this.client.create<ResourceSlice>(resourcePath(RESOURCE_SLICES), desired);
        this.stats.creates++;
      }
      this.informer.remember(written);
      if (written.metadata.name && written.metadata.resourceVersion) {
        this.ownWrites.set(written.metadata.name, written.metadata.resourceVersion);
      }
      if (hasTaints(chunk)) {
        sentTaints = true;
        if (!hasTaints(written.spec.devices ?? [])) keptTaints = false;
      }
    }
    this.lastGeneration = generation;
    await this.deleteSlices(keep.slice(chunks.length));
    if (sentTaints && this.options.taints !== 'on') {
      const before = this.taintsKept;
      this.taintsKept = keptTaints;
      if (!keptTaints && before !== false) {
        this.log.warn('the API server dropped device taints (DRADeviceTaints off): health shows in `healthy` only');
        // the pool now holds no taints; the next reconcile compares against a taint-free build and writes nothing
        this.dirty = true;
      }
    }
  }
}

/** The health a device already has in the API, when it is published unhealthy (undefined otherwise). */
function publishedHealth(slices: readonly ResourceSlice[], device: string): HealthSince | undefined {
  for (const slice of slices) {
    const d = slice.spec.devices?.find((x) => x.name === device);
    if (!d) continue;
    if (d.attributes?.[ATTR.healthy]?.bool !== false) return undefined;
    const taint = d.taints?.find((t) => isLockstepTaintKey(t.key));
    const since = taint?.timeAdded ? Date.parse(taint.timeAdded) : Number.NaN;
    const unmonitored = d.attributes?.[ATTR.unmonitored]?.bool === true || taint?.key === TAINT_KEYS.unmonitored;
    // an XID taint holds the bare number; `XID-<n>` maps back to the same taint
    const reason = taint?.key === TAINT_KEYS.xid ? `XID-${taint.value}` : (taint?.value ?? 'unhealthy');
    return {
      state: unmonitored ? 'unknown' : 'unhealthy',
      reason,
      ...(Number.isNaN(since) ? {} : { since }),
    };
  }
  return undefined;
}

/**
 * What the slices already in the API say about taint support, so a restarted agent does not have to write to find
 * out again: a taint there means the server keeps them; a device published unhealthy but without a taint means it
 * dropped them. Undefined when the pool holds no unhealthy device.
 */
function inferTaintSupport(slices: readonly ResourceSlice[]): boolean | undefined {
  let verdict: boolean | undefined;
  for (const d of slices.flatMap((s) => s.spec.devices ?? [])) {
    if ((d.taints?.length ?? 0) > 0) return true;
    if (d.attributes?.healthy?.bool === false) verdict = false;
  }
  return verdict;
}

function message(err: unknown): string {
  return errorMessage(err);
}
