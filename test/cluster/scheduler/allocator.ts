import type {
  DeviceAttribute,
  DeviceClass,
  DeviceRequestAllocationResult,
  DeviceToleration,
  ExactDeviceRequest,
  ResourceClaim,
  ResourceSlice,
  SliceDevice,
} from '../../../src/kube/types.js';
import { type CelDeviceInput, celDevice, compileSelector, splitQualifiedName } from './cel.js';

/**
 * The allocation logic of scheduler-lite, as pure functions: which devices the published pools offer on each node,
 * and which of them satisfy a claim (class and request selectors in CEL, counts, matchAttribute constraints, taints).
 * It follows the structured-parameters allocator's rules without its optimisations: a depth-first search with
 * constraint pruning, which is plenty for one node's devices.
 *
 * `listTypeAttributes` is kube-scheduler's DRAListTypeAttributes gate (KEP-5491): on, list-valued attributes are CEL
 * lists and `matchAttribute` asks for a non-empty intersection of the devices' values (a scalar is a one-element
 * set), which stays monotonic, so the search keeps pruning on the running intersection; off, a device with a list
 * value matches no selector and no matchAttribute constraint.
 */

/** kube-scheduler feature gates the allocation honours. */
export interface AllocatorGates {
  listTypeAttributes?: boolean;
}

export interface PoolDevice {
  driver: string;
  pool: string;
  node: string;
  device: SliceDevice;
  cel: CelDeviceInput;
}

export const deviceKey = (driver: string, pool: string, device: string): string => `${driver}/${pool}/${device}`;

export interface CollectedPools {
  byNode: Map<string, PoolDevice[]>;
  /** pools left out, with why (incomplete, older generation) */
  ignored: string[];
}

/** Usable devices per node: only complete pools at their newest generation count. */
export function collectPools(slices: readonly ResourceSlice[], gates: AllocatorGates = {}): CollectedPools {
  const pools = new Map<string, ResourceSlice[]>();
  for (const s of slices) {
    if (s.metadata.deletionTimestamp) continue;
    const key = `${s.spec.driver}/${s.spec.pool.name}`;
    if (!pools.has(key)) pools.set(key, []);
    pools.get(key)!.push(s);
  }
  const byNode = new Map<string, PoolDevice[]>();
  const ignored: string[] = [];
  for (const [key, members] of [...pools].sort(([a], [b]) => a.localeCompare(b, 'en'))) {
    const generation = Math.max(...members.map((s) => s.spec.pool.generation));
    const current = members.filter((s) => s.spec.pool.generation === generation);
    const expected = current[0]!.spec.pool.resourceSliceCount;
    if (current.some((s) => s.spec.pool.resourceSliceCount !== expected) || current.length < expected) {
      ignored.push(`${key}: incomplete (generation ${generation}: ${current.length} of ${expected} slices)`);
      continue;
    }
    const node = current[0]!.spec.nodeName;
    if (!node) {
      ignored.push(`${key}: not node-local`);
      continue;
    }
    const list = byNode.get(node) ?? [];
    for (const s of current.sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '', 'en'))) {
      for (const device of s.spec.devices ?? []) {
        list.push({
          driver: s.spec.driver,
          pool: s.spec.pool.name,
          node,
          device,
          cel: celDevice(s.spec.driver, device, gates.listTypeAttributes),
        });
      }
    }
    byNode.set(node, list);
  }
  return { byNode, ignored };
}

function tolerates(
  tolerations: readonly DeviceToleration[] | undefined,
  taint: { key: string; value?: string; effect: string },
): boolean {
  return (tolerations ?? []).some((t) => {
    if (t.effect && t.effect !== taint.effect) return false;
    if ((t.operator ?? 'Equal') === 'Exists') return !t.key || t.key === taint.key;
    return t.key === taint.key && (t.value ?? '') === (taint.value ?? '');
  });
}

/** NoSchedule and NoExecute taints keep a device out unless tolerated; `None` is informational. */
function usableDespiteTaints(device: SliceDevice, tolerations: readonly DeviceToleration[] | undefined): boolean {
  return (device.taints ?? []).every((t) => t.effect === 'None' || tolerates(tolerations, t));
}

function selectorsMatch(
  device: PoolDevice,
  expressions: readonly string[],
  problems: string[],
  gates: AllocatorGates,
): boolean {
  for (const e of expressions) {
    const r = compileSelector(e, gates.listTypeAttributes)(device.cel);
    if (r.error) problems.push(`${device.device.name}: ${r.error}`);
    if (!r.match) return false;
  }
  return true;
}

function attributeOf(device: PoolDevice, qualified: string): DeviceAttribute | undefined {
  const [domain, id] = splitQualifiedName(qualified, device.driver);
  const attrs = device.device.attributes ?? {};
  if (domain === device.driver) return attrs[id] ?? attrs[qualified];
  return attrs[qualified];
}

/**
 * The values of an attribute as typed keys (`i:1` differs from `s:1`): one for a scalar, one per entry for a list;
 * undefined for a list when the gate is off (such a device satisfies no matchAttribute constraint).
 */
function attributeValueKeys(a: DeviceAttribute, listTypeAttributes: boolean): Set<string> | undefined {
  const lists: [string, readonly unknown[] | undefined][] = [
    ['i', a.ints],
    ['b', a.bools],
    ['s', a.strings],
    ['v', a.versions],
  ];
  const list = lists.find(([, values]) => values !== undefined);
  if (list) return listTypeAttributes ? new Set(list[1]!.map((v) => `${list[0]}:${String(v)}`)) : undefined;
  if (a.int !== undefined) return new Set([`i:${a.int}`]);
  if (a.bool !== undefined) return new Set([`b:${a.bool}`]);
  if (a.string !== undefined) return new Set([`s:${a.string}`]);
  if (a.version !== undefined) return new Set([`v:${a.version}`]);
  return undefined;
}

interface Slot {
  /** result name: `<request>` or `<request>/<subrequest>` */
  request: string;
  /** the top-level request name, for constraints */
  parent: string;
  candidates: PoolDevice[];
  tolerations?: DeviceToleration[];
  /** index of the slot's sibling before it (same request), to pick in increasing order */
  sibling: number;
}

export type DeviceRequestResults = DeviceRequestAllocationResult[];

export type AllocationOutcome = { ok: true; results: DeviceRequestResults } | { ok: false; reason: string };

interface ResolvedRequest {
  name: string;
  parent: string;
  exact: ExactDeviceRequest;
}

function candidatesFor(
  req: ResolvedRequest,
  devices: readonly PoolDevice[],
  classes: ReadonlyMap<string, DeviceClass>,
  inUse: ReadonlySet<string>,
  problems: string[],
  gates: AllocatorGates,
): { free: PoolDevice[]; matching: number; error?: string } {
  const cls = classes.get(req.exact.deviceClassName);
  if (!cls) return { free: [], matching: 0, error: `device class ${req.exact.deviceClassName} not found` };
  const expressions = [
    ...(cls.spec.selectors ?? []).flatMap((s) => (s.cel ? [s.cel.expression] : [])),
    ...(req.exact.selectors ?? []).flatMap((s) => (s.cel ? [s.cel.expression] : [])),
  ];
  const free: PoolDevice[] = [];
  let matching = 0;
  for (const d of devices) {
    if (!selectorsMatch(d, expressions, problems, gates)) continue;
    if (!usableDespiteTaints(d.device, req.exact.tolerations)) continue;
    matching++;
    if (!inUse.has(deviceKey(d.driver, d.pool, d.device.name))) free.push(d);
  }
  return { free, matching };
}

/** Tries to satisfy the whole claim with one node's devices. */
export function allocateOnNode(
  claim: ResourceClaim,
  devices: readonly PoolDevice[],
  classes: ReadonlyMap<string, DeviceClass>,
  inUse: ReadonlySet<string>,
  gates: AllocatorGates = {},
): AllocationOutcome {
  const requests = claim.spec.devices?.requests ?? [];
  const constraints = claim.spec.devices?.constraints ?? [];
  // firstAvailable: each request picks one of its alternatives; try the combinations in order of preference
  const alternatives: ResolvedRequest[][] = requests.map((r) => {
    if (r.exactly) return [{ name: r.name, parent: r.name, exact: r.exactly }];
    return (r.firstAvailable ?? []).map((sub) => ({ name: `${r.name}/${sub.name}`, parent: r.name, exact: sub }));
  });
  if (alternatives.some((a) => a.length === 0))
    return { ok: false, reason: 'a request has neither exactly nor firstAvailable' };
  let lastReason = 'no devices';
  const combos = cartesian(alternatives, 256);
  for (const combo of combos) {
    const outcome = tryCombination(combo, devices, classes, inUse, constraints, gates);
    if (outcome.ok) return outcome;
    lastReason = outcome.reason;
  }
  return { ok: false, reason: lastReason };
}

function tryCombination(
  requests: ResolvedRequest[],
  devices: readonly PoolDevice[],
  classes: ReadonlyMap<string, DeviceClass>,
  inUse: ReadonlySet<string>,
  constraints: readonly { requests?: string[]; matchAttribute?: string }[],
  gates: AllocatorGates,
): AllocationOutcome {
  const slots: Slot[] = [];
  const problems: string[] = [];
  for (const req of requests) {
    const { free, matching, error } = candidatesFor(req, devices, classes, inUse, problems, gates);
    if (error) return { ok: false, reason: error };
    const mode = req.exact.allocationMode ?? 'ExactCount';
    let count: number;
    if (mode === 'All') {
      if (matching === 0) return { ok: false, reason: `request ${req.name}: no matching devices` };
      if (free.length < matching) return { ok: false, reason: `request ${req.name}: some matching devices are in use` };
      count = free.length;
    } else {
      count = req.exact.count ?? 1;
    }
    if (free.length < count) {
      const detail = problems.length ? ` (selector errors: ${problems.slice(0, 2).join('; ')})` : '';
      return { ok: false, reason: `request ${req.name}: needs ${count}, ${free.length} free devices match${detail}` };
    }
    for (let i = 0; i < count; i++) {
      slots.push({
        request: req.name,
        parent: req.parent,
        candidates: free,
        tolerations: req.exact.tolerations,
        sibling: i === 0 ? -1 : slots.length - 1,
      });
    }
  }
  // every slot needs its own device: without a matching that covers all slots (constraints aside), no search can
  // succeed, and proving that by backtracking costs factorial time
  if (!everySlotGetsADevice(slots)) {
    return { ok: false, reason: 'not enough free devices for all requests together' };
  }
  const applies = (c: { requests?: string[] }, slot: Slot) =>
    !c.requests || c.requests.length === 0 || c.requests.includes(slot.parent) || c.requests.includes(slot.request);
  const chosen: { slot: Slot; device: PoolDevice; index: number }[] = [];
  const taken = new Set<string>();
  // per constraint: the values every device it covers shares so far (the running intersection), set by the first
  // device placed; a new device must keep it non-empty
  const fixed: (ReadonlySet<string> | undefined)[] = constraints.map(() => undefined);
  let steps = 0;
  const search = (s: number): boolean => {
    if (s === slots.length) return true;
    if (++steps > 200_000) return false;
    const slot = slots[s]!;
    const start = slot.sibling >= 0 ? chosen[slot.sibling]!.index + 1 : 0;
    for (let i = start; i < slot.candidates.length; i++) {
      const d = slot.candidates[i]!;
      const key = deviceKey(d.driver, d.pool, d.device.name);
      if (taken.has(key)) continue;
      const saved = [...fixed];
      let ok = true;
      for (const [ci, c] of constraints.entries()) {
        if (!c.matchAttribute || !applies(c, slot)) continue;
        const attr = attributeOf(d, c.matchAttribute);
        const values = attr && attributeValueKeys(attr, gates.listTypeAttributes ?? false);
        if (!values) {
          ok = false;
          break;
        }
        const before = fixed[ci];
        const shared = before === undefined ? values : new Set([...before].filter((v) => values.has(v)));
        if (shared.size === 0) {
          ok = false;
          break;
        }
        fixed[ci] = shared;
      }
      if (ok) {
        taken.add(key);
        chosen.push({ slot, device: d, index: i });
        if (search(s + 1)) return true;
        chosen.pop();
        taken.delete(key);
      }
      for (let k = 0; k < fixed.length; k++) fixed[k] = saved[k];
    }
    return false;
  };
  if (!search(0)) {
    return { ok: false, reason: 'no combination of free devices satisfies the constraints' };
  }
  return {
    ok: true,
    results: chosen.map(({ slot, device }) => ({
      request: slot.request,
      driver: device.driver,
      pool: device.pool,
      device: device.device.name,
      ...(slot.tolerations && device.device.taints?.length ? { tolerations: slot.tolerations } : {}),
    })),
  };
}

/** Bipartite matching (augmenting paths) of slots to distinct candidate devices. */
function everySlotGetsADevice(slots: readonly Slot[]): boolean {
  const owner = new Map<string, number>();
  const keyOf = (d: PoolDevice) => deviceKey(d.driver, d.pool, d.device.name);
  const assign = (s: number, seen: Set<string>): boolean => {
    for (const d of slots[s]!.candidates) {
      const k = keyOf(d);
      if (seen.has(k)) continue;
      seen.add(k);
      const holder = owner.get(k);
      if (holder === undefined || assign(holder, seen)) {
        owner.set(k, s);
        return true;
      }
    }
    return false;
  };
  return slots.every((_, s) => assign(s, new Set()));
}

function cartesian<T>(lists: T[][], limit: number): T[][] {
  let out: T[][] = [[]];
  for (const list of lists) {
    const next: T[][] = [];
    for (const prefix of out) for (const item of list) if (next.length < limit) next.push([...prefix, item]);
    out = next;
  }
  return out;
}

/** Every device some claim already holds. */
export function devicesInUse(claims: readonly ResourceClaim[], except?: string): Set<string> {
  const inUse = new Set<string>();
  for (const c of claims) {
    if (except && c.metadata.uid === except) continue;
    for (const r of c.status?.allocation?.devices?.results ?? []) inUse.add(deviceKey(r.driver, r.pool, r.device));
  }
  return inUse;
}
