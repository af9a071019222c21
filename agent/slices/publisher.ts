import type { Logger } from 'pino';
import { ANNOTATION_PUBLISHED_AT, ATTR, isLockstepTaintKey, TAINT_KEYS } from '../../src/contract/names.js';
import { ApiError } from '../../src/kube/client.js';
import type { DeviceTaintEffect, ResourceSlice, SliceDevice } from '../../src/kube/types.js';
import { silentLogger } from '../../src/log.js';
import type { Inventory } from '../discovery/inventory.js';
import type { DeviceHealthBoard } from '../health/board.js';
import {
  type PublishedPool,
  ResourceSliceController,
  type ResourceSliceControllerOptions,
  type ResourceSliceStats,
} from '../kubeletplugin/resource-slices.js';
import { hasTaints } from '../kubeletplugin/slice-pool.js';
import { buildDevices, type HealthSince, poolOwner } from './builder.js';

/**
 * lockstep's slice publishing: which devices the node's pool holds (the inventory plus live health), with which
 * attributes and taints, and whether the API server keeps taints and the list form of numaNode at all. Writing them (the pool, generations,
 * conflicts, the Lease handoff) is the generic ResourceSliceController's (agent/kubeletplugin/resource-slices.ts);
 * this class tells it when the devices changed and builds them when it asks.
 */

export type TaintMode = 'auto' | 'on' | 'off';

/** The controller's settings (client, driver, node, gate, timing) and lockstep's own. */
export interface PublisherOptions
  extends Pick<
    ResourceSliceControllerOptions,
    | 'client'
    | 'driver'
    | 'nodeName'
    | 'coalesceMs'
    | 'backoff'
    | 'log'
    | 'now'
    | 'random'
    | 'gate'
    | 'watchTimeoutSeconds'
  > {
  /** effect of the unhealthy taint */
  taintEffect?: DeviceTaintEffect;
  /**
   * whether to write device taints. `auto`: write them until the API server shows it drops them (a write's answer
   * comes back without the taints we sent; servers without the DRADeviceTaints gate do that silently), then stop.
   */
  taints?: TaintMode;
  /**
   * publish numaNode in its list form, with these lists (the agent's last NUMA scan); left out: the int form. An API
   * server without the DRAListTypeAttributes gate drops the list on write and refuses the then empty attribute (422;
   * 1.35 prunes it as an unknown field first): the publisher then says so in one warning and publishes the int form,
   * so the node keeps its devices and `matchAttribute` on numaNode keeps working across drivers.
   */
  numaNodeLists?: () => ReadonlyMap<number, readonly number[]>;
  agentVersion?: string;
  /**
   * After a (re)start, a device the monitors have not judged yet keeps the health the API already shows, for this
   * long: otherwise a restarted agent would publish the scan's optimistic view and then the monitors' verdict again,
   * two writes for nothing. Default 10 s.
   */
  healthGraceMs?: number;
}

export type PublisherStats = ResourceSliceStats;

export class SlicePublisher {
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly controller: ResourceSliceController;
  private inventory: Inventory | undefined;
  private board: DeviceHealthBoard | undefined;
  private unsubscribe: (() => void)[] = [];
  private taintsKept: boolean | undefined;
  /** false once the API server showed it does not take the list form of numaNode */
  private numaListKept: boolean | undefined;
  private running = false;
  private startedAt = 0;
  private graceTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: PublisherOptions) {
    this.log = options.log ?? silentLogger();
    this.now = options.now ?? Date.now;
    this.taintsKept = options.taints === 'on' ? true : options.taints === 'off' ? false : undefined;
    this.controller = new ResourceSliceController({
      client: options.client,
      driver: options.driver,
      nodeName: options.nodeName,
      devices: (current) => this.devices(current),
      annotations: () => this.annotations(),
      published: (pool) => this.published(pool),
      refused: (err) => this.refused(err),
      coalesceMs: options.coalesceMs,
      backoff: options.backoff,
      log: this.log,
      now: this.now,
      random: options.random,
      gate: options.gate,
      watchTimeoutSeconds: options.watchTimeoutSeconds,
    });
  }

  /** Counts of the controller's reconciles and writes. */
  get stats(): PublisherStats {
    return this.controller.stats;
  }

  /** The newest scan; publishing follows when it changes what the API should hold. */
  setInventory(inventory: Inventory): void {
    this.inventory = inventory;
    this.controller.update();
  }

  /** Live health: a change on the board republishes within a few ms (taint budget: ≤ 250 ms p99 end to end). */
  attachBoard(board: DeviceHealthBoard): void {
    this.board = board;
    if (this.running) this.unsubscribe.push(board.subscribe(() => this.controller.trigger()));
  }

  /**
   * Returns at once: the Node lookup, the first list and the first publish go on in the background (with retries),
   * so an API outage at boot never holds up the managers after this one (the kubelet plugin, health).
   * whenConverged() says when the API matches.
   */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    this.startedAt = this.now();
    await this.controller.start();
    if (this.board) {
      const board = this.board;
      this.unsubscribe.push(board.subscribe(() => this.controller.trigger()));
      // when the grace ends, devices the monitors never judged fall back to the scan's reading
      this.graceTimer = setTimeout(() => this.controller.trigger(), this.options.healthGraceMs ?? 10_000);
      this.graceTimer.unref?.();
    }
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    for (const u of this.unsubscribe.splice(0)) u();
    clearTimeout(this.graceTimer);
    await this.controller.stop();
  }

  /** Resolves when the API matches the node (the last reconcile wrote or found everything right). For tests. */
  whenConverged(): Promise<void> {
    return this.controller.whenConverged();
  }

  /** The slices of this node in the publisher's view of the API. */
  slices(): ResourceSlice[] {
    return this.controller.slices();
  }

  /** Whether the API server keeps device taints (undefined: not known yet). */
  get taintsSupported(): boolean | undefined {
    return this.taintsKept;
  }

  /** Whether numaNode goes out in its list form: asked for, and not refused by the API server. */
  get numaNodeListPublished(): boolean {
    return this.options.numaNodeLists !== undefined && this.numaListKept !== false;
  }

  /**
   * Removes every slice of this node and driver (`lockstep agent --uninstall`). Works without start(); returns how
   * many it deleted.
   */
  uninstall(): Promise<number> {
    return this.controller.uninstall();
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

  /** The devices of the node's pool now (the controller asks once setInventory was called). */
  private devices(current: readonly ResourceSlice[]): SliceDevice[] {
    if (this.taintsKept === undefined) this.taintsKept = inferTaintSupport(current);
    const taintEffect = this.taintsKept === false ? undefined : (this.options.taintEffect ?? 'NoSchedule');
    const inventory = this.inventory;
    // the controller asks only after setInventory's update(); an empty pool would be the answer otherwise
    if (!inventory) return [];
    const { devices, problems } = buildDevices(inventory, {
      healthOf: this.healthOf,
      taintEffect,
      now: this.now,
      ...(this.options.numaNodeLists && this.numaNodeListPublished
        ? { numaNodeLists: this.options.numaNodeLists() }
        : {}),
    });
    if (problems.length > 0) this.log.debug({ problems }, 'devices left out of the slices');
    return devices;
  }

  private annotations(): Record<string, string> {
    const identity = { driver: this.options.driver, nodeName: this.options.nodeName };
    const { annotations } = poolOwner({ ...identity, agentVersion: this.options.agentVersion });
    return { ...annotations, [ANNOTATION_PUBLISHED_AT]: new Date(this.now()).toISOString() };
  }

  /**
   * `auto` learns from the write's answer whether the API server keeps taints: taints sent and none came back means
   * the DRADeviceTaints gate is off. Returns true (publish again) when the pool must be rebuilt without them.
   */
  private published({ sent, written }: PublishedPool): boolean {
    if (this.options.taints === 'on') return false;
    let sentTaints = false;
    let keptTaints = true;
    for (const [i, chunk] of sent.entries()) {
      if (!hasTaints(chunk)) continue;
      sentTaints = true;
      if (!hasTaints(written[i]?.spec.devices ?? [])) keptTaints = false;
    }
    if (!sentTaints) return false;
    const before = this.taintsKept;
    this.taintsKept = keptTaints;
    if (!keptTaints && before !== false) {
      this.log.warn('the API server dropped device taints (DRADeviceTaints off): health shows in `healthy` only');
      // the pool now holds no taints; the next reconcile compares against a taint-free build and writes nothing
      return true;
    }
    return false;
  }

  /**
   * A write refused because of the list form: an Invalid (422) naming the numaNode attribute while the list form is
   * out. Anything else is the controller's to retry.
   */
  private refused(err: unknown): boolean {
    if (!this.numaNodeListPublished || !(err instanceof ApiError) || err.status !== 422) return false;
    if (!causeFields(err).some((field) => field.includes(`attributes[${ATTR.numaNode}]`))) return false;
    // the Status lists every device's cause; the first few say it
    const detail = err.statusBody?.message;
    this.fallBackToIntNuma(detail && detail.length > 400 ? `${detail.slice(0, 397)}...` : detail);
    return true;
  }

  private fallBackToIntNuma(detail: string | undefined): void {
    this.numaListKept = false;
    this.log.warn(
      { attribute: ATTR.numaNode, ...(detail ? { apiServer: detail } : {}) },
      `the API server refused the list form of ${ATTR.numaNode} (--numa-node-list needs the DRAListTypeAttributes ` +
        'feature gate on kube-apiserver and kube-scheduler, alpha since 1.36): publishing the int form instead',
    );
  }
}

/** The field paths of an Invalid answer's causes (`details.causes[].field`). */
function causeFields(err: ApiError): string[] {
  const causes = err.statusBody?.details?.causes;
  if (!Array.isArray(causes)) return [];
  return causes.flatMap((cause: unknown) =>
    typeof cause === 'object' && cause !== null && typeof (cause as { field?: unknown }).field === 'string'
      ? [(cause as { field: string }).field]
      : [],
  );
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
