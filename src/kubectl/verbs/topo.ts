import { CliError } from '../../cli/errors.js';
import type { VerbContext, View } from '../context.js';
import { buildInventory } from '../model/devices.js';
import { DISTANCE_LEGEND, type TopoMatrix, topoMatrix } from '../model/topology.js';
import { type Column, renderTable } from '../render/table.js';
import { driverSelector } from './nodes.js';

function describeEntry(m: TopoMatrix, i: number): string {
  const { label, device } = m.entries[i]!;
  const details = device.type === 'nic' ? [device.rdmaDevice, device.ifName] : [device.model];
  const extra = details.filter((d): d is string => !!d).join(', ');
  return `  ${label}: ${device.name}${extra ? ` (${extra})` : ''}`;
}

/** The matrix as `nvidia-smi topo -m` lays it out, plus the legend that says how each class was derived. */
function renderTopo(m: TopoMatrix, headers: boolean): string {
  const rows = m.entries.map((_, i) => i);
  const columns: Column<number>[] = [
    { header: '', cell: (i) => m.entries[i]!.label },
    ...m.entries.map((e, j) => ({ header: e.label, cell: (i: number) => m.distances[i]![j] })),
    { header: 'NUMA Affinity', cell: (i) => m.entries[i]!.device.numaNode ?? 'N/A' },
  ];
  // nvidia-smi keeps its mixed-case header; renderTable upper-cases, so restore the one mixed-case cell after.
  const table = renderTable(rows, columns, { wide: false, headers, colour: false }).replace(
    'NUMA AFFINITY',
    'NUMA Affinity',
  );
  if (!headers) return table;
  const legend = [
    '',
    'Legend (derived from the published attributes):',
    '',
    ...DISTANCE_LEGEND.map(([k, v]) => `  ${k.padEnd(4)} = ${v}`),
    '',
    'Devices:',
    '',
    ...m.entries.map((_, i) => describeEntry(m, i)),
    '',
  ];
  return `${table}${legend.join('\n')}`;
}

export async function topoVerb(ctx: VerbContext, node: string): Promise<View> {
  const slices = await ctx.reader.list('resourceslices', { fieldSelector: driverSelector(ctx.driver, node) });
  const inventory = buildInventory(slices, ctx.driver);
  const m = topoMatrix(node, inventory.devices);
  if (m.entries.length === 0) {
    throw new CliError(1, `node "${node}" has no GPUs, TPUs or PCI NICs published by ${ctx.driver}`);
  }
  const data = {
    kind: 'Topology',
    node,
    devices: m.entries.map((e) => ({
      label: e.label,
      name: e.device.name,
      type: e.device.type,
      ...(e.device.model ? { model: e.device.model } : {}),
      ...(e.device.pciBusID ? { pciBusID: e.device.pciBusID } : {}),
      ...(e.device.numaNode !== undefined ? { numaNode: e.device.numaNode } : {}),
      ...(e.device.pcieRoot ? { pcieRoot: e.device.pcieRoot } : {}),
      ...(e.device.pcieSwitch ? { pcieSwitch: e.device.pcieSwitch } : {}),
      ...(e.device.nvlinkClique ? { nvlinkClique: e.device.nvlinkClique } : {}),
    })),
    matrix: Object.fromEntries(
      m.entries.map((a, i) => [a.label, Object.fromEntries(m.entries.map((b, j) => [b.label, m.distances[i]![j]]))]),
    ),
  };
  return {
    data,
    names: () => m.entries.map((e) => `device/${node}/${e.device.name}`),
    table: () => renderTopo(m, ctx.headers),
  };
}
