/**
 * Reads the PCI bus from sysfs in two passes so a scan reads only what it needs: pass 1 reads, for every function,
 * the resolved path (readlink) and the class and vendor (two tiny files) — enough to build the tree and pick the
 * interesting functions; pass 2 reads the remaining attributes of only those functions. All reads run in parallel.
 */
import { basename, join, relative } from 'node:path';
import { isBdf } from './bdf.js';
import type { PciFunction } from './inventory.js';
import { type PciNode, PciTopology, pcieRootOf } from './pci-tree.js';
import { hexId, intOrUndefined, type SysfsReader } from './sysfs-read.js';

export interface PciEntry extends PciNode {
  vendorId: string;
  /** from uevent in pass 1 when the kernel provides it, else read in pass 2 */
  deviceId?: string;
  subsystemVendorId?: string;
  subsystemDeviceId?: string;
  /** from uevent: null = no driver bound; undefined = not known yet (read the `driver` link in pass 2) */
  driver?: string | null;
}

/**
 * A PCI function's `uevent` holds class, ids and driver in one small file (`DRIVER=nvidia`, `PCI_CLASS=30200`,
 * `PCI_ID=10DE:2330`, `PCI_SUBSYS_ID=10DE:16C1`), so pass 1 reads one file per function instead of three.
 */
function parseUevent(text: string | undefined): {
  classCode?: string;
  vendorId?: string;
  deviceId?: string;
  subsystemVendorId?: string;
  subsystemDeviceId?: string;
  driver?: string;
} {
  const out: ReturnType<typeof parseUevent> = {};
  for (const line of (text ?? '').split('\n')) {
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const k = line.slice(0, eq);
    const v = line.slice(eq + 1).trim();
    if (k === 'PCI_CLASS' && /^[0-9a-f]{1,6}$/i.test(v)) out.classCode = v.toLowerCase().padStart(6, '0');
    else if (k === 'PCI_ID' || k === 'PCI_SUBSYS_ID') {
      const m = /^([0-9a-f]{4}):([0-9a-f]{4})$/i.exec(v);
      if (!m) continue;
      if (k === 'PCI_ID') {
        out.vendorId = m[1]!.toLowerCase();
        out.deviceId = m[2]!.toLowerCase();
      } else {
        out.subsystemVendorId = m[1]!.toLowerCase();
        out.subsystemDeviceId = m[2]!.toLowerCase();
      }
    } else if (k === 'DRIVER' && v) out.driver = v;
  }
  return out;
}

export interface PciBus {
  entries: Map<string, PciEntry>;
  topology: PciTopology;
}

export async function scanPciBus(fs: SysfsReader): Promise<PciBus> {
  const dir = fs.abs('bus/pci/devices');
  const names = (await fs.list(dir)).filter(isBdf);
  const found = await Promise.all(
    names.map(async (name): Promise<PciEntry | undefined> => {
      const link = join(dir, name);
      const [target, uevent] = await fs.linkAndAttr(link, `${link}/uevent`);
      const ev = parseUevent(uevent);
      // snapshots without uevent: fall back to the class and vendor files
      const [cls, vendor] =
        ev.classCode && ev.vendorId
          ? [ev.classCode, ev.vendorId]
          : await Promise.all([fs.attr(join(link, 'class')), fs.attr(join(link, 'vendor'))]);
      // a function that vanished between readdir and here has no link and no files: leave it out
      if (target === undefined && cls === undefined) return undefined;
      const sysfsPath = target ? relative(fs.root, target) : `devices/${name}`;
      const entry: PciEntry = {
        address: name.toLowerCase(),
        sysfsPath,
        classCode: hexId(cls, 6) ?? '000000',
        vendorId: hexId(vendor, 4) ?? '0000',
        numaNode: null,
      };
      if (ev.deviceId) entry.deviceId = ev.deviceId;
      if (ev.subsystemVendorId) entry.subsystemVendorId = ev.subsystemVendorId;
      if (ev.subsystemDeviceId) entry.subsystemDeviceId = ev.subsystemDeviceId;
      if (uevent !== undefined) entry.driver = ev.driver ?? null;
      return entry;
    }),
  );
  const entries = new Map<string, PciEntry>();
  for (const e of found) if (e) entries.set(e.address, e);
  return { entries, topology: new PciTopology([...entries.values()]) };
}

/** Pass 2: every attribute of one function the inventory keeps. */
export async function readPciFunction(fs: SysfsReader, bus: PciBus, entry: PciEntry): Promise<PciFunction> {
  const dir = fs.abs(join('bus/pci/devices', entry.address));
  const knownIds = entry.deviceId !== undefined;
  const [device, subVendor, subDevice, numa, speed, width, iommu, driver, physfn] = await Promise.all([
    knownIds ? entry.deviceId : fs.attr(join(dir, 'device')),
    knownIds ? entry.subsystemVendorId : fs.attr(join(dir, 'subsystem_vendor')),
    knownIds ? entry.subsystemDeviceId : fs.attr(join(dir, 'subsystem_device')),
    fs.attr(join(dir, 'numa_node')),
    fs.attr(join(dir, 'current_link_speed')),
    fs.attr(join(dir, 'current_link_width')),
    fs.linkName(join(dir, 'iommu_group')),
    entry.driver !== undefined ? (entry.driver ?? undefined) : fs.linkName(join(dir, 'driver')),
    fs.link(join(dir, 'physfn')),
  ]);
  const numaNode = intOrUndefined(numa);
  entry.numaNode = numaNode === undefined || numaNode < 0 ? null : numaNode;
  entry.deviceId = hexId(device, 4);
  const fn: PciFunction = {
    address: entry.address,
    vendorId: entry.vendorId,
    deviceId: entry.deviceId ?? '0000',
    classCode: entry.classCode,
    numaNode: entry.numaNode,
    sysfsPath: entry.sysfsPath,
    pcieRoot: pcieRootOf(entry.sysfsPath) ?? '',
  };
  const sv = hexId(subVendor, 4);
  const sd = hexId(subDevice, 4);
  if (sv) fn.subsystemVendorId = sv;
  if (sd) fn.subsystemDeviceId = sd;
  // "Unknown" / "255" (x255) are what the kernel prints for links it cannot read (VMs, powered-down slots)
  if (speed && !/^unknown/i.test(speed)) fn.linkSpeed = speed;
  const w = intOrUndefined(width);
  if (w !== undefined && w > 0 && w < 255) fn.linkWidth = w;
  if (iommu) fn.iommuGroup = iommu;
  if (driver) fn.driver = driver;
  const sw = bus.topology.switchOf(entry.address);
  if (sw) fn.pcieSwitch = sw;
  if (physfn) fn.physfn = basename(physfn);
  return fn;
}
