/**
 * Writes sysfs entries the way the kernel lays them out (FACTS.md §9): device directories under
 * `devices/pci<dom>:<bus>/…`, `bus/pci/devices/<BDF>` links, netdevs under their device with a `class/net` link,
 * RDMA devices under `…/infiniband/` with a `class/infiniband` link, all links relative as the kernel writes them.
 */
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative } from 'node:path';

export interface SimPciFunction {
  address: string;
  /** `devices/pci0000:15/…/0000:19:00.0` */
  sysfsPath: string;
  vendorId: string;
  deviceId: string;
  classCode: string;
  subsystemVendorId?: string;
  subsystemDeviceId?: string;
  /** -1 = unknown */
  numaNode: number;
  linkSpeed?: string;
  linkWidth?: number;
  driver?: string;
  iommuGroup?: number;
}

async function put(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, content);
}

async function link(path: string, target: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await symlink(relative(dirname(path), target), path);
}

export async function writePciFunction(sys: string, f: SimPciFunction): Promise<void> {
  const dir = join(sys, f.sysfsPath);
  await mkdir(dir, { recursive: true });
  const files: [string, string][] = [
    ['vendor', `0x${f.vendorId}\n`],
    ['device', `0x${f.deviceId}\n`],
    ['class', `0x${f.classCode}\n`],
    ['numa_node', `${f.numaNode}\n`],
  ];
  // uevent as the kernel's pci_uevent() writes it (PCI_CLASS is %04X of the 24-bit class, so no leading zero)
  files.push([
    'uevent',
    `${f.driver ? `DRIVER=${f.driver}\n` : ''}PCI_CLASS=${Number.parseInt(f.classCode, 16).toString(16).toUpperCase()}\n` +
      `PCI_ID=${f.vendorId.toUpperCase()}:${f.deviceId.toUpperCase()}\n` +
      (f.subsystemVendorId && f.subsystemDeviceId
        ? `PCI_SUBSYS_ID=${f.subsystemVendorId.toUpperCase()}:${f.subsystemDeviceId.toUpperCase()}\n`
        : '') +
      `PCI_SLOT_NAME=${f.address}\n`,
  ]);
  if (f.subsystemVendorId) files.push(['subsystem_vendor', `0x${f.subsystemVendorId}\n`]);
  if (f.subsystemDeviceId) files.push(['subsystem_device', `0x${f.subsystemDeviceId}\n`]);
  if (f.linkSpeed) files.push(['current_link_speed', `${f.linkSpeed}\n`]);
  if (f.linkWidth !== undefined) files.push(['current_link_width', `${f.linkWidth}\n`]);
  await Promise.all(files.map(([n, c]) => writeFile(join(dir, n), c)));
  await link(join(sys, 'bus/pci/devices', f.address), dir);
  if (f.driver) {
    await mkdir(join(sys, 'bus/pci/drivers', f.driver), { recursive: true });
    await link(join(dir, 'driver'), join(sys, 'bus/pci/drivers', f.driver));
  }
  if (f.iommuGroup !== undefined) {
    const group = join(sys, 'kernel/iommu_groups', String(f.iommuGroup));
    await mkdir(join(group, 'devices'), { recursive: true });
    await link(join(dir, 'iommu_group'), group);
    await link(join(group, 'devices', f.address), dir);
  }
}

export interface SimNetdev {
  ifName: string;
  /** directory of the device the netdev hangs below (a PCI function dir, or a virtio dir below one) */
  deviceDir: string;
  mac: string;
  mtu: number;
  /** Mb/s, -1 when the link is down */
  speed: number;
  operstate: string;
  carrier: 0 | 1;
  devPort?: number;
}

export async function writeNetdev(sys: string, n: SimNetdev): Promise<void> {
  const dir = join(sys, n.deviceDir, 'net', n.ifName);
  await mkdir(dir, { recursive: true });
  await Promise.all([
    writeFile(join(dir, 'address'), `${n.mac}\n`),
    writeFile(join(dir, 'mtu'), `${n.mtu}\n`),
    writeFile(join(dir, 'speed'), `${n.speed}\n`),
    writeFile(join(dir, 'operstate'), `${n.operstate}\n`),
    writeFile(join(dir, 'carrier'), `${n.carrier}\n`),
    writeFile(join(dir, 'dev_port'), `${n.devPort ?? 0}\n`),
    writeFile(join(dir, 'type'), '1\n'),
    writeFile(join(dir, 'uevent'), `INTERFACE=${n.ifName}\nIFINDEX=2\n`),
  ]);
  await link(join(dir, 'device'), join(sys, n.deviceDir));
  await link(join(sys, 'class/net', n.ifName), dir);
}

export async function writeVirtualNetdev(
  sys: string,
  ifName: string,
  opts: { type?: number; devtype?: string; operstate?: string; mtu?: number } = {},
): Promise<void> {
  const dir = join(sys, 'devices/virtual/net', ifName);
  await mkdir(dir, { recursive: true });
  await Promise.all([
    writeFile(join(dir, 'type'), `${opts.type ?? 1}\n`),
    writeFile(join(dir, 'operstate'), `${opts.operstate ?? 'unknown'}\n`),
    writeFile(join(dir, 'mtu'), `${opts.mtu ?? 1500}\n`),
    writeFile(join(dir, 'address'), '00:00:00:00:00:00\n'),
    writeFile(join(dir, 'uevent'), `${opts.devtype ? `DEVTYPE=${opts.devtype}\n` : ''}INTERFACE=${ifName}\n`),
  ]);
  await link(join(sys, 'class/net', ifName), dir);
}

interface SimRdmaPort {
  port: number;
  /** files exactly as sysfs has them: `4: ACTIVE`, `5: LinkUp`, `400 Gb/sec (4X NDR)`, `Ethernet` */
  files: Record<string, string>;
}

export interface SimRdma {
  device: string;
  /** PCI function directory (below the sysfs root) */
  pciDir: string;
  /** device-level files (fw_ver, hca_type, board_id, node_guid…) */
  files: Record<string, string>;
  ports: SimRdmaPort[];
  uverbs: number;
}

export async function writeRdma(sys: string, r: SimRdma): Promise<void> {
  const dir = join(sys, r.pciDir, 'infiniband', r.device);
  await mkdir(dir, { recursive: true });
  await Promise.all(Object.entries(r.files).map(([n, c]) => put(join(dir, n), c)));
  for (const p of r.ports) {
    await Promise.all(Object.entries(p.files).map(([n, c]) => put(join(dir, 'ports', String(p.port), n), c)));
  }
  await link(join(dir, 'device'), join(sys, r.pciDir));
  await link(join(sys, 'class/infiniband', r.device), dir);
  const verbs = join(sys, r.pciDir, 'infiniband_verbs', `uverbs${r.uverbs}`);
  await put(join(verbs, 'ibdev'), `${r.device}\n`);
  await put(join(verbs, 'dev'), `231:${192 + r.uverbs}\n`);
  await link(join(sys, 'class/infiniband_verbs', basename(verbs)), verbs);
}
