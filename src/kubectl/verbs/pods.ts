import { readAll } from '../cluster.js';
import type { VerbContext, View } from '../context.js';
import { buildPods, type PodRecord } from '../model/pods.js';
import { age } from '../render/age.js';
import { type Column, healthColour, renderTable } from '../render/table.js';
import { noneFound } from './groups.js';

/** `7 Healthy, 1 Unhealthy (gpu-3)`: the kubelet's allocatedResourcesStatus in one cell. */
function allocatedSummary(p: PodRecord): string | undefined {
  if (p.allocated.length === 0) return undefined;
  const order = ['Healthy', 'Unhealthy', 'Unknown'] as const;
  return order
    .map((h) => {
      const these = p.allocated.filter((a) => a.health === h);
      if (these.length === 0) return '';
      const names = h === 'Healthy' ? '' : ` (${these.map((a) => a.device ?? a.resourceID).join(',')})`;
      return `${these.length} ${h}${names}`;
    })
    .filter((s) => s !== '')
    .join(', ');
}

function podColumns(ctx: VerbContext): Column<PodRecord>[] {
  const now = ctx.now();
  const columns: Column<PodRecord>[] = [
    { header: 'NAME', cell: (p) => p.name },
    { header: 'NODE', cell: (p) => p.node },
    { header: 'DEVICES', cell: (p) => p.devices.length },
    { header: 'HEALTH', cell: (p) => p.health, colour: healthColour },
    { header: 'ALLOCATED STATUS', cell: allocatedSummary },
    // the claims' status.devices, as the agent reports prepared devices: `3/3` Ready of those allocated
    {
      header: 'READY',
      cell: (p) => (p.reported.count === 0 ? undefined : `${p.reported.ready}/${p.devices.length}`),
    },
    { header: 'DEVICESHEALTHY', cell: (p) => p.condition?.status, colour: healthColour },
    { header: 'GROUP', cell: (p) => p.group },
    { header: 'AGE', cell: (p) => age(p.created, now) },
    { header: 'DEVICE NAMES', cell: (p) => p.devices.map((d) => d.device).join(','), wide: true },
    { header: 'CLAIMS', cell: (p) => p.claims.join(','), wide: true },
    { header: 'NETWORK', cell: (p) => p.reported.network.join(', ') || undefined, wide: true },
    { header: 'MESSAGE', cell: (p) => p.condition?.message ?? p.condition?.reason, wide: true },
  ];
  return ctx.namespace === undefined ? [{ header: 'NAMESPACE', cell: (p) => p.namespace }, ...columns] : columns;
}

export async function podsVerb(ctx: VerbContext): Promise<View> {
  const scope = ctx.namespace === undefined ? {} : { namespace: ctx.namespace };
  const [pods, claims] = await readAll([
    ctx.reader.list('pods', { ...scope, ...(ctx.selector ? { labelSelector: ctx.selector } : {}) }),
    ctx.reader.list('resourceclaims', scope),
  ]);
  const rows = buildPods(pods, claims, ctx.driver);
  return {
    data: { kind: 'PodList', items: rows },
    names: () => rows.map((r) => `pod/${r.name}`),
    table: () =>
      renderTable(rows, podColumns(ctx), { wide: ctx.output === 'wide', headers: ctx.headers, colour: ctx.colour }),
    empty: rows.length === 0 ? noneFound(ctx, 'pods with devices') : undefined,
  };
}
