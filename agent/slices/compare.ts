import type { DeviceAttribute, DeviceTaint, ResourceSlice, SliceDevice } from '../../src/kube/types.js';
import { quantitiesEqual } from './quantity.js';

/**
 * Semantic equality of what the agent wants published and what the API holds. The API server may re-spell things
 * (quantities, timestamps at second precision, key order), and a byte comparison would turn that into a write per
 * rescan on every node; these comparisons look at meaning only.
 */

function attributeEqual(a: DeviceAttribute, b: DeviceAttribute): boolean {
  return a.int === b.int && a.bool === b.bool && a.string === b.string && a.version === b.version;
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
