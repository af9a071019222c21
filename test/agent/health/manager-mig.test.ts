import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuDevice } from '../../../agent/discovery/inventory.js';
import { scanInventory } from '../../../agent/discovery/scan.js';
import { DeviceHealthBoard } from '../../../agent/health/board.js';
import { HealthManager } from '../../../agent/health/manager.js';
import { buildSimulatedNode, type SimulatedNode } from '../../cluster/nodes/index.js';
import { waitFor } from './support.js';

let dir: string;
let node: SimulatedNode;
let manager: HealthManager;
let gpu: GpuDevice;
const board = new DeviceHealthBoard();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'health-mig-'));
  node = await buildSimulatedNode('a100-mig', join(dir, 'node'), { nodeName: 'a100-node' });
  const inventory = await scanInventory({
    sysfsRoot: node.sysfsRoot,
    devRoot: node.devRoot,
    nvidiaSmi: node.nvidiaSmiPath,
    nvidiaSmiTimeoutMs: 5000,
  });
  const found = inventory.devices.find((d): d is GpuDevice => d.kind === 'gpu');
  if (!found) throw new Error('no GPU on the a100-mig node');
  gpu = found;
  manager = new HealthManager({
    board,
    nodeName: 'a100-node',
    driverName: 'lockstep.dev',
    stateDir: join(dir, 'state'),
    kmsgPath: node.kmsgPath,
    sysfsRoot: node.sysfsRoot,
    nvidiaSmi: node.nvidiaSmiPath,
    nvidiaSmiTimeoutMs: 2000,
    healthIntervalMs: 3_600_000,
    linkStableMs: 1000,
  });
  manager.setInventory(inventory);
  await manager.start();
});
afterAll(async () => {
  await manager.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('HealthManager on the authored A100 model with MIG enabled (test/cluster/nodes/a100-mig-model.ts)', () => {
  it('puts the MIG devices on the board with their GPU, and an XID on the GPU marks every one of them', async () => {
    expect(gpu.migEnabled).toBe(true);
    const migs = gpu.migDevices.map((m) => m.name);
    expect(migs.length).toBeGreaterThan(0);
    for (const m of migs) expect(board.get(m)?.state).toBe('healthy');
    const [domain, bus, dev] = gpu.pci.address.split(/[:.]/);
    await node.appendKernelLog(
      `NVRM: Xid (PCI:${domain}:${bus}:${dev}): 48, pid=7, name=python, DBE (double bit error) ECC error`,
    );
    await waitFor(() => board.get(gpu.name)?.state === 'unhealthy', 'the GPU unhealthy');
    for (const m of migs) {
      expect(board.get(m)).toMatchObject({ state: 'unhealthy', reason: 'XID-48-double-bit-ecc', source: 'xid' });
      expect(board.get(m)?.message).toContain(`${gpu.name}: XID 48`);
    }
    await manager.clearXid([gpu.name]);
    for (const m of migs) expect(board.get(m)?.state).toBe('healthy');
  });
});
