/**
 * PCI topology from resolved sysfs paths, as pure functions: the PCIe root (the `resource.kubernetes.io/pcieRoot`
 * attribute), the nearest PCIe switch above a device, and the distance class between two devices as
 * `nvidia-smi topo -m` names it (FACTS.md §9).
 *
 * A resolved path looks like `devices/pci0000:15/0000:15:01.0/0000:16:00.0/0000:17:01.0/0000:19:00.0`: the root
 * complex directory, then one element per PCI function from the root port down to the device. In a Hyper-V or Azure
 * VM the root complex sits below the VMBus device that carries it, one per passed-through device:
 * `devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0004:00/VMBUS:00/<instance guid>/pci0001:00/0001:00:00.0`; the root is still
 * the `pci<domain>:<bus>` element, wherever it sits, never the first element below `devices/`.
 */
import type { DistanceClass } from './inventory.js';

const BDF_ELEMENT = /^[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i;

/** What the topology functions need to know about each function on the bus. */
export interface PciNode {
  address: string;
  /** below the sysfs root, no leading slash: `devices/pci0000:15/…/0000:19:00.0` */
  sysfsPath: string;
  /** 6 hex digits */
  classCode: string;
  numaNode: number | null;
}

/** A root complex's directory: `pci<domain>:<bus>` (4 hex digits of domain, 8 where the kernel prints more). */
const ROOT_ELEMENT = /^pci[0-9a-f]{4,8}:[0-9a-f]{2}$/i;

/** Index of the root complex element in the split path (-1 when there is none). */
function rootIndex(parts: readonly string[]): number {
  const devices = parts.indexOf('devices');
  if (devices < 0) return -1;
  for (let i = devices + 1; i < parts.length; i++) if (ROOT_ELEMENT.test(parts[i]!)) return i;
  return -1;
}

/**
 * `resource.kubernetes.io/pcieRoot`: the root complex element `pci<domain>:<bus>` of the resolved
 * `/sys/bus/pci/devices/<BDF>` link (KEP-4381; FACTS.md §4), e.g. `pci0000:16`, also below a VMBus device
 * (`…/VMBUS:01/<guid>/pci0001:00/…` → `pci0001:00`). Undefined when the path has no root complex element.
 */
export function pcieRootOf(sysfsPath: string): string | undefined {
  const parts = sysfsPath.split('/').filter(Boolean);
  const i = rootIndex(parts);
  return i >= 0 ? parts[i] : undefined;
}

/** The PCI functions on the path from the root complex down to (and including) the device itself. */
export function pciChain(sysfsPath: string): string[] {
  const parts = sysfsPath.split('/').filter(Boolean);
  const i = rootIndex(parts);
  return i >= 0 ? parts.slice(i + 1).filter((p) => BDF_ELEMENT.test(p)) : [];
}

const isBridge = (classCode: string | undefined) => classCode?.startsWith('0604') === true;

/**
 * Finds the nearest PCIe switch above each device and returns the BDF of its upstream port.
 *
 * sysfs has no "port type" file readable without root (it is in the PCIe capability of `config`), so switches are
 * recognised by shape: a switch's upstream port is a PCI bridge whose parent is a bridge (a root port or a downstream
 * port of another switch) and whose children are bridges (its downstream ports). This tells a switch from a
 * PCIe-to-PCI bridge below a root port (its children are endpoints) and from a root port (its parent is the root
 * complex directory).
 */
export class PciTopology {
  private readonly byAddress = new Map<string, PciNode>();
  private readonly children = new Map<string, string[]>();

  constructor(nodes: readonly PciNode[]) {
    for (const n of nodes) this.byAddress.set(n.address, n);
    for (const n of nodes) {
      const chain = pciChain(n.sysfsPath);
      const parent = chain.length >= 2 ? chain[chain.length - 2] : undefined;
      if (parent) {
        const list = this.children.get(parent) ?? [];
        list.push(n.address);
        this.children.set(parent, list);
      }
    }
  }

  node(address: string): PciNode | undefined {
    return this.byAddress.get(address);
  }

  /** True when the bridge at `address` is the upstream port of a PCIe switch (see the class comment). */
  isSwitchUpstreamPort(address: string): boolean {
    const n = this.byAddress.get(address);
    if (!n || !isBridge(n.classCode)) return false;
    const chain = pciChain(n.sysfsPath);
    const parent = chain.length >= 2 ? chain[chain.length - 2] : undefined;
    if (!parent || !isBridge(this.byAddress.get(parent)?.classCode)) return false;
    const kids = this.children.get(address) ?? [];
    return kids.length > 0 && kids.every((k) => isBridge(this.byAddress.get(k)?.classCode));
  }

  /** BDF of the upstream port of the nearest switch above `address` (undefined when none). */
  switchOf(address: string): string | undefined {
    const n = this.byAddress.get(address);
    if (!n) return undefined;
    const chain = pciChain(n.sysfsPath);
    for (let i = chain.length - 2; i >= 0; i--) {
      if (this.isSwitchUpstreamPort(chain[i]!)) return chain[i];
    }
    return undefined;
  }

  /**
   * Distance class between two devices, from the lowest common ancestor of their resolved paths:
   * - different root complexes: NODE when both sit on the same NUMA node (both unknown counts as the same: a VM
   *   without NUMA information is one node), else SYS;
   * - same root complex, no common PCI function above them: PHB (traffic turns at the host bridge);
   * - common ancestor is a PCI function: PIX when each device is at most one bridge below it (two ports of one
   *   switch, or two functions of one card), else PXB.
   */
  distance(a: string, b: string): DistanceClass {
    const na = this.byAddress.get(a);
    const nb = this.byAddress.get(b);
    if (!na || !nb) return 'SYS';
    const rootA = pcieRootOf(na.sysfsPath);
    const rootB = pcieRootOf(nb.sysfsPath);
    if (rootA !== rootB) return na.numaNode === nb.numaNode ? 'NODE' : 'SYS';
    const ca = pciChain(na.sysfsPath);
    const cb = pciChain(nb.sysfsPath);
    let common = 0;
    while (common < ca.length && common < cb.length && ca[common] === cb[common]) common++;
    if (common === 0) return 'PHB';
    // functions strictly between the common ancestor and each device
    const belowA = ca.length - common - 1;
    const belowB = cb.length - common - 1;
    if (belowA < 0 || belowB < 0) return 'PIX'; // one device is an ancestor of the other
    return Math.max(belowA, belowB) <= 1 ? 'PIX' : 'PXB';
  }
}

const ORDER: Record<DistanceClass, number> = { PIX: 0, PXB: 1, PHB: 2, NODE: 3, SYS: 4 };

export function compareDistance(a: DistanceClass, b: DistanceClass): number {
  return ORDER[a] - ORDER[b];
}
