/**
 * NICs: /sys/class/net joined with /sys/class/infiniband by PCI address (FACTS.md §9). Purely virtual interfaces
 * (loopback, bridges, veths, bonds, tunnels: anything whose device lives under /sys/devices/virtual or that has no
 * `device` link) are not devices a pod can be given; they are returned separately for `discover --all`.
 */
import { join, relative } from 'node:path';
import type { RdmaPort } from './inventory.js';
import { intOrUndefined, type SysfsReader } from './sysfs-read.js';

const BDF_ELEMENT = /^[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$/i;

export interface RawInterface {
  ifName: string;
  /** PCI function the netdev belongs to (the nearest BDF on its device path) */
  pciAddress?: string;
  mac?: string;
  mtu?: number;
  speedMbps?: number;
  operState: string;
  carrier?: boolean;
  devPort: number;
  /** the device path had a paravirtual hop (virtio) or no PCI function */
  paravirtual: boolean;
}

export interface ExcludedInterface {
  ifName: string;
  reason: string;
}

export interface RdmaDevice {
  device: string;
  pciAddress?: string;
  ports: RdmaPort[];
  /** netdevs the RDMA device names in `device/net/` (used when there is no PCI link) */
  netdevs: string[];
}

/** The last PCI function on a resolved sysfs path. */
function lastBdf(path: string): string | undefined {
  const parts = path.split('/').filter((p) => BDF_ELEMENT.test(p));
  return parts.at(-1)?.toLowerCase();
}

export async function scanInterfaces(
  fs: SysfsReader,
): Promise<{ interfaces: RawInterface[]; excluded: ExcludedInterface[] }> {
  const dir = fs.abs('class/net');
  const names = (await fs.list(dir)).filter((n) => n !== 'bonding_masters');
  const interfaces: RawInterface[] = [];
  const excluded: ExcludedInterface[] = [];
  await Promise.all(
    names.map(async (ifName) => {
      const ifDir = join(dir, ifName);
      const link = await fs.link(ifDir);
      // gone between readdir and now (an interface deleted mid-scan): not virtual, just not there
      if (!link && !(await fs.exists(ifDir))) return;
      const real = link ?? ifDir;
      // resolve `device` from the interface's real directory: the link is relative to it, not to /sys/class/net
      const device = await fs.link(join(real, 'device'));
      if (!device && link && !(await fs.exists(real))) return; // a dangling class link: the netdev is gone
      const realRel = relative(fs.root, real);
      if (realRel.startsWith('devices/virtual/') || (!device && !lastBdf(realRel))) {
        excluded.push({ ifName, reason: await virtualReason(fs, ifDir, ifName) });
        return;
      }
      const devicePath = device ? relative(fs.root, device) : realRel;
      const [address, mtu, speed, operstate, carrier, devPort] = await Promise.all([
        fs.attr(join(ifDir, 'address')),
        fs.attr(join(ifDir, 'mtu')),
        fs.attr(join(ifDir, 'speed')),
        fs.attr(join(ifDir, 'operstate')),
        fs.attr(join(ifDir, 'carrier')),
        fs.attr(join(ifDir, 'dev_port')),
      ]);
      const pciAddress = lastBdf(devicePath) ?? lastBdf(realRel);
      const speedMbps = intOrUndefined(speed);
      const raw: RawInterface = {
        ifName,
        operState: operstate || 'unknown',
        devPort: intOrUndefined(devPort) ?? 0,
        paravirtual: !pciAddress || /\/virtio\d+(\/|$)/.test(devicePath),
      };
      if (pciAddress) raw.pciAddress = pciAddress;
      if (address && /^[0-9a-f]{2}(:[0-9a-f]{2})+$/i.test(address)) raw.mac = address.toLowerCase();
      const m = intOrUndefined(mtu);
      if (m !== undefined) raw.mtu = m;
      // speed is -1 (or EINVAL) while the link is down
      if (speedMbps !== undefined && speedMbps > 0) raw.speedMbps = speedMbps;
      if (carrier === '1' || carrier === '0') raw.carrier = carrier === '1';
      interfaces.push(raw);
    }),
  );
  interfaces.sort((a, b) => (a.ifName < b.ifName ? -1 : a.ifName > b.ifName ? 1 : 0));
  excluded.sort((a, b) => (a.ifName < b.ifName ? -1 : a.ifName > b.ifName ? 1 : 0));
  return { interfaces, excluded };
}

async function virtualReason(fs: SysfsReader, ifDir: string, ifName: string): Promise<string> {
  const [uevent, type] = await Promise.all([fs.attr(join(ifDir, 'uevent')), fs.attr(join(ifDir, 'type'))]);
  // ARPHRD_LOOPBACK = 772
  if (type === '772' || ifName === 'lo') return 'loopback';
  const devtype = /^DEVTYPE=(.+)$/m.exec(uevent ?? '')?.[1]?.trim();
  return devtype ? `virtual (${devtype})` : 'virtual';
}

export async function scanRdma(fs: SysfsReader): Promise<RdmaDevice[]> {
  const dir = fs.abs('class/infiniband');
  const names = await fs.list(dir);
  const devices = await Promise.all(
    names.map(async (device): Promise<RdmaDevice> => {
      const devDir = join(dir, device);
      const real = (await fs.link(devDir)) ?? devDir;
      const [pci, portNames, netdevs] = await Promise.all([
        fs.link(join(real, 'device')),
        fs.list(join(devDir, 'ports')),
        fs.list(join(devDir, 'device', 'net')),
      ]);
      const ports = await Promise.all(
        portNames
          .filter((p) => /^\d+$/.test(p))
          .map(async (p): Promise<RdmaPort> => {
            const portDir = join(devDir, 'ports', p);
            const [state, phys, rate, layer] = await Promise.all([
              fs.attr(join(portDir, 'state')),
              fs.attr(join(portDir, 'phys_state')),
              fs.attr(join(portDir, 'rate')),
              fs.attr(join(portDir, 'link_layer')),
            ]);
            const port: RdmaPort = {
              device,
              port: Number(p),
              state: enumValue(state) ?? 'UNKNOWN',
              physState: enumValue(phys) ?? 'Unknown',
              linkLayer: layer || 'Unknown',
            };
            const gbps = parseRate(rate);
            if (gbps !== undefined) port.rateGbps = gbps;
            return port;
          }),
      );
      ports.sort((a, b) => a.port - b.port);
      const out: RdmaDevice = { device, ports, netdevs };
      const bdf = pci ? lastBdf(relative(fs.root, pci)) : undefined;
      if (bdf) out.pciAddress = bdf;
      return out;
    }),
  );
  return devices;
}

/** `4: ACTIVE` → `ACTIVE`; `5: LinkUp` → `LinkUp`. */
function enumValue(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  const m = /^\s*\d+\s*:\s*(.+?)\s*$/.exec(raw);
  return (m ? m[1] : raw.trim()) || undefined;
}

/** `400 Gb/sec (4X NDR)` → 400; `2.5 Gb/sec (1X SDR)` → 2.5. */
function parseRate(raw: string | undefined): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*Gb\/sec/i.exec(raw ?? '');
  return m ? Number(m[1]) : undefined;
}

/** RDMA device → its user-verbs node (`mlx5_0` → `uverbs0`), from /sys/class/infiniband_verbs/uverbsN/ibdev. */
export async function scanUverbs(fs: SysfsReader): Promise<Map<string, string>> {
  const dir = fs.abs('class/infiniband_verbs');
  const names = (await fs.list(dir)).filter((n) => /^uverbs\d+$/.test(n));
  const pairs = await Promise.all(names.map(async (n) => [await fs.attr(join(dir, n, 'ibdev')), n] as const));
  const out = new Map<string, string>();
  for (const [ibdev, n] of pairs) if (ibdev) out.set(ibdev, n);
  return out;
}
