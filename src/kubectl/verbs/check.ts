import { EXIT } from '../../cli/exit-codes.js';
import type { VerbContext, View } from '../context.js';
import { findProblems, type Problem } from '../model/check.js';
import { buildInventory } from '../model/devices.js';
import { buildGroups } from '../model/groups.js';
import { buildPods } from '../model/pods.js';
import { type Column, renderTable } from '../render/table.js';
import { driverSelector, readNodes, selectNodes } from './nodes.js';

/** Exit codes of `check` (FACTS.md §10, src/cli/exit-codes.ts): 0 all good, 1 problems, 2 usage, 3 could not check. */
export const EXIT_PROBLEMS = EXIT.failed;
export const EXIT_COULD_NOT_CHECK = EXIT.unavailable;

const columns: Column<Problem>[] = [
  { header: 'KIND', cell: (p) => p.kind },
  { header: 'OBJECT', cell: (p) => p.object },
  { header: 'PROBLEM', cell: (p) => p.problem },
];

/**
 * Devices and pools of every node (or of the nodes -l picks), pods and groups of the namespace scope. Three lists
 * (slices, pods, claims), whatever the cluster's size.
 */
export async function checkVerb(ctx: VerbContext): Promise<View> {
  const scope = ctx.namespace === undefined ? {} : { namespace: ctx.namespace };
  const [slices, pods, claims, nodes] = await Promise.all([
    ctx.reader.list('resourceslices', { fieldSelector: driverSelector(ctx.driver) }),
    ctx.reader.list('pods', scope),
    ctx.reader.list('resourceclaims', scope),
    ctx.selector ? readNodes(ctx) : Promise.resolve(undefined),
  ]);
  const inventory = selectNodes(buildInventory(slices, ctx.driver), nodes, ctx.selector);
  const result = findProblems({
    devices: inventory.devices,
    pools: inventory.pools,
    pods: buildPods(pods, claims, ctx.driver),
    groups: buildGroups(pods),
  });
  const { checked, problems } = result;
  const summary = `${checked.devices} devices on ${checked.nodes} nodes, ${checked.pods} pods with devices, ${checked.groups} groups`;
  const ok = problems.length === 0;
  return {
    data: { kind: 'Check', ok, checked, problems },
    table: () =>
      ok
        ? `OK: ${summary}: all healthy\n`
        : renderTable(problems, columns, { wide: false, headers: ctx.headers, colour: false }),
    ...(ok
      ? {}
      : {
          exitCode: EXIT_PROBLEMS,
          failure: `${problems.length} problem${problems.length === 1 ? '' : 's'} found (${summary})`,
        }),
  };
}
