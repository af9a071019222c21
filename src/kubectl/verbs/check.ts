import { EXIT } from '../../cli/exit-codes.js';
import { readAll } from '../cluster.js';
import { isWide, type VerbContext, type View } from '../context.js';
import { findProblems, type Problem } from '../model/check.js';
import { buildInventory, withTaintRules } from '../model/devices.js';
import { buildGroups } from '../model/groups.js';
import { buildPods } from '../model/pods.js';
import { ReasonCells } from '../render/reason.js';
import { type Column, renderTable } from '../render/table.js';
import { count } from '../render/words.js';
import { readTaintRules } from './devices.js';
import { driverSelector, readNodes, selectNodes } from './nodes.js';

/** Exit codes of `check` (FACTS.md §10, src/cli/exit-codes.ts): 0 all good, 1 problems, 2 usage, 3 could not check. */
const EXIT_PROBLEMS = EXIT.failed;
export const EXIT_COULD_NOT_CHECK = EXIT.unavailable;

const columns = (reasons: ReasonCells): Column<Problem>[] => [
  { header: 'KIND', cell: (p) => p.kind },
  { header: 'OBJECT', cell: (p) => p.object },
  { header: 'PROBLEM', cell: (p) => reasons.cell(p.problem) },
];

/**
 * Devices and pools of every node (or of the nodes -l picks), pods and groups of the namespace scope. Three lists
 * (slices, pods, claims), whatever the cluster's size.
 */
export async function checkVerb(ctx: VerbContext): Promise<View> {
  const scope = ctx.namespace === undefined ? {} : { namespace: ctx.namespace };
  const [slices, pods, claims, nodes, rules] = await readAll([
    ctx.reader.list('resourceslices', { fieldSelector: driverSelector(ctx.driver) }),
    ctx.reader.list('pods', scope),
    ctx.reader.list('resourceclaims', scope),
    ctx.selector ? readNodes(ctx) : Promise.resolve(undefined),
    readTaintRules(ctx),
  ]);
  const inventory = selectNodes(buildInventory(slices, ctx.driver), nodes, ctx.selector);
  const result = findProblems({
    devices: withTaintRules(inventory.devices, rules, ctx.driver),
    pools: inventory.pools,
    pods: buildPods(pods, claims, ctx.driver),
    groups: buildGroups(pods),
  });
  const { checked } = result;
  const problems = [...result.problems];
  // nothing published is not "all healthy": no agent runs, or it cannot write its slices
  if (inventory.pools.length === 0) problems.unshift(noAgentProblem(ctx));
  const summary = [
    `${count(checked.devices, 'device')} on ${count(checked.nodes, 'node')}`,
    count(checked.pods, 'pod with devices', 'pods with devices'),
    count(checked.groups, 'group'),
  ].join(', ');
  const ok = problems.length === 0;
  return {
    data: { kind: 'Check', ok, checked, problems },
    names: () => problems.map((p) => `${p.kind}/${p.object}`),
    table: () => (ok ? `OK: ${summary}: all healthy\n` : problemTable(ctx, problems)),
    ...(ok
      ? {}
      : {
          exitCode: EXIT_PROBLEMS,
          failure: `${count(problems.length, 'problem')} found (${summary})`,
        }),
  };
}

function noAgentProblem(ctx: VerbContext): Problem {
  return {
    kind: 'agent',
    object: ctx.selector ? `nodes matching ${ctx.selector}` : 'cluster',
    problem: `no lockstep agent has published devices (no ResourceSlices of driver ${ctx.driver}): is the agent DaemonSet running?`,
  };
}

function problemTable(ctx: VerbContext, problems: readonly Problem[]): string {
  const reasons = new ReasonCells(isWide(ctx));
  const table = renderTable(problems, columns(reasons), { wide: isWide(ctx), headers: ctx.headers, colour: false });
  return ctx.headers ? table + reasons.footer() : table;
}
