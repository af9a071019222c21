import { ClusterReadError, readAll } from '../cluster.js';
import type { VerbContext, View } from '../context.js';
import { buildInventory, type PublishedInventory } from '../model/devices.js';
import { buildNodes, type NodeRecord } from '../model/nodes.js';
import { age } from '../render/age.js';
import { type Column, red, renderTable } from '../render/table.js';
import type { Node } from '../wire.js';

export function driverSelector(driver: string, node?: string): string {
  return node ? `spec.driver=${driver},spec.nodeName=${node}` : `spec.driver=${driver}`;
}

/**
 * With -l, the selector picks Nodes by label; without it, Nodes are read only for what they add (taints, age), and
 * a user who may not list them still gets the device view, with a warning.
 */
export async function readNodes(ctx: VerbContext): Promise<Node[] | undefined> {
  try {
    return await ctx.reader.list('nodes', ctx.selector ? { labelSelector: ctx.selector } : {});
  } catch (err) {
    if (!ctx.selector && err instanceof ClusterReadError && err.failure === 'forbidden') {
      ctx.warn(`${err.message} (node taints and ages not shown)`);
      return undefined;
    }
    throw err;
  }
}

/** Restricts an inventory to the nodes a -l selector picked. */
export function selectNodes(
  inventory: PublishedInventory,
  nodes: readonly Node[] | undefined,
  selector: string | undefined,
) {
  if (!selector || !nodes) return inventory;
  const names = new Set(nodes.map((n) => n.metadata.name ?? ''));
  return {
    devices: inventory.devices.filter((d) => names.has(d.node)),
    pools: inventory.pools.filter((p) => names.has(p.node)),
  };
}

function nodeColumns(ctx: VerbContext): Column<NodeRecord>[] {
  const now = ctx.now();
  return [
    { header: 'NODE', cell: (r) => r.node },
    { header: 'ACCELERATORS', cell: (r) => r.accelerators },
    { header: 'NICS', cell: (r) => r.nics },
    { header: 'HEALTHY', cell: (r) => r.healthy },
    { header: 'UNHEALTHY', cell: (r) => r.unhealthy, colour: (t) => (t === '0' ? t : red(t)) },
    { header: 'TAINTED', cell: (r) => r.tainted },
    { header: 'AGENT', cell: (r) => r.agentVersion },
    { header: 'LAST PUBLISH', cell: (r) => (r.publishedAt ? age(r.publishedAt, now) : undefined) },
    { header: 'AGE', cell: (r) => age(r.created, now) },
    { header: 'MODELS', cell: (r) => r.models.join(','), wide: true },
    { header: 'DRIVER', cell: (r) => r.driverVersions.join(','), wide: true },
    { header: 'NODE TAINTS', cell: (r) => r.nodeTaints.join(','), wide: true },
  ];
}

export async function nodesVerb(ctx: VerbContext): Promise<View> {
  const [slices, nodes] = await readAll([
    ctx.reader.list('resourceslices', { fieldSelector: driverSelector(ctx.driver) }),
    readNodes(ctx),
  ]);
  const inventory = selectNodes(buildInventory(slices, ctx.driver), nodes, ctx.selector);
  const rows = buildNodes(inventory, nodes);
  return {
    data: { kind: 'NodeList', items: rows },
    names: () => rows.map((r) => `node/${r.node}`),
    table: () =>
      renderTable(rows, nodeColumns(ctx), { wide: ctx.output === 'wide', headers: ctx.headers, colour: ctx.colour }),
    empty: rows.length === 0 ? `No nodes with devices of ${ctx.driver} found.` : undefined,
  };
}
