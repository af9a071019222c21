/**
 * The plugin as a real process for the kill -9 test (crash.test.ts bundles and runs it). Claims come from a JSON
 * file the test edits (`<root>/claims.json`: "ns/name" → ResourceClaim), standing in for the API.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DeviceHealthBoard } from '../../../agent/health/board.js';
import type { ResourceClaimLike } from '../../../agent/kubelet/claims.js';
import { KubeletPluginManager } from '../../../agent/kubelet/plugin.js';
import { silentLogger } from '../../../src/log.js';
import { h100Inventory } from './fixtures.js';

const root = process.env.CRASH_ROOT;
if (!root) throw new Error('CRASH_ROOT not set');

const inventory = h100Inventory();
const plugin = new KubeletPluginManager({
  driver: 'lockstep.dev',
  nodeName: 'gpu-node-1',
  registryDir: join(root, 'reg'),
  pluginDir: join(root, 'plug'),
  cdiDir: join(root, 'cdi'),
  claims: {
    async get(namespace: string, name: string): Promise<ResourceClaimLike | undefined> {
      const all = JSON.parse(await readFile(join(root, 'claims.json'), 'utf8')) as Record<string, ResourceClaimLike>;
      return all[`${namespace}/${name}`];
    },
  },
  board: new DeviceHealthBoard(),
  inventory: () => inventory,
  log: silentLogger(),
});
await plugin.start();
process.stdout.write(`ready ${JSON.stringify(plugin.reconcileReport())}\n`);
