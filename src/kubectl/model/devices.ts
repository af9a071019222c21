import {
  ANNOTATION_AGENT_VERSION,
  ANNOTATION_PUBLISHED_AT,
  ATTR,
  CAPACITY_MEMORY,
  isLockstepTaintKey,
  LEGACY_ATTR,
  TAINT_KEYS,
} from '../../contract/names.js';
import type { DeviceAttribute, DeviceTaint, DeviceTaintRule, ResourceSlice, SliceDevice } from '../wire.js';

export type DisplayedHealth = 'Healthy' | 'Unhealthy' | 'Unknown';

export interface TaintView {
  key: string;
  value?: string;
  effect: string;
  /** the DeviceTaintRule that puts it there (an admin's taint); absent for the slice's own (the agent's) */
  rule?: string;
}

/** One published device, flattened from its slice: what every verb shows about a device. */
export interface DeviceRecord {
  node: string;
  pool: string;
  slice: string;
  name: string;
  type: string;
  vendor?: string;
  model?: string;
  uuid?: string;
  pciBusID?: string;
  numaNode?: number;
  pcieSwitch?: string;
  pcieRoot?: string;
  driverVersion?: string;
  cudaComputeCapability?: string;
  nvlinkClique?: string;
  nvlinkDomain?: string;
  nvlinkLinks?: number;
  ifName?: string;
  rdma?: boolean;
  rdmaDevice?: string;
  linkLayer?: string;
  linkSpeedGbps?: number;
  virtual?: boolean;
  memory?: string;
  health: DisplayedHealth;
  /** the unhealthy taint's value, which the agent sets to the reason */
  reason?: string;
  taints: TaintView[];
}

/** What the agent says about itself on a node's slices. */
export interface PoolRecord {
  node: string;
  pool: string;
  generation: number;
  /** slices of the newest generation that were seen */
  slices: number;
  /** slices the pool says it has (`resourceSliceCount`) */
  expectedSlices: number;
  agentVersion?: string;
  /** newest `lockstep.dev/published-at` over the pool's slices */
  publishedAt?: Date;
  /** oldest slice creation, for AGE */
  created?: Date;
}

export interface PublishedInventory {
  devices: DeviceRecord[];
  pools: PoolRecord[];
}

/**
 * Unprefixed attribute names belong to the driver's domain (FACTS.md §4), so a slice may spell `type` or
 * `lockstep.dev/type`; both are accepted.
 */
function attribute(device: SliceDevice, name: string, driver: string): DeviceAttribute | undefined {
  const attrs = device.attributes;
  if (!attrs) return undefined;
  return attrs[name] ?? attrs[`${driver}/${name}`];
}

/** An int attribute; of the list form (`ints`), its first entry (for numaNode: the device's own node). */
function intOf(a: DeviceAttribute | undefined): number | undefined {
  if (typeof a?.int === 'number') return a.int;
  return typeof a?.ints?.[0] === 'number' ? a.ints[0] : undefined;
}

function stringOf(a: DeviceAttribute | undefined): string | undefined {
  if (!a) return undefined;
  if (typeof a.string === 'string') return a.string;
  if (typeof a.version === 'string') return a.version;
  return undefined;
}

function boolOf(a: DeviceAttribute | undefined): boolean | undefined {
  return typeof a?.bool === 'boolean' ? a.bool : undefined;
}

export function toDate(value: Date | string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const d = value instanceof Date ? value : new Date(value);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/**
 * Health as the slice tells it (DESIGN.md "Health"): the `healthy` attribute, and the `lockstep.dev/unhealthy`
 * taint whose value is the reason. Either one saying unhealthy wins, because an API server without the
 * DRADeviceTaints gate drops taints silently while the attribute always survives.
 */
export function deviceHealth(
  healthy: boolean | undefined,
  taints: readonly TaintView[],
  unmonitored?: boolean,
): DisplayedHealth {
  if (taints.some((t) => isLockstepTaintKey(t.key) && t.key !== TAINT_KEYS.unmonitored)) return 'Unhealthy';
  // not healthy, but only because nothing monitors it (nvidia-smi failing): no known fault
  if (unmonitored === true || taints.some((t) => t.key === TAINT_KEYS.unmonitored)) return 'Unknown';
  if (healthy === false) return 'Unhealthy';
  if (healthy === true) return 'Healthy';
  return 'Unknown';
}

function taintsOf(taints: readonly DeviceTaint[] | undefined): TaintView[] {
  return (taints ?? []).map((t) => ({
    key: t.key,
    ...(t.value !== undefined && t.value !== '' ? { value: t.value } : {}),
    effect: t.effect,
  }));
}

/** Sets only defined values, so records (and -o json) carry no `undefined` keys. Hot: runs per attribute. */
function put<T, K extends keyof T>(target: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined) target[key] = value;
}

function deviceRecord(slice: ResourceSlice, device: SliceDevice, driver: string): DeviceRecord {
  const a = (name: string) => attribute(device, name, driver);
  const taints = taintsOf(device.taints);
  let reason: string | undefined;
  // the reason is the value of the fault-class taint (an XID taint's value is the bare number: say which it is)
  for (const t of taints) {
    if (!isLockstepTaintKey(t.key) || t.value === undefined) continue;
    reason ??= t.key === TAINT_KEYS.xid ? `XID ${t.value}` : t.value;
  }
  const r: DeviceRecord = {
    node: slice.spec.nodeName ?? slice.spec.pool.name,
    pool: slice.spec.pool.name,
    slice: slice.metadata.name ?? '',
    name: device.name,
    type: stringOf(a(ATTR.type)) ?? 'unknown',
    health: deviceHealth(boolOf(a(ATTR.healthy)), taints, boolOf(a(ATTR.unmonitored))),
    taints,
  };
  put(r, 'vendor', stringOf(a(ATTR.vendor)));
  put(r, 'model', stringOf(a(ATTR.model)));
  put(r, 'uuid', stringOf(a(ATTR.uuid)));
  put(r, 'pciBusID', stringOf(a(ATTR.pciBusID)) ?? stringOf(a(LEGACY_ATTR.pciBusID)));
  put(r, 'numaNode', intOf(a(ATTR.numaNode)) ?? intOf(a(LEGACY_ATTR.numaNode)));
  put(r, 'pcieSwitch', stringOf(a(ATTR.pcieSwitch)));
  put(r, 'pcieRoot', stringOf(a(ATTR.pcieRoot)));
  // as the driver prints it (535.161.08); agents that publish only the semver form (535.161.8) fall back to it
  put(r, 'driverVersion', stringOf(a(ATTR.driverVersionText)) ?? stringOf(a(ATTR.driverVersion)));
  put(r, 'cudaComputeCapability', stringOf(a(ATTR.cudaComputeCapability)));
  put(r, 'nvlinkClique', stringOf(a(ATTR.nvlinkClique)));
  put(r, 'nvlinkDomain', stringOf(a(ATTR.nvlinkDomain)));
  put(r, 'nvlinkLinks', intOf(a(ATTR.nvlinkLinks)));
  put(r, 'ifName', stringOf(a(ATTR.ifName)));
  put(r, 'rdma', boolOf(a(ATTR.rdma)));
  put(r, 'rdmaDevice', stringOf(a(ATTR.rdmaDevice)));
  put(r, 'linkLayer', stringOf(a(ATTR.linkLayer)));
  put(r, 'linkSpeedGbps', intOf(a(ATTR.linkSpeedGbps)));
  put(r, 'virtual', boolOf(a(ATTR.virtual)));
  put(r, 'memory', device.capacity?.[CAPACITY_MEMORY]?.value);
  put(r, 'reason', reason);
  return r;
}

/** Whether a DeviceTaintRule's selector picks the device: every field set must match; no selector picks nothing. */
export function ruleSelects(
  rule: DeviceTaintRule,
  device: Pick<DeviceRecord, 'pool' | 'name'>,
  driver: string,
): boolean {
  const selector = rule.spec?.deviceSelector;
  if (!selector) return false;
  return (
    (selector.driver === undefined || selector.driver === driver) &&
    (selector.pool === undefined || selector.pool === device.pool) &&
    (selector.device === undefined || selector.device === device.name)
  );
}

/**
 * The devices with the taints of the DeviceTaintRules that select them added after their own (the agent's), each
 * naming its rule: an admin's taint has the same effect as the driver's (FACTS.md §11), so it shows where the
 * driver's do. Rules come sorted by name, so the order is stable. Pure: new records, the input is not changed.
 */
export function withTaintRules(
  devices: readonly DeviceRecord[],
  rules: readonly DeviceTaintRule[],
  driver: string,
): DeviceRecord[] {
  const valid = rules
    .filter((r) => r.spec?.taint && typeof r.spec.taint.key === 'string')
    .sort((a, b) => naturalCompare(a.metadata.name ?? '', b.metadata.name ?? ''));
  if (valid.length === 0) return [...devices];
  return devices.map((d) => {
    const added = valid
      .filter((rule) => ruleSelects(rule, d, driver))
      .map((rule) => ({ ...taintsOf([rule.spec.taint])[0]!, rule: rule.metadata.name ?? '' }));
    return added.length === 0 ? d : { ...d, taints: [...d.taints, ...added] };
  });
}

/**
 * Flattens the driver's slices into devices and pools. Pool semantics (FACTS.md §4): only slices of a pool's
 * newest generation count; older ones are leftovers of an update in progress.
 */
export function buildInventory(slices: readonly ResourceSlice[], driver: string): PublishedInventory {
  const byPool = new Map<string, ResourceSlice[]>();
  for (const slice of slices) {
    if (slice.spec.driver !== driver) continue;
    const key = slice.spec.pool.name;
    const list = byPool.get(key);
    if (list) list.push(slice);
    else byPool.set(key, [slice]);
  }
  const devices: DeviceRecord[] = [];
  const pools: PoolRecord[] = [];
  for (const [pool, all] of byPool) {
    const generation = Math.max(...all.map((s) => s.spec.pool.generation));
    const current = all.filter((s) => s.spec.pool.generation === generation);
    let publishedAt: Date | undefined;
    let created: Date | undefined;
    let agentVersion: string | undefined;
    for (const slice of current) {
      const annotations = slice.metadata.annotations ?? {};
      const at = toDate(annotations[ANNOTATION_PUBLISHED_AT]);
      if (at && (!publishedAt || at > publishedAt)) {
        publishedAt = at;
        agentVersion = annotations[ANNOTATION_AGENT_VERSION] ?? agentVersion;
      }
      agentVersion ??= annotations[ANNOTATION_AGENT_VERSION];
      const c = toDate(slice.metadata.creationTimestamp);
      if (c && (!created || c < created)) created = c;
      for (const device of slice.spec.devices ?? []) devices.push(deviceRecord(slice, device, driver));
    }
    const first = current[0]!;
    const record: PoolRecord = {
      node: first.spec.nodeName ?? pool,
      pool,
      generation,
      slices: current.length,
      expectedSlices: first.spec.pool.resourceSliceCount,
    };
    put(record, 'agentVersion', agentVersion);
    put(record, 'publishedAt', publishedAt);
    put(record, 'created', created);
    pools.push(record);
  }
  devices.sort(compareDevices);
  pools.sort((x, y) => naturalCompare(x.node, y.node));
  return { devices, pools };
}

const TYPE_ORDER: Record<string, number> = { gpu: 0, mig: 0, tpu: 1, nic: 2 };

/** One collator for every comparison: `localeCompare` with options builds one per call (slow at 8,000 devices). */
export const naturalCompare = new Intl.Collator('en', { numeric: true }).compare;

/**
 * Node, then accelerators before NICs, then PCI address (the order nvidia-smi and lspci list devices in; device names
 * carry the address in hex, which a numeric collation would misorder: `19` after `3b`), then names with numbers in
 * numeric order (`…-mig-3-0` before `…-mig-10-0`).
 */
function compareDevices(x: DeviceRecord, y: DeviceRecord): number {
  return (
    naturalCompare(x.node, y.node) ||
    (TYPE_ORDER[x.type] ?? 3) - (TYPE_ORDER[y.type] ?? 3) ||
    comparePciBusIds(x.pciBusID, y.pciBusID) ||
    naturalCompare(x.name, y.name)
  );
}

/** Fixed-width lower-case BDFs sort as text in bus order; a device without one comes after those with one. */
export function comparePciBusIds(x: string | undefined, y: string | undefined): number {
  if (x === y) return 0;
  if (x === undefined) return 1;
  if (y === undefined) return -1;
  return x < y ? -1 : 1;
}

export function isAccelerator(d: DeviceRecord): boolean {
  return d.type === 'gpu' || d.type === 'tpu';
}
