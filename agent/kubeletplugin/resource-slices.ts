/**
 * The ResourceSlice controller: keeps the API's slices of one driver's node-local pool equal to what the driver wants,
 * knowing nothing of the driver's devices (the role of k8s.io/dynamic-resource-allocation's resourceslice controller
 * under the kubelet-plugin helper). The driver says when its devices changed (`update()`) and hands them over when
 * asked (`devices`); the controller does the rest:
 *
 * - the pool: devices cut into slices the API accepts, a new generation for every change, older generations deleted
 *   once the newest is complete; a pool that already says what the driver wants is left alone (no write);
 * - the owner: the Node's UID is looked up (and again when the slices vanish, as after the Node was re-created), so
 *   the slices go with the Node;
 * - failures: every failed write (a 409 conflict, a 410, a 500, a lost answer) backs off and re-reads the pool from the
 *   API before deciding again; deletes carry a UID precondition so a slice of the same name made since stays;
 * - handoff: with a `gate` (the node's Lease) only the holder writes; during a rollout the other agent of the node
 *   follows the API through its watch and publishes its own view the moment it takes the Lease over.
 *
 * It is level-triggered: every trigger (the driver's update, any event on its own slices, the gate, a failed write)
 * asks for one reconcile, reconciles never overlap, and a burst of triggers is coalesced into one.
 *
 * Threats: another writer of the same slices (a second agent during a rollout, an admin's edit): the resourceVersion
 * on updates and the UID on deletes make its writes win the race and ours decide again from fresh data; an API that
 * keeps failing: backoff up to 30 s, never a hot loop; a watch that replays stale events: the UIDs we deleted stay
 * out of view, and the echo of our own write costs no reconcile; an API server that drops fields it does not know
 * (device taints without DRADeviceTaints): the driver sees what was written (`published`) and decides; an API server
 * that refuses what the driver sends (422: list-typed attributes without DRAListTypeAttributes): the driver is told
 * (`refused`) and may change what it publishes, else the write is retried with backoff like any failure.
 */
import type { Logger } from 'pino';
import { errorMessage } from '../../src/errors.js';
import { Backoff, type BackoffOptions, sleep } from '../../src/kube/backoff.js';
import { ApiError, isConflict, isNotFound, type KubeClient, retryDelay } from '../../src/kube/client.js';
import { Informer, objectKey } from '../../src/kube/informer.js';
import { NODES, RESOURCE_SLICES, resourcePath } from '../../src/kube/resources.js';
import type { KubeList, Node, ResourceSlice, SliceDevice } from '../../src/kube/types.js';
import { silentLogger } from '../../src/log.js';
import { buildSlice, checkPool, maxDevicesPerSlice, splitDevices } from './slice-pool.js';

/** Whether this process may write the node's slices now, and news of when that changes. */
interface PublishGate {
  readonly holding: boolean;
  subscribe(listener: (holding: boolean) => void): () => void;
}

/** What one reconcile wrote: the chunks sent and the slices the API answered with, in the same order. */
export interface PublishedPool {
  sent: readonly SliceDevice[][];
  written: readonly ResourceSlice[];
}

export interface ResourceSliceControllerOptions {
  client: KubeClient;
  driver: string;
  nodeName: string;
  /**
   * The devices the pool should hold now, asked for at each reconcile once `update()` was called; `current` is the
   * pool as the API holds it (sorted by name).
   */
  devices: (current: readonly ResourceSlice[]) => SliceDevice[];
  /** annotations on every slice of a generation, asked for when it is written */
  annotations?: () => Record<string, string>;
  /** told what each write of a generation sent and got back; returns true to reconcile again at once */
  published?: (pool: PublishedPool) => boolean;
  /**
   * told when a write failed (the error as thrown, an ApiError for an answer); returns true when the driver changed
   * what it publishes because of it, so the next reconcile runs at once instead of after the backoff
   */
  refused?: (err: unknown) => boolean;
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
}

export interface ResourceSliceStats {
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

export class ResourceSliceController {
  private readonly client: KubeClient;
  private readonly log: Logger;
  private readonly informer: Informer<ResourceSlice>;
  private readonly backoff: Backoff;
  private readonly now: () => number;
  private readonly selector: string;
  /** the driver has devices to publish (update() was called) */
  private hasDevices = false;
  private unsubscribe: (() => void)[] = [];
  private nodeUid: string | undefined;
  private nodeLookedUpAt = 0;
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
  private booting: Promise<void> | undefined;
  readonly stats: ResourceSliceStats = {
    reconciles: 0,
    creates: 0,
    updates: 0,
    deletes: 0,
    conflicts: 0,
    errors: 0,
    noops: 0,
    standby: 0,
  };

  constructor(private readonly options: ResourceSliceControllerOptions) {
    this.client = options.client;
    this.log = options.log ?? silentLogger();
    this.now = options.now ?? Date.now;
    this.backoff = new Backoff(
      options.backoff ?? { initialMs: 100, maxMs: 30_000, jitter: 0.5, random: options.random },
    );
    // only this node's slices of this driver: the watch stays small on a 1,000-node cluster
    this.selector = `spec.nodeName=${options.nodeName},spec.driver=${options.driver}`;
    this.informer = new Informer<ResourceSlice>(this.client, {
      type: RESOURCE_SLICES,
      fieldSelector: this.selector,
      log: this.log,
      backoff: options.backoff,
      watchTimeoutSeconds: options.watchTimeoutSeconds,
      random: options.random,
    });
  }

  /** The driver's devices changed (or are known for the first time): publish them. */
  update(): void {
    this.hasDevices = true;
    this.trigger();
  }

  /**
   * Returns at once: the Node lookup, the first list and the first publish go on in the background (with retries),
   * so an API outage at boot never holds up what starts after this. whenConverged() says when the API matches.
   */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.stopping = new AbortController();
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

  /** The slices of this node in the controller's view of the API. */
  slices(): ResourceSlice[] {
    return this.informer.list().filter((s) => !this.deleted.has(s.metadata.uid ?? ''));
  }

  /** Removes every slice of this node and driver. Works without start(); returns how many it deleted. */
  async uninstall(): Promise<number> {
    const list = await this.client.get<KubeList<ResourceSlice>>(resourcePath(RESOURCE_SLICES), {
      fieldSelector: this.selector,
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

  /** Asks for a reconcile after `delay` ms (coalesced with any other trigger). */
  trigger(delay = this.options.coalesceMs ?? 2): void {
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
        this.log.warn({ err: errorMessage(err), retryInMs: delay }, 'cannot read the Node; retrying');
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

  private async runReconciles(): Promise<void> {
    while (this.dirty && this.running) {
      this.dirty = false;
      if (!this.hasDevices || !this.informer.isSynced) {
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
        await this.reconcile();
        this.backoff.reset();
      } catch (err) {
        this.stats.errors++;
        this.needFreshList = true;
        if (this.options.refused?.(err)) {
          this.dirty = true;
          continue;
        }
        // conflicts back off like any failure: a fast retry loses every race against a writer that never stops
        const delay = retryDelay(err, this.backoff.next());
        if (isConflict(err)) this.stats.conflicts++;
        this.log.warn({ err: errorMessage(err), retryInMs: delay }, 'publishing slices failed; retrying');
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

  private async currentSlices(): Promise<ResourceSlice[]> {
    if (this.needFreshList) {
      // after a failed write the watch may not have shown what the server did (a create whose answer was lost):
      // read the truth once before deciding again
      const list = await this.client.get<KubeList<ResourceSlice>>(resourcePath(RESOURCE_SLICES), {
        fieldSelector: this.selector,
      });
      const present = new Set(list.items.map(objectKey));
      for (const item of list.items) this.informer.remember(item);
      for (const cached of this.informer.list())
        if (!present.has(objectKey(cached))) this.informer.forget(objectKey(cached));
      this.needFreshList = false;
    }
    return this.slices();
  }

  private async reconcile(): Promise<void> {
    this.stats.reconciles++;
    const existing = (await this.currentSlices()).sort((a, b) =>
      (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '', 'en'),
    );
    if (
      (existing.length === 0 && this.lastGeneration > 0) ||
      (this.nodeUid === undefined && this.now() - this.nodeLookedUpAt > 60_000)
    ) {
      await this.refreshNodeUid();
    }
    const devices = this.options.devices(existing);
    const owner = { driver: this.options.driver, nodeName: this.options.nodeName, nodeUid: this.nodeUid };
    const maxPerSlice = maxDevicesPerSlice(devices);
    const check = checkPool(existing, { ...owner, devices, maxPerSlice });
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
    const annotations = this.options.annotations?.() ?? {};
    const keep = existing.filter((s) => !s.metadata.deletionTimestamp);
    const written: ResourceSlice[] = [];
    for (const [i, chunk] of chunks.entries()) {
      const desired = buildSlice({ ...owner, annotations }, chunk, { generation, resourceSliceCount: chunks.length });
      const target = keep[i];
      let answer: ResourceSlice;
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
        answer = await this.client.replace<ResourceSlice>(
          resourcePath(RESOURCE_SLICES, { name: target.metadata.name }),
          body,
        );
        this.stats.updates++;
      } else {
        answer = await this.client.create<ResourceSlice>(resourcePath(RESOURCE_SLICES), desired);
        this.stats.creates++;
      }
      this.informer.remember(answer);
      if (answer.metadata.name && answer.metadata.resourceVersion) {
        this.ownWrites.set(answer.metadata.name, answer.metadata.resourceVersion);
      }
      written.push(answer);
    }
    this.lastGeneration = generation;
    await this.deleteSlices(keep.slice(chunks.length));
    if (this.options.published?.({ sent: chunks, written })) this.dirty = true;
  }
}
