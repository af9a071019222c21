import { comparePciBusIds, type DeviceRecord, naturalCompare } from './devices.js';

/**
 * Distance between two devices of one node, in `nvidia-smi topo -m` terms, derived only from what the agent
 * publishes (the plugin never reads a node). The published attributes name the nearest PCIe switch and the PCIe
 * root, not the whole path, so the mapping is:
 *
 *   X     the device itself
 *   NV#   two GPUs in one NVLink domain (`nvlinkDomain`, or the same `nvlinkClique` from older agents), # = the
 *         links between them: on an NVSwitch fabric each GPU reaches every other over all its active links
 *         (`nvlinkLinks`), so the fewer of the two (NV18 between H100 SXMs); plain NV when no count is published
 *   PIX   same nearest PCIe switch (`pcieSwitch`): at most one bridge between them
 *   PXB   same PCIe root, each below a switch but not the same one: several bridges, no host bridge
 *   PHB   same PCIe root otherwise: the path goes through the host bridge
 *   NODE  different roots on the same NUMA node (`numaNode`)
 *   SYS   different NUMA nodes, or a NUMA node not published: across the socket interconnect (the safe guess)
 */
export type Distance = 'X' | 'NV' | `NV${number}` | 'PIX' | 'PXB' | 'PHB' | 'NODE' | 'SYS';

export const DISTANCE_LEGEND: readonly [string, string][] = [
  ['X', 'self'],
  [
    'NV#',
    'both GPUs in one NVLink domain (nvlinkDomain), # NVLinks between them (nvlinkLinks; NV: count not published)',
  ],
  ['PIX', 'same PCIe switch (pcieSwitch)'],
  ['PXB', 'same PCIe root, below different switches (several bridges, no host bridge)'],
  ['PHB', 'same PCIe root, through the host bridge'],
  ['NODE', 'different PCIe roots on one NUMA node (numaNode)'],
  ['SYS', 'different NUMA nodes, or NUMA node not published'],
];

const RANK: Record<string, number> = { X: 0, NV: 1, PIX: 2, PXB: 3, PHB: 4, NODE: 5, SYS: 6 };
const rank = (d: Distance): number => (d.startsWith('NV') ? 1 : (RANK[d] ?? 6));

function nvlinked(a: DeviceRecord, b: DeviceRecord): boolean {
  if (a.type !== 'gpu' || b.type !== 'gpu') return false;
  if (a.nvlinkClique && a.nvlinkClique === b.nvlinkClique) return true;
  // a domain is node-local (`nvswitch` is the fabric of one node)
  return a.node === b.node && a.nvlinkDomain !== undefined && a.nvlinkDomain === b.nvlinkDomain;
}

export function distance(a: DeviceRecord, b: DeviceRecord): Distance {
  if (a.node === b.node && a.name === b.name) return 'X';
  if (nvlinked(a, b)) {
    return a.nvlinkLinks && b.nvlinkLinks ? `NV${Math.min(a.nvlinkLinks, b.nvlinkLinks)}` : 'NV';
  }
  if (a.pcieSwitch && a.pcieSwitch === b.pcieSwitch) return 'PIX';
  if (a.pcieRoot && a.pcieRoot === b.pcieRoot) return a.pcieSwitch && b.pcieSwitch ? 'PXB' : 'PHB';
  if (a.numaNode !== undefined && a.numaNode >= 0 && a.numaNode === b.numaNode) return 'NODE';
  return 'SYS';
}

/** A NIC worth pairing with an accelerator: on the PCI bus (not a bond, veth or bridge). */
function pairable(nic: DeviceRecord): boolean {
  return nic.type === 'nic' && nic.virtual !== true && nic.pciBusID !== undefined;
}

export interface NearestNic {
  nic: DeviceRecord;
  distance: Distance;
}

/**
 * The NIC nearest to a device of the same node: lowest distance class, then RDMA-capable first (what NCCL would
 * pick), then name.
 */
export function nearestNic(device: DeviceRecord, sameNode: readonly DeviceRecord[]): NearestNic | undefined {
  let best: NearestNic | undefined;
  for (const nic of sameNode) {
    if (nic === device || !pairable(nic) || nic.node !== device.node) continue;
    const d = distance(device, nic);
    if (!best) {
      best = { nic, distance: d };
      continue;
    }
    const byRank = rank(d) - rank(best.distance);
    const byRdma = (nic.rdma ? 0 : 1) - (best.nic.rdma ? 0 : 1);
    if (byRank < 0 || (byRank === 0 && (byRdma < 0 || (byRdma === 0 && nic.name < best.nic.name)))) {
      best = { nic, distance: d };
    }
  }
  return best;
}

interface TopoEntry {
  /** `GPU0`, `TPU0`, `NIC0`: as nvidia-smi labels them */
  label: string;
  device: DeviceRecord;
}

export interface TopoMatrix {
  node: string;
  entries: TopoEntry[];
  /** distances[i][j] between entries[i] and entries[j] */
  distances: Distance[][];
}

function byPciThenName(x: DeviceRecord, y: DeviceRecord): number {
  return comparePciBusIds(x.pciBusID, y.pciBusID) || naturalCompare(x.name, y.name);
}

/** GPUs, then TPUs, then PCI NICs, each in bus order, as `nvidia-smi topo -m` numbers them (GPU0 = lowest bus). */
export function topoMatrix(node: string, devices: readonly DeviceRecord[]): TopoMatrix {
  const mine = devices.filter((d) => d.node === node);
  const groups: [string, DeviceRecord[]][] = [
    ['GPU', mine.filter((d) => d.type === 'gpu').sort(byPciThenName)],
    ['TPU', mine.filter((d) => d.type === 'tpu').sort(byPciThenName)],
    ['NIC', mine.filter(pairable).sort(byPciThenName)],
  ];
  const entries: TopoEntry[] = groups.flatMap(([prefix, list]) =>
    list.map((device, i) => ({ label: `${prefix}${i}`, device })),
  );
  const distances = entries.map((a) => entries.map((b) => distance(a.device, b.device)));
  return { node, entries, distances };
}
