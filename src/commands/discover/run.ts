/** The body of `lockstep discover`, loaded only when the command runs. */

import { readdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import { stringify } from 'yaml';
import type { Inventory } from '../../../agent/discovery/inventory.js';
import { scanInventory } from '../../../agent/discovery/scan.js';
import { buildDevices, buildSlices } from '../../../agent/slices/builder.js';
import { CliError } from '../../cli/errors.js';
import { EXIT } from '../../cli/exit-codes.js';
import { DRIVER } from '../../contract/names.js';
import { errorMessage } from '../../errors.js';
import { VERSION } from '../../version.js';
import type { DiscoverOptions } from './index.js';
import { renderInventoryTable } from './table.js';

/**
 * Scans the machine and returns what to print and how many problems the scan met. A missing or unreadable sysfs
 * root is an error (one line naming the path): an empty inventory would read as "this machine has no devices".
 */
export async function discover(opts: DiscoverOptions): Promise<{ output: string; problems: number }> {
  await checkSysfsRoot(opts.sysfsRoot);
  const inventory = await scanInventory({
    sysfsRoot: opts.sysfsRoot,
    devRoot: opts.devRoot,
    nvidiaSmi: opts.nvidiaSmi,
    nvidiaSmiTimeoutMs: opts.nvidiaSmiTimeout,
    nodeName: opts.nodeName,
  });
  const output = opts.slices ? renderSlices(inventory, opts) : renderInventory(inventory, opts);
  return { output, problems: inventory.problems.length };
}

async function checkSysfsRoot(root: string): Promise<void> {
  try {
    await readdir(root);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new CliError(EXIT.failed, `sysfs root ${root} does not exist (--sysfs-root)`);
    if (code === 'ENOTDIR') throw new CliError(EXIT.failed, `sysfs root ${root} is not a directory (--sysfs-root)`);
    throw new CliError(EXIT.failed, `cannot read the sysfs root ${root}: ${errorMessage(err)}`);
  }
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
