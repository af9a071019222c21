/**
 * NVIDIA XID codes the agent knows by name: number → short meaning → what an operator does about it. Our own wording,
 * from the facts in FACTS.md §9 and NVIDIA's public XID documentation (docs.nvidia.com/deploy/xid-errors). The table
 * itself is data, in xid-catalog.json (one code a line, lowest first), bundled with the code; it is checked here when
 * the module loads, so a bad entry fails every test that touches XIDs rather than a node in production. Codes not
 * listed there are still handled: they get a generic meaning and count as device faults unless ignored.
 */
import catalog from './xid-catalog.json' with { type: 'json' };

/** What fixes the fault, coarsest last. */
const XID_ACTIONS = [
  'none',
  'restart-app',
  'reset-gpu',
  'reboot',
  'check-nvlink',
  'check-hardware',
  'contact-support',
] as const;
export type XidAction = (typeof XID_ACTIONS)[number];

export interface XidInfo {
  xid: number;
  /** a label-value-safe slug (letters, digits, dashes), so `XID-<n>-<slug>` can be a taint value */
  slug: string;
  /** one line in words */
  meaning: string;
  action: XidAction;
}

/**
 * XIDs that NVIDIA's device plugin treats as the application's fault, not the device's (FACTS.md §9): recorded and
 * counted, but they do not make a device unhealthy.
 */
export const APPLICATION_XIDS: readonly number[] = [13, 31, 43, 45, 68, 109];

function isXidAction(value: string): value is XidAction {
  return (XID_ACTIONS as readonly string[]).includes(value);
}

/** One catalog row as the JSON holds it, checked: a positive code, a slug that fits a taint value, a known action. */
function checkedEntry(entry: { xid: number; slug: string; meaning: string; action: string }): XidInfo {
  const { xid, slug, meaning, action } = entry;
  if (!Number.isSafeInteger(xid) || xid <= 0 || !/^[a-z0-9]+(-[a-z0-9]+)*$/.test(slug) || !isXidAction(action)) {
    throw new Error(`xid-catalog.json: entry ${JSON.stringify(entry)} is not a valid XID entry`);
  }
  return { xid, slug, meaning, action };
}

const table: readonly XidInfo[] = catalog.map(checkedEntry);

const byNumber = new Map(table.map((info) => [info.xid, info]));

/** The catalog entry for `xid`, or a generic one for codes the table does not name. */
export function xidInfo(xid: number): XidInfo {
  return (
    byNumber.get(xid) ?? {
      xid,
      slug: 'device-fault',
      meaning: `XID ${xid} (not in the agent's catalog)`,
      action: 'contact-support',
    }
  );
}

/** All named entries, lowest code first (for docs and tests). */
export function xidCatalog(): readonly XidInfo[] {
  return table;
}
