/**
 * Parses a recorded `lspci -vvv` (no -nn, no domain: all functions in domain 0000) into the facts a sysfs tree needs,
 * and places every function in the PCI tree from the bridges' `Bus: primary=, secondary=, subordinate=` lines.
 *
 * Without -nn, lspci prints names, not ids. Class names map to class codes by the PCI class table (pci.ids `C`
 * section); vendor and device names map to ids by the pci.ids entries in the tables below, for the names that occur
 * in the recordings; `Device 2330` already is the id.
 */

export interface LspciFunction {
  /** `0000:19:00.0` */
  address: string;
  bus: number;
  className: string;
  /** 6 hex digits (class, subclass, prog-if) */
  classCode: string;
  vendorId: string;
  deviceId: string;
  subsystemVendorId?: string;
  subsystemDeviceId?: string;
  description: string;
  numaNode?: number;
  /** as sysfs writes it: `32.0 GT/s PCIe` */
  linkSpeed?: string;
  linkWidth?: number;
  driver?: string;
  secondaryBus?: number;
  subordinateBus?: number;
  /** PCIe port type from the Express capability line (`Root Port`, `Upstream Port`, `Downstream Port`, `Endpoint`) */
  portType?: string;
  /** sysfs path below the sysfs root: `devices/pci0000:15/0000:15:01.0/…/0000:19:00.0` */
  sysfsPath: string;
}

/** PCI class names (pci.ids) → class + subclass. */
const CLASSES: Record<string, string> = {
  'Host bridge': '0600',
  'ISA bridge': '0601',
  'PCI bridge': '0604',
  Bridge: '0680',
  '3D controller': '0302',
  'VGA compatible controller': '0300',
  'Display controller': '0380',
  'Ethernet controller': '0200',
  'Network controller': '0280',
  'Infiniband controller': '0207',
  'Non-Volatile memory controller': '0108',
  'SATA controller': '0106',
  'Serial Attached SCSI controller': '0107',
  'RAID bus controller': '0104',
  'Memory controller': '0580',
  'RAM memory': '0500',
  'System peripheral': '0880',
  'Communication controller': '0780',
  'Serial bus controller': '0c80',
  'USB controller': '0c03',
  SMBus: '0c05',
  'Performance counters': '1101',
  'Signal processing controller': '1180',
  'Processing accelerators': '1200',
  'Audio device': '0403',
};

/** Vendor names as lspci prints them → PCI vendor id (pci.ids). */
const VENDORS: [string, string][] = [
  ['Intel Corporation', '8086'],
  ['NVIDIA Corporation', '10de'],
  ['Mellanox Technologies', '15b3'],
  ['Broadcom / LSI', '1000'],
  ['Broadcom Inc. and subsidiaries', '14e4'],
  ['PMC-Sierra Inc.', '11f8'],
  ['Micron Technology Inc', '1344'],
  ['Matrox Electronics Systems Ltd.', '102b'],
  ['PLDA', '1556'],
  ['Dell', '1028'],
];

/** Device names as lspci prints them → PCI device id (pci.ids), for the named devices in the recordings. */
const DEVICES: Record<string, string> = {
  'MT2910 Family [ConnectX-7]': '1021',
  'MT2892 Family [ConnectX-6 Dx]': '101d',
  'PEX890xx PCIe Gen 5 Switch': 'c030',
  'PCIe Switch management endpoint': '00b2',
  'NVMe DC SSD [3DNAND, Sentinel Rock Controller]': '0b60',
  'NetXtreme BCM5720 Gigabit Ethernet PCIe': '165f',
  'Integrated Matrox G200eW3 Graphics Controller': '0536',
  'PCI Express Bridge': 'be00',
};

function vendorAndDevice(text: string): { vendorId: string; deviceId: string } {
  const t = text
    .replace(/\s*\(rev [0-9a-f]+\)/i, '')
    .replace(/\s*\(prog-if .*$/, '')
    .trim();
  for (const [name, id] of VENDORS) {
    if (t.startsWith(`${name} `)) {
      const rest = t.slice(name.length + 1).trim();
      const m = /^Device ([0-9a-f]{4})$/i.exec(rest);
      const deviceId = m ? m[1]!.toLowerCase() : DEVICES[rest];
      if (!deviceId) throw new Error(`lspci: no device id known for "${rest}" (vendor ${name})`);
      return { vendorId: id, deviceId };
    }
  }
  throw new Error(`lspci: unknown vendor in "${t}"`);
}

/** Detail lines of a record and what each sets. */
const FIELDS: [RegExp, (r: LspciFunction, m: RegExpExecArray) => void][] = [
  [
    /^Subsystem: (.+)$/,
    (r, m) => {
      try {
        const sub = vendorAndDevice(m[1]!);
        r.subsystemVendorId = sub.vendorId;
        r.subsystemDeviceId = sub.deviceId;
      } catch {
        // subsystem names without a known id stay unset
      }
    },
  ],
  [/^NUMA node: (\d+)$/, (r, m) => (r.numaNode = Number(m[1]))],
  [
    /^LnkSta:\s+Speed ([\d.]+)GT\/s[^,]*, Width x(\d+)/,
    (r, m) => {
      const gts = Number(m[1]);
      r.linkSpeed = `${Number.isInteger(gts) ? gts.toFixed(1) : String(gts)} GT/s PCIe`;
      r.linkWidth = Number(m[2]);
    },
  ],
  [/^Kernel driver in use: (\S+)$/, (r, m) => (r.driver = m[1])],
  [
    /^Bus: primary=([0-9a-f]{2}), secondary=([0-9a-f]{2}), subordinate=([0-9a-f]{2})/,
    (r, m) => {
      r.secondaryBus = Number.parseInt(m[2]!, 16);
      r.subordinateBus = Number.parseInt(m[3]!, 16);
    },
  ],
  [
    /^Capabilities: \[[0-9a-f]+\] Express \(v\d\) (Root Port|Upstream Port|Downstream Port|Endpoint|Legacy Endpoint|PCI-Express to PCI\/PCI-X Bridge|Root Complex Integrated Endpoint)/,
    (r, m) => (r.portType = m[1]),
  ],
];

const HEADER = /^([0-9a-f]{2}):([0-9a-f]{2})\.([0-7]) ([^:]+): (.+)$/;

export function parseLspciVvv(text: string): LspciFunction[] {
  const records: LspciFunction[] = [];
  let cur: LspciFunction | undefined;
  for (const line of text.split('\n')) {
    const h = HEADER.exec(line);
    if (h) {
      const [, bus, dev, fn, classPart, rest] = h as unknown as [string, string, string, string, string, string];
      const bracket = /^(.*?) \[([0-9a-f]{4})\]$/i.exec(classPart);
      const className = bracket ? bracket[1]! : classPart;
      const cls = bracket ? bracket[2]!.toLowerCase() : CLASSES[className];
      if (!cls) throw new Error(`lspci: unknown class "${classPart}" at ${bus}:${dev}.${fn}`);
      const progIf = /\(prog-if ([0-9a-f]{2})/i.exec(rest)?.[1] ?? '00';
      cur = {
        address: `0000:${bus}:${dev}.${fn}`,
        bus: Number.parseInt(bus, 16),
        className,
        classCode: `${cls}${progIf}`.toLowerCase(),
        ...vendorAndDevice(rest),
        description: rest,
        sysfsPath: '',
      };
      records.push(cur);
      continue;
    }
    if (!cur) continue;
    const t = line.trim();
    const rec = cur;
    for (const [re, apply] of FIELDS) {
      const m = re.exec(t);
      if (m) {
        apply(rec, m);
        break;
      }
    }
  }
  placeInTree(records);
  return records;
}

/** A function on bus B sits below the bridge whose secondary bus is B; buses no bridge forwards to are root buses. */
function placeInTree(records: LspciFunction[]): void {
  const bridgeFor = new Map<number, LspciFunction>();
  for (const r of records) if (r.secondaryBus !== undefined) bridgeFor.set(r.secondaryBus, r);
  const pathOf = (r: LspciFunction, depth = 0): string => {
    if (r.sysfsPath) return r.sysfsPath;
    if (depth > 64) throw new Error(`lspci: bridge loop at ${r.address}`);
    const parent = bridgeFor.get(r.bus);
    r.sysfsPath = parent
      ? `${pathOf(parent, depth + 1)}/${r.address}`
      : `devices/pci0000:${r.bus.toString(16).padStart(2, '0')}/${r.address}`;
    return r.sysfsPath;
  };
  for (const r of records) pathOf(r);
}
