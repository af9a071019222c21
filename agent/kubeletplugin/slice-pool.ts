/**
 * One node-local pool of ResourceSlices, as pure functions (no I/O, nothing of lockstep's devices): how a driver's
 * devices are cut into slices the API accepts, what each slice object looks like, and whether the slices the API
 * holds already say what the driver wants. `resource-slices.ts` (the controller that writes them) is built on these.
 *
 * The comparison is semantic: the API server may re-spell things (quantities, timestamps at second precision, key
 * order), and a byte comparison would turn that into a write per rescan on every node; it looks at meaning only.
 */
import { quantitiesEqual } from '../../src/kube/quantity.js';
import type { DeviceAttribute, DeviceTaint, OwnerReference, ResourceSlice, SliceDevice } from '../../src/kube/types.js';

/** The API server's limit on devices in one slice (FACTS.md §4). */
const MAX_DEVICES_PER_SLICE = 128;
/**
 * …when any device in it has taints, consumes counters or has a list-typed attribute (ResourceSliceMaxDevicesWith
 * AdvancedFeatures, pkg/apis/resource/validation haveListAttributes, 1.36)
 */
const MAX_DEVICES_PER_SLICE_WITH_TAINTS = 64;

export function hasTaints(devices: readonly SliceDevice[]): boolean {
  return devices.some((d) => (d.taints?.length ?? 0) > 0);
}

/** Whether any device has an attribute in list form (`ints`, `bools`, `strings`, `versions`). */
function hasListAttributes(devices: readonly SliceDevice[]): boolean {
  return devices.some((d) => Object.values(d.attributes ?? {}).some((a) => listOf(a) !== undefined));
}

export function maxDevicesPerSlice(devices: readonly SliceDevice[]): number {
  return hasTaints(devices) || hasListAttributes(devices) ? MAX_DEVICES_PER_SLICE_WITH_TAINTS : MAX_DEVICES_PER_SLICE;
}

/** Devices cut into slice-sized chunks; a node with no devices still gets one (empty) slice so its pool exists. */
export function splitDevices(devices: readonly SliceDevice[], max = maxDevicesPerSlice(devices)): SliceDevice[][] {
  if (devices.length === 0) return [[]];
  const chunks: SliceDevice[][] = [];
  for (let i = 0; i < devices.length; i += max) chunks.push(devices.slice(i, i + max));
  return chunks;
}

/** Whose pool it is: one driver on one node; the pool is named after the node. */
export interface PoolOwner {
  driver: string;
  nodeName: string;
  /** the Node's UID: with it, slices carry an ownerReference and go when the node goes */
  nodeUid?: string;
  /** the driver's own annotations on every slice */
  annotations?: Record<string, string>;
}

function nodeOwnerReference(nodeName: string, nodeUid: string): OwnerReference {
  return { apiVersion: 'v1', kind: 'Node', name: nodeName, uid: nodeUid, controller: true };
}

/** The upstream helper's naming: `<node>-<driver>-` plus the API server's random suffix, cut to fit. */
function sliceGenerateName(nodeName: string, driver: string): string {
  const prefix = `${nodeName}-${driver}-`;
  // generateName plus the 5-char suffix must stay a DNS subdomain ≤ 253
  return prefix.length > 200 ? `${prefix.slice(0, 199)}-` : prefix;
}

/** One slice object (no name: creates use generateName) for the pool's chunk `devices`. */
export function buildSlice(
  owner: PoolOwner,
  devices: SliceDevice[],
  pool: { generation: number; resourceSliceCount: number },
): ResourceSlice {
  const metadata: ResourceSlice['metadata'] = {
    generateName: sliceGenerateName(owner.nodeName, owner.driver),
  };
  if (owner.nodeUid) metadata.ownerReferences = [nodeOwnerReference(owner.nodeName, owner.nodeUid)];
  if (owner.annotations && Object.keys(owner.annotations).length > 0) metadata.annotations = { ...owner.annotations };
  return {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceSlice',
    metadata,
    spec: {
      driver: owner.driver,
      nodeName: owner.nodeName,
      pool: { name: owner.nodeName, generation: pool.generation, resourceSliceCount: pool.resourceSliceCount },
      devices,
    },
  };
}

/** The whole pool at one generation. */
export function poolSlices(owner: PoolOwner, devices: readonly SliceDevice[], generation: number): ResourceSlice[] {
  const chunks = splitDevices(devices);
  return chunks.map((chunk) => buildSlice(owner, chunk, { generation, resourceSliceCount: chunks.length }));
}

/** The list value of an attribute, when it has one. */
function listOf(a: DeviceAttribute): readonly (number | boolean | string)[] | undefined {
  return a.ints ?? a.bools ?? a.strings ?? a.versions;
}

/** Scalars by value; lists entry by entry, in order (the order carries meaning: numaNode lists its own node first). */
function attributeEqual(a: DeviceAttribute, b: DeviceAttribute): boolean {
  const listA = listOf(a);
  const listB = listOf(b);
  const listsEqual =
    listA === undefined || listB === undefined
      ? listA === listB
      : (a.ints !== undefined) === (b.ints !== undefined) &&
        (a.bools !== undefined) === (b.bools !== undefined) &&
        (a.strings !== undefined) === (b.strings !== undefined) &&
        listA.length === listB.length &&
        listA.every((v, i) => v === listB[i]);
  return listsEqual && a.int === b.int && a.bool === b.bool && a.string === b.string && a.version === b.version;
}

function recordsEqual<V>(
  a: Record<string, V> | undefined,
  b: Record<string, V> | undefined,
  eq: (x: V, y: V) => boolean,
): boolean {
  const ka = Object.keys(a ?? {});
  const kb = Object.keys(b ?? {});
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    const vb = b?.[k];
    if (vb === undefined || !eq(a![k]!, vb)) return false;
  }
  return true;
}

/** Taints compare by key, value and effect; timeAdded is informational and the API may round it. */
function taintsEqual(a: DeviceTaint[] | undefined, b: DeviceTaint[] | undefined): boolean {
  const ta = a ?? [];
  const tb = b ?? [];
  if (ta.length !== tb.length) return false;
  const key = (t: DeviceTaint) => `${t.key}\u0000${t.value ?? ''}\u0000${t.effect}`;
  const sa = ta.map(key).sort();
  const sb = tb.map(key).sort();
  return sa.every((k, i) => k === sb[i]);
}

export function deviceEqual(a: SliceDevice, b: SliceDevice): boolean {
  return (
    a.name === b.name &&
    recordsEqual(a.attributes, b.attributes, attributeEqual) &&
    recordsEqual(a.capacity, b.capacity, (x, y) => quantitiesEqual(x.value, y.value)) &&
    taintsEqual(a.taints, b.taints)
  );
}

export interface PoolCheck {
  /** the API's pool (its newest generation) already says exactly what the agent wants */
  upToDate: boolean;
  /** why not (for logs and tests) */
  reason?: string;
  /** highest generation seen in the pool (0 when empty) */
  generation: number;
  /** slices of older generations: consumers already ignore them; they only need deleting */
  obsolete: ResourceSlice[];
}

export interface PoolExpectation {
  driver: string;
  nodeName: string;
  nodeUid?: string;
  devices: readonly SliceDevice[];
  maxPerSlice: number;
}

/**
 * Whether the slices in the API form a complete, current pool holding exactly the wanted devices. Only the newest
 * generation counts, as for every consumer; older slices are listed as obsolete. The split into slices does not
 * matter as long as every slice respects the limits: any valid layout is left alone.
 */
export function checkPool(slices: readonly ResourceSlice[], want: PoolExpectation): PoolCheck {
  const foreign = slices.filter((s) => s.spec.pool?.name !== want.nodeName);
  const mine = slices.filter((s) => s.spec.pool?.name === want.nodeName);
  const generation = mine.reduce((g, s) => Math.max(g, s.spec.pool.generation ?? 0), 0);
  const current = mine.filter((s) => s.spec.pool.generation === generation);
  // slices in another pool name (an older naming) are obsolete too: nothing reads them as this node's pool
  const obsolete = [...foreign, ...mine.filter((s) => s.spec.pool.generation !== generation)];
  const fail = (reason: string): PoolCheck => ({ upToDate: false, reason, generation, obsolete });
  if (current.length === 0) return fail('no slices');
  const byName = new Map<string, SliceDevice>();
  for (const slice of current) {
    const { spec, metadata } = slice;
    if (metadata.deletionTimestamp) return fail(`slice ${metadata.name} is being deleted`);
    if (spec.driver !== want.driver || spec.nodeName !== want.nodeName)
      return fail(`slice ${metadata.name} is foreign`);
    if (spec.pool.resourceSliceCount !== current.length) {
      return fail(`pool says ${spec.pool.resourceSliceCount} slices, API holds ${current.length}`);
    }
    if ((spec.devices?.length ?? 0) > want.maxPerSlice) return fail(`slice ${metadata.name} holds too many devices`);
    if (want.nodeUid) {
      const owner = metadata.ownerReferences?.find((o) => o.kind === 'Node' && o.uid === want.nodeUid);
      if (!owner) return fail(`slice ${metadata.name} lacks the Node owner reference`);
    }
    for (const d of spec.devices ?? []) {
      if (byName.has(d.name)) return fail(`device ${d.name} appears twice`);
      byName.set(d.name, d);
    }
  }
  if (byName.size !== want.devices.length)
    return fail(`API has ${byName.size} devices, node has ${want.devices.length}`);
  for (const d of want.devices) {
    const got = byName.get(d.name);
    if (!got) return fail(`device ${d.name} is missing`);
    if (!deviceEqual(d, got)) return fail(`device ${d.name} differs`);
  }
  if (current.length > 1 && current.some((s) => (s.spec.devices?.length ?? 0) === 0)) {
    return fail('an empty slice in a pool of several');
  }
  return { upToDate: true, generation, obsolete };
}
