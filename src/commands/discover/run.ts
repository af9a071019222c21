/** The body of `lockstep discover`, loaded only when the command runs. */
import { hostname } from 'node:os';
import { stringify } from 'yaml';
import type { Inventory } from '../../../agent/discovery/inventory.js';
import { scanInventory } from '../../../agent/discovery/scan.js';
import { buildDevices, buildSlices } from '../../../agent/slices/builder.js';
import { DRIVER } from '../../contract/names.js';
import { VERSION } from '../../version.js';
import type { DiscoverOptions } from './index.js';
import { renderInventoryTable } from './table.js';

/** Scans the machine and returns what to print. */
export async function discover(opts: DiscoverOptions): Promise<string> {
  const inventory = await scanInventory({
    sysfsRoot: opts.sysfsRoot,
    devRoot: opts.devRoot,
    nvidiaSmi: opts.nvidiaSmi,
    nvidiaSmiTimeoutMs: opts.nvidiaSmiTimeout,
    nodeName: opts.nodeName,
  });
  return opts.slices ? renderSlices(inventory, opts) : renderInventory(inventory, opts);
}

function renderInventory(inventory: Inventory, opts: DiscoverOptions): string {
  // virtual interfaces are not part of the inventory proper: shown only when asked for
  const shown: Inventory = opts.all ? inventory : { ...inventory, excludedInterfaces: [] };
  if (opts.output === 'json') return `${JSON.stringify(shown, null, 2)}\n`;
  if (opts.output === 'yaml') return stringify(shown);
  return renderInventoryTable(shown, { all: opts.all });
}

/** The ResourceSlices the agent would publish for this inventory (generation 1, no node UID known here). */
function renderSlices(inventory: Inventory, opts: DiscoverOptions): string {
  const nodeName = opts.nodeName ?? hostname();
  const built = buildDevices(inventory);
  const slices = buildSlices({ driver: DRIVER, nodeName, agentVersion: VERSION }, built.devices, 1);
  for (const p of built.problems) process.stderr.write(`warning: ${p.device}: ${p.message}\n`);
  const list = { apiVersion: 'v1', kind: 'List', items: slices };
  if (opts.output === 'json') return `${JSON.stringify(list, null, 2)}\n`;
  return stringify(list);
}
