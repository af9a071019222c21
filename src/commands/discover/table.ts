/**
 * `lockstep discover` as text: one table per device kind (upper-case headers, `<none>` for empty cells, as kubectl
 * prints), then the GPU↔NIC topology and anything the scan could not read. Pure: inventory in, text out.
 */
import type {
  GpuDevice,
  HealthReading,
  Inventory,
  NicDevice,
  OtherAccelerator,
  TpuDevice,
} from '../../../agent/discovery/inventory.js';

const NONE = '<none>';

/** Interface names can hold any byte but '/' and NUL: keep control characters out of the terminal. */
function printable(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: that is the point
  return /[\u0000-\u001f\u007f]/.test(s) ? JSON.stringify(s) : s;
}

function cell(v: string | number | undefined | null): string {
  if (v === undefined || v === null || v === '') return NONE;
  return printable(String(v));
}

function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => [...(r[i] ?? '')].length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c + ' '.repeat(widths[i]! - [...c].length)))
      .join('   ')
      .trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}

function health(h: HealthReading): string {
  return h.reason ? `${h.state} (${h.reason})` : h.state;
}

function gib(bytes: number | undefined): string | undefined {
  return bytes === undefined ? undefined : `${Math.round(bytes / 1024 ** 3)}Gi`;
}

/**
 * A titled table after a blank line. Without rows it is left out, or, for the kinds every node is expected to report,
 * says `<TITLE>: none found`.
 */
function section(
  title: string,
  headers: string[],
  rows: string[][],
  whenEmpty: 'omit' | 'say none' = 'omit',
): string[] {
  if (rows.length > 0) return ['', title, table(headers, rows)];
  return whenEmpty === 'say none' ? ['', `${title}: none found`] : [];
}

function gpuRow(g: GpuDevice): string[] {
  return [
    g.name,
    cell(g.model),
    g.pci.address,
    cell(g.pci.numaNode),
    cell(g.pci.pcieRoot),
    cell(g.pci.pcieSwitch),
    cell(gib(g.memoryBytes)),
    cell(g.computeCapability),
    g.migEnabled ? g.migDevices.map((m) => m.name).join(',') || 'enabled' : 'off',
    cell(g.uuid),
    health(g.health),
  ];
}

function tpuRow(t: TpuDevice): string[] {
  return [
    t.name,
    t.generation,
    t.pci.address,
    cell(t.pci.numaNode),
    cell(t.pci.pcieRoot),
    cell(t.deviceNodes.join(',')),
    health(t.health),
  ];
}

function acceleratorRow(a: OtherAccelerator): string[] {
  return [
    a.name,
    a.vendor,
    `${a.pci.vendorId}:${a.pci.deviceId}`,
    a.pci.classCode,
    a.pci.address,
    cell(a.pci.numaNode),
    cell(a.pci.pcieRoot),
    cell(a.pci.driver),
  ];
}

function nicRow(n: NicDevice): string[] {
  return [
    n.name,
    cell(n.ifName),
    cell(n.pciAddress),
    cell(n.pci?.numaNode),
    cell(n.pci?.pcieRoot),
    cell(n.pci?.pcieSwitch),
    cell(n.speedMbps === undefined ? undefined : `${n.speedMbps / 1000}G`),
    cell(n.mtu),
    n.sriovVf ? 'sriov-vf' : n.virtual ? 'virtual' : 'physical',
    cell(n.rdma.map((p) => `${p.device}/${p.port} ${p.linkLayer} ${p.state}`).join(', ')),
    n.operState,
    health(n.health),
  ];
}

/** One GPU's NICs: the nearest (all at the best distance), then the others with their distance. */
function affinityRow(a: Inventory['affinity'][number]): string[] {
  const best = a.nics[0];
  const near = best ? a.nics.filter((n) => n.distance === best.distance).map((n) => n.nic) : [];
  const rest = a.nics.filter((n) => !near.includes(n.nic)).map((n) => `${n.nic}:${n.distance}`);
  return [a.gpu, cell(near.join(',')), cell(best?.distance), cell(rest.join(' '))];
}

export function renderInventoryTable(inv: Inventory, opts: { all?: boolean } = {}): string {
  const gpus = inv.devices.filter((d): d is GpuDevice => d.kind === 'gpu');
  const tpus = inv.devices.filter((d): d is TpuDevice => d.kind === 'tpu');
  const accels = inv.devices.filter((d): d is OtherAccelerator => d.kind === 'accelerator');
  const nics = inv.devices.filter((d): d is NicDevice => d.kind === 'nic');
  const out = [
    `NODE: ${inv.node ?? NONE}   SCANNED: ${inv.scannedAt}`,
    ...section(
      'GPUS',
      ['NAME', 'MODEL', 'BUS ID', 'NUMA', 'PCIE ROOT', 'SWITCH', 'MEMORY', 'CC', 'MIG', 'UUID', 'HEALTH'],
      gpus.map(gpuRow),
      'say none',
    ),
    ...section('TPUS', ['NAME', 'GENERATION', 'BUS ID', 'NUMA', 'PCIE ROOT', 'DEVICE', 'HEALTH'], tpus.map(tpuRow)),
    ...section(
      'OTHER ACCELERATORS',
      ['NAME', 'VENDOR', 'PCI ID', 'CLASS', 'BUS ID', 'NUMA', 'PCIE ROOT', 'DRIVER'],
      accels.map(acceleratorRow),
    ),
    ...section(
      'NICS',
      ['NAME', 'IFNAME', 'BUS ID', 'NUMA', 'PCIE ROOT', 'SWITCH', 'SPEED', 'MTU', 'TYPE', 'RDMA', 'STATE', 'HEALTH'],
      nics.map(nicRow),
      'say none',
    ),
    ...section(
      'TOPOLOGY (GPU → NICs, nearest first)',
      ['GPU', 'NEAREST', 'DISTANCE', 'OTHERS'],
      inv.affinity.map(affinityRow),
    ),
  ];
  if (inv.affinity.length > 0) {
    const peers = gpus.filter((g) => g.nvlinkPeers.length > 0);
    out.push(
      ...section(
        'NVLINK',
        ['GPU', 'PEERS'],
        peers.map((g) => [g.name, g.nvlinkPeers.join(',')]),
      ),
    );
  }
  if (opts.all) {
    const excluded = inv.excludedInterfaces.map((e) => [printable(e.ifName), e.reason]);
    out.push(...section('EXCLUDED INTERFACES', ['IFNAME', 'REASON'], excluded));
  }
  const problems = inv.problems.map((p) => [printable(p.source), printable(p.message)]);
  out.push(...section('PROBLEMS', ['SOURCE', 'MESSAGE'], problems));
  return `${out.join('\n')}\n`;
}
