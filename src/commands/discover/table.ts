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

export function renderInventoryTable(inv: Inventory, opts: { all?: boolean } = {}): string {
  const out: string[] = [];
  const gpus = inv.devices.filter((d): d is GpuDevice => d.kind === 'gpu');
  const tpus = inv.devices.filter((d): d is TpuDevice => d.kind === 'tpu');
  const accels = inv.devices.filter((d): d is OtherAccelerator => d.kind === 'accelerator');
  const nics = inv.devices.filter((d): d is NicDevice => d.kind === 'nic');

  out.push(`NODE: ${inv.node ?? NONE}   SCANNED: ${inv.scannedAt}`);
  out.push('');
  if (gpus.length === 0) out.push('GPUS: none found');
  else {
    out.push('GPUS');
    out.push(
      table(
        ['NAME', 'MODEL', 'BUS ID', 'NUMA', 'PCIE ROOT', 'SWITCH', 'MEMORY', 'CC', 'MIG', 'UUID', 'HEALTH'],
        gpus.map((g) => [
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
        ]),
      ),
    );
  }
  if (tpus.length > 0) {
    out.push('', 'TPUS');
    out.push(
      table(
        ['NAME', 'GENERATION', 'BUS ID', 'NUMA', 'PCIE ROOT', 'DEVICE', 'HEALTH'],
        tpus.map((t) => [
          t.name,
          t.generation,
          t.pci.address,
          cell(t.pci.numaNode),
          cell(t.pci.pcieRoot),
          cell(t.deviceNodes.join(',')),
          health(t.health),
        ]),
      ),
    );
  }
  if (accels.length > 0) {
    out.push('', 'OTHER ACCELERATORS');
    out.push(
      table(
        ['NAME', 'VENDOR', 'PCI ID', 'CLASS', 'BUS ID', 'NUMA', 'PCIE ROOT', 'DRIVER'],
        accels.map((a) => [
          a.name,
          a.vendor,
          `${a.pci.vendorId}:${a.pci.deviceId}`,
          a.pci.classCode,
          a.pci.address,
          cell(a.pci.numaNode),
          cell(a.pci.pcieRoot),
          cell(a.pci.driver),
        ]),
      ),
    );
  }
  out.push('');
  if (nics.length === 0) out.push('NICS: none found');
  else {
    out.push('NICS');
    out.push(
      table(
        ['NAME', 'IFNAME', 'BUS ID', 'NUMA', 'PCIE ROOT', 'SWITCH', 'SPEED', 'MTU', 'TYPE', 'RDMA', 'STATE', 'HEALTH'],
        nics.map((n) => [
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
        ]),
      ),
    );
  }
  if (inv.affinity.length > 0) {
    out.push('', 'TOPOLOGY (GPU → NICs, nearest first)');
    out.push(
      table(
        ['GPU', 'NEAREST', 'DISTANCE', 'OTHERS'],
        inv.affinity.map((a) => {
          const best = a.nics[0];
          const near = best ? a.nics.filter((n) => n.distance === best.distance).map((n) => n.nic) : [];
          const rest = a.nics.filter((n) => !near.includes(n.nic)).map((n) => `${n.nic}:${n.distance}`);
          return [a.gpu, cell(near.join(',')), cell(best?.distance), cell(rest.join(' '))];
        }),
      ),
    );
    const peers = gpus.filter((g) => g.nvlinkPeers.length > 0);
    if (peers.length > 0) {
      out.push('', 'NVLINK');
      out.push(
        table(
          ['GPU', 'PEERS'],
          peers.map((g) => [g.name, g.nvlinkPeers.join(',')]),
        ),
      );
    }
  }
  if (opts.all && inv.excludedInterfaces.length > 0) {
    out.push('', 'EXCLUDED INTERFACES');
    out.push(
      table(
        ['IFNAME', 'REASON'],
        inv.excludedInterfaces.map((e) => [printable(e.ifName), e.reason]),
      ),
    );
  }
  if (inv.problems.length > 0) {
    out.push('', 'PROBLEMS');
    out.push(
      table(
        ['SOURCE', 'MESSAGE'],
        inv.problems.map((p) => [printable(p.source), printable(p.message)]),
      ),
    );
  }
  return `${out.join('\n')}\n`;
}
