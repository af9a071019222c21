import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Inventory } from '../../../agent/discovery/inventory.js';
import { DeviceHealthBoard } from '../../../agent/health/board.js';
import { KubeletPluginManager, type KubeletPluginOptions } from '../../../agent/kubelet/plugin.js';
import { silentLogger } from '../../../src/log.js';
import { h100Inventory, MemoryClaimReader } from './fixtures.js';

export interface PluginHarness {
  dir: string;
  registryDir: string;
  pluginDir: string;
  cdiDir: string;
  claims: MemoryClaimReader;
  board: DeviceHealthBoard;
  inventory: Inventory;
  plugin: KubeletPluginManager;
}

/** A plugin on short temp paths (unix socket paths are limited to 107 bytes). */
export async function startPlugin(overrides: Partial<KubeletPluginOptions> = {}, dir?: string): Promise<PluginHarness> {
  const root = dir ?? (await mkdtemp(join(tmpdir(), 'kp-')));
  const claims = (overrides.claims as MemoryClaimReader | undefined) ?? new MemoryClaimReader();
  const board = overrides.board ?? new DeviceHealthBoard();
  const inventory = h100Inventory();
  const plugin = new KubeletPluginManager({
    driver: 'lockstep.dev',
    nodeName: 'gpu-node-1',
    registryDir: join(root, 'reg'),
    pluginDir: join(root, 'plug'),
    cdiDir: join(root, 'cdi'),
    claims,
    board,
    inventory: () => inventory,
    log: silentLogger(),
    ...overrides,
  });
  await plugin.start();
  return {
    dir: root,
    registryDir: join(root, 'reg'),
    pluginDir: join(root, 'plug'),
    cdiDir: join(root, 'cdi'),
    claims,
    board,
    inventory,
    plugin,
  };
}
