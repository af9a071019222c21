import { ClusterReadError, readAll } from '../cluster.js';
import type { VerbContext, View } from '../context.js';
import { deviceKey, type Holder, holdersByDevice } from '../model/claims.js';
import { buildInventory, type DeviceRecord, isAccelerator, type TaintView, withTaintRules } from '../model/devices.js';
import { nearestNic } from '../model/topology.js';
import { ReasonCells } from '../render/reason.js';
import { type Column, healthColour, renderTable } from '../render/table.js';
import type { DeviceTaintRule, ResourceClaim } from '../wire.js';
import { driverSelector, readNodes, selectNodes } from './nodes.js';

interface DeviceRow extends DeviceRecord {
  nearestNic?: { name: string; ifName?: string; distance: string };
  holder?: Holder;
}

function deviceRows(devices: readonly DeviceRecord[], holders: ReadonlyMap<string, Holder>): DeviceRow[] {
  const byNode = new Map<string, DeviceRecord[]>();
  for (const d of devices) {
    const list = byNode.get(d.node);
    if (list) list.push(d);
    else byNode.set(d.node, [d]);
  }
  return devices.map((d) => {
    const row: DeviceRow = { ...d };
    if (isAccelerator(d)) {
      const near = nearestNic(d, byNode.get(d.node) ?? []);
      if (near) {
        row.nearestNic = {
          name: near.nic.name,
          ...(near.nic.ifName ? { ifName: near.nic.ifName } : {}),
          distance: near.distance,
        };
      }
    }
    const holder = holders.get(deviceKey(d.pool, d.name));
    if (holder) row.holder = holder;
    return row;
  });
}

function deviceColumns(
  ctx: VerbContext,
  showNode: boolean,
  reasons = new ReasonCells(ctx.output === 'wide'),
): Column<DeviceRow>[] {
  // a holder outside the namespace in scope is named with its namespace, so it never reads as one of this namespace
  const ns = (h: Holder | undefined, name: string | undefined) =>
    h && name !== undefined ? (h.namespace === ctx.namespace ? name : `${h.namespace}/${name}`) : undefined;
  const columns: Column<DeviceRow>[] = [
    { header: 'NAME', cell: (r) => r.name },
    { header: 'TYPE', cell: (r) => r.type },
    { header: 'MODEL', cell: (r) => r.model },
    { header: 'HEALTH', cell: (r) => r.health, colour: healthColour },
    { header: 'REASON', cell: (r) => reasons.cell(r.reason) },
    { header: 'TAINTS', cell: (r) => r.taints.map(taintCell).join(',') },
    { header: 'PCIE ROOT', cell: (r) => r.pcieRoot },
    { header: 'SWITCH', cell: (r) => r.pcieSwitch },
    { header: 'NUMA', cell: (r) => r.numaNode },
    { header: 'NIC', cell: (r) => (r.nearestNic ? `${r.nearestNic.name}(${r.nearestNic.distance})` : undefined) },
    { header: 'CLAIM', cell: (r) => ns(r.holder, r.holder?.claim) },
    { header: 'POD', cell: (r) => ns(r.holder, r.holder?.pods.join(',')) },
    { header: 'PCI', cell: (r) => r.pciBusID, wide: true },
    { header: 'UUID', cell: (r) => r.uuid, wide: true },
    { header: 'MEMORY', cell: (r) => r.memory, wide: true },
    { header: 'DRIVER', cell: (r) => r.driverVersion, wide: true },
    { header: 'IFNAME', cell: (r) => r.ifName, wide: true },
  ];
  return showNode ? [{ header: 'NODE', cell: (r) => r.node }, ...columns] : columns;
}

/** `key:Effect`, and for an admin's taint the DeviceTaintRule that set it: `key:Effect(rule/NAME)`. */
function taintCell(t: TaintView): string {
  return t.rule === undefined ? `${t.key}:${t.effect}` : `${t.key}:${t.effect}(rule/${t.rule})`;
}

/**
 * The cluster's DeviceTaintRules. A cluster that does not serve the kind (no DRADeviceTaintRules gate: 404) has none;
 * one the user may not list them on is shown without them, with a warning, as for Node objects.
 */
export async function readTaintRules(ctx: VerbContext): Promise<DeviceTaintRule[]> {
  try {
    return await ctx.reader.list('devicetaintrules', {});
  } catch (err) {
    if (err instanceof ClusterReadError && err.failure === 'not-found') return [];
    if (err instanceof ClusterReadError && err.failure === 'forbidden') {
      ctx.warn(`${err.message} (administrators' device taints not shown)`);
      return [];
    }
    throw err;
  }
}

/**
 * Claims of every namespace: a device is held whatever namespace the claim is in, and `-n` scopes what a user lists,
 * not whether a device is free. Someone who may read claims only in their namespace still sees those holders, with a
 * warning that others may be missing.
 */
async function readClaims(ctx: VerbContext): Promise<ResourceClaim[]> {
  try {
    return await ctx.reader.list('resourceclaims', {});
  } catch (err) {
    if (!(err instanceof ClusterReadError && err.failure === 'forbidden') || ctx.namespace === undefined) throw err;
    ctx.warn(`${err.message} (holders outside namespace ${ctx.namespace} not shown)`);
    return ctx.reader.list('resourceclaims', { namespace: ctx.namespace });
  }
}

/** `devices [NODE]`: one request for the slices (by field selector), one for the claims of every namespace. */
export async function devicesVerb(ctx: VerbContext, node: string | undefined): Promise<View> {
  const [slices, claims, nodes, rules] = await readAll([
    ctx.reader.list('resourceslices', { fieldSelector: driverSelector(ctx.driver, node) }),
    readClaims(ctx),
    ctx.selector ? readNodes(ctx) : Promise.resolve(undefined),
    readTaintRules(ctx),
  ]);
  const inventory = selectNodes(buildInventory(slices, ctx.driver), nodes, ctx.selector);
  const devices = withTaintRules(inventory.devices, rules, ctx.driver);
  const rows = deviceRows(devices, holdersByDevice(claims, ctx.driver));
  return {
    data: { kind: 'DeviceList', items: rows },
    names: () => rows.map((r) => `device/${r.node}/${r.name}`),
    table: () =>
      renderTable(rows, deviceColumns(ctx, node === undefined), {
        wide: ctx.output === 'wide',
        headers: ctx.headers,
        colour: ctx.colour,
      }),
    empty:
      rows.length === 0
        ? node
          ? `No devices of ${ctx.driver} found on node ${node}.`
          : `No devices of ${ctx.driver} found.`
        : undefined,
  };
}
