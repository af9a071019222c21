import { CliError } from '../../cli/errors.js';
import { groupOfPod } from '../../contract/group-identity.js';
import { GROUP_STATES, servingFraction } from '../../contract/group-status.js';
import { LABEL_GROUP } from '../../contract/names.js';
import { ClusterReadError, readAll } from '../cluster.js';
import { isWide, type VerbContext, type View } from '../context.js';
import { toDate } from '../model/devices.js';
import { buildGroups, type GroupRecord, type MemberRecord } from '../model/groups.js';
import { age, humanDuration } from '../render/age.js';
import { ReasonCells } from '../render/reason.js';
import { type Column, cellText, healthColour, renderTable } from '../render/table.js';
import type { Event } from '../wire.js';

/**
 * Every pod lockstep injected carries the group label; which group it is in (an LWS replica, a JobSet child Job) is
 * read from the pod (src/contract/group-identity.ts), so `group NAME` lists them all and picks its group's.
 */
function groupSelector(selector: string | undefined): string {
  return selector ? `${LABEL_GROUP},${selector}` : LABEL_GROUP;
}

function groupColumns(ctx: VerbContext, reasons = new ReasonCells(isWide(ctx))): Column<GroupRecord>[] {
  const now = ctx.now();
  const columns: Column<GroupRecord>[] = [
    { header: 'NAME', cell: (g) => g.name },
    { header: 'SIZE', cell: (g) => g.size },
    { header: 'READY', cell: (g) => `${g.ready}/${g.size}` },
    { header: 'EPOCH', cell: (g) => g.epoch },
    { header: 'STATE', cell: (g) => g.state, colour: healthColour },
    { header: 'RESTARTS', cell: (g) => g.restarts },
    { header: 'LAST REASON', cell: (g) => reasons.cell(g.lastReason) },
    { header: 'LAST CHANGE', cell: (g) => (g.lastChange ? age(g.lastChange, now) : undefined) },
    { header: 'AGE', cell: (g) => age(g.created, now) },
    { header: 'SERVING', cell: (g) => servingCell(g, now), wide: true },
    { header: 'LAST RECOVERY', cell: (g) => lastRecoveryCell(g), wide: true },
    { header: 'LEADER', cell: (g) => g.leader, wide: true },
  ];
  return ctx.namespace === undefined ? [{ header: 'NAMESPACE', cell: (g) => g.namespace }, ...columns] : columns;
}

/** The share of its coordinator's life the group served (Running), e.g. `99.2%`; undefined before any status. */
function servingCell(g: GroupRecord, now: Date): string | undefined {
  if (!g.goodput || g.state === 'Unknown') return undefined;
  const fraction = servingFraction(g.goodput, g.state, now.getTime());
  return fraction === undefined ? undefined : percent(fraction);
}

function lastRecoveryCell(g: GroupRecord): string | undefined {
  const ms = g.goodput?.lastRecoveryMs;
  return ms === undefined ? undefined : seconds(ms);
}

const percent = (fraction: number) => `${(fraction * 100).toFixed(1)}%`;
const seconds = (ms: number) => (ms < 10_000 ? `${(ms / 1000).toFixed(2)}s` : humanDuration(ms));

/** `Serving:` of the describe view: the fraction, since when, and the time in each state. */
function servingField(g: GroupRecord, now: Date): string {
  if (!g.goodput || g.state === 'Unknown') return '<unknown>';
  const open = Math.max(0, now.getTime() - Date.parse(g.goodput.asOf)) / 1000;
  const spent = GROUP_STATES.map((state) => {
    const s = (g.goodput?.seconds[state] ?? 0) + (state === g.state ? open : 0);
    return [state, s] as const;
  }).filter(([, s]) => s > 0);
  const fraction = servingFraction(g.goodput, g.state, now.getTime());
  const parts = spent.map(([state, s]) => `${state} ${humanDuration(s * 1000)}`).join(', ');
  return `${fraction === undefined ? '<unknown>' : percent(fraction)} since ${g.goodput.since}${parts ? ` (${parts})` : ''}`;
}

/** `Last Recovery:` of the describe view: its duration, and how many recoveries by the loss that began them. */
function lastRecoveryField(g: GroupRecord): string {
  const goodput = g.goodput;
  if (!goodput || goodput.lastRecoveryMs === undefined) return '<none>';
  const byLoss = Object.entries(goodput.recoveriesByLoss ?? {})
    .map(([loss, n]) => `${loss} ${n}`)
    .join(', ');
  return `${seconds(goodput.lastRecoveryMs)} (${goodput.recoveries} ${goodput.recoveries === 1 ? 'recovery' : 'recoveries'}${byLoss ? `: ${byLoss}` : ''})`;
}

export async function groupsVerb(ctx: VerbContext): Promise<View> {
  const pods = await ctx.reader.list('pods', {
    ...(ctx.namespace === undefined ? {} : { namespace: ctx.namespace }),
    labelSelector: groupSelector(ctx.selector),
  });
  const groups = buildGroups(pods);
  return {
    data: { kind: 'GroupList', items: groups },
    names: () => groups.map((g) => `group/${g.name}`),
    table: () => {
      const reasons = new ReasonCells(isWide(ctx));
      const table = renderTable(groups, groupColumns(ctx, reasons), {
        wide: isWide(ctx),
        headers: ctx.headers,
        colour: ctx.colour,
      });
      return ctx.headers ? table + reasons.footer() : table;
    },
    empty: groups.length === 0 ? noneFound(ctx, 'groups') : undefined,
  };
}

export function noneFound(ctx: VerbContext, what: string): string {
  return ctx.namespace === undefined ? `No ${what} found.` : `No ${what} found in ${ctx.namespace} namespace.`;
}

const memberColumns = (reasons: ReasonCells): Column<MemberRecord>[] => [
  { header: 'RANK', cell: (m) => m.rank },
  { header: 'POD', cell: (m) => (m.podFound ? m.pod : `${m.pod} (gone)`) },
  { header: 'NODE', cell: (m) => m.node },
  { header: 'READY', cell: (m) => (m.ready ? 'True' : 'False'), colour: healthColour },
  { header: 'DEVICES', cell: (m) => m.devices, colour: healthColour },
  { header: 'RESTARTS', cell: (m) => m.restarts },
  { header: 'PHASE', cell: (m) => m.phase, wide: true },
  { header: 'REASON', cell: (m) => reasons.cell(m.reason) },
];

interface EventRow {
  type: string;
  reason: string;
  object: string;
  message: string;
  last?: Date;
}

function eventRows(events: readonly Event[], pods: ReadonlySet<string>): EventRow[] {
  return events
    .filter((e) => e.involvedObject.kind === 'Pod' && pods.has(e.involvedObject.name ?? ''))
    .map((e) => {
      const row: EventRow = {
        type: e.type ?? '',
        reason: e.reason ?? '',
        object: `pod/${e.involvedObject.name ?? ''}`,
        message: (e.message ?? '').replace(/\s*\n\s*/g, ' '),
      };
      const last = toDate(e.lastTimestamp) ?? toDate(e.eventTime) ?? toDate(e.metadata.creationTimestamp);
      if (last) row.last = last;
      return row;
    })
    .sort((x, y) => (x.last?.getTime() ?? 0) - (y.last?.getTime() ?? 0));
}

/** `group NAME`: the group as `kubectl describe` would show it, members as a table, then its pods' events. */
export async function groupVerb(ctx: VerbContext, name: string, defaultNamespace: string): Promise<View> {
  const namespace = ctx.namespace ?? defaultNamespace;
  const [pods, events] = await readAll([
    ctx.reader.list('pods', { namespace, labelSelector: groupSelector(ctx.selector) }),
    ctx.reader.list('events', { namespace, fieldSelector: 'involvedObject.kind=Pod' }).catch((err: unknown) => {
      if (err instanceof ClusterReadError && err.failure === 'forbidden') {
        ctx.warn(`${err.message} (events not shown)`);
        return [] as Event[];
      }
      throw err;
    }),
  ]);
  const group = buildGroups(pods).find((g) => g.name === name);
  if (!group) throw new CliError(1, `group "${name}" not found in namespace "${namespace}"`);
  // Events of every pod of the group, including pods the coordinator no longer lists.
  const podNames = new Set([
    ...group.members.map((m) => m.pod),
    ...pods.filter((p) => groupOfPod(p) === name).map((p) => p.metadata.name ?? ''),
  ]);
  const rows = eventRows(events, podNames);
  return {
    data: { kind: 'Group', ...group, events: rows },
    names: () => [`group/${group.name}`],
    table: () => renderGroup(ctx, group, rows),
  };
}

function renderGroup(ctx: VerbContext, g: GroupRecord, events: readonly EventRow[]): string {
  const now = ctx.now();
  const options = { wide: isWide(ctx), headers: ctx.headers, colour: ctx.colour };
  const reasons = new ReasonCells(isWide(ctx));
  const members = renderTable(g.members, memberColumns(reasons), options);
  if (!ctx.headers) return members;
  const paint = (text: string) => (ctx.colour ? healthColour(text) : text);
  const fields: [string, string][] = [
    ['Name', g.name],
    ['Namespace', g.namespace],
    ['Size', String(g.size)],
    ['Ready', `${g.ready}/${g.size}`],
    ['Epoch', cellText(g.epoch)],
    ['State', paint(g.state)],
    ['Restarts', String(g.restarts)],
    ['Last Reason', cellText(reasons.cell(g.lastReason))],
    ['Last Change', g.lastChange ? `${g.lastChange.toISOString()} (${age(g.lastChange, now)} ago)` : '<none>'],
    ['Serving', servingField(g, now)],
    ['Last Recovery', lastRecoveryField(g)],
    ['Leader', cellText(g.leader)],
  ];
  const width = Math.max(...fields.map(([k]) => k.length)) + 2;
  const head = fields.map(([k, v]) => `${`${k}:`.padEnd(width)}${v}`).join('\n');
  const eventColumns: Column<EventRow>[] = [
    { header: 'LAST SEEN', cell: (e) => age(e.last, now) },
    { header: 'TYPE', cell: (e) => e.type },
    { header: 'REASON', cell: (e) => e.reason },
    { header: 'OBJECT', cell: (e) => e.object },
    { header: 'MESSAGE', cell: (e) => reasons.cell(e.message) },
  ];
  const eventsText = events.length === 0 ? '<none>\n' : renderTable(events, eventColumns, options);
  return `${head}\n\nMembers:\n${members}\nEvents:\n${eventsText}${reasons.footer()}`;
}
