/**
 * Device names are hardware identity: when a GPU in the middle of the bus falls off (XID 79) and a NIC vanishes, every
 * other device keeps its name and its published entry, and every prepared claim keeps its devices and CDI spec — on
 * the authored 8x H100 HGX model (test/cluster/nodes/h100-hgx-model.ts) and on the recorded 8x H100 node where present.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Inventory } from '../../../agent/discovery/inventory.js';
import { scanInventory } from '../../../agent/discovery/scan.js';
import { CdiDirectory } from '../../../agent/kubelet/cdi.js';
import { CheckpointStore } from '../../../agent/kubelet/checkpoint.js';
import { servedDevices } from '../../../agent/kubelet/plugin.js';
import { ClaimPreparer } from '../../../agent/kubelet/preparer.js';
import type { Claim } from '../../../agent/kubeletplugin/protos.js';
import { buildDevices } from '../../../agent/slices/builder.js';
import type { SliceDevice } from '../../../src/kube/types.js';
import { silentLogger } from '../../../src/log.js';
import { buildSimulatedNode, type SimulatedNode } from '../../cluster/nodes/index.js';
import { describeRecorded } from '../../support/recorded.js';
import { MemoryClaimReader } from '../kubelet/fixtures.js';

const DRIVER = 'lockstep.dev';
const NODE = 'gpu-node-1';
const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});
async function tempDir(prefix: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

interface Machine {
  sysfsRoot: string;
  devRoot: string;
  nvidiaSmiPath: string;
  removePciDevice(bdf: string): Promise<void>;
  /** nvidia-smi stops listing the GPU, as after XID 79 */
  dropFromSmi(bdf: string): Promise<void>;
}

/** A claim allocated on this node's pool, as the scheduler writes it. */
function allocate(reader: MemoryClaimReader, name: string, devices: string[]): Claim {
  const uid = `uid-${name}`;
  reader.put({
    metadata: { name, namespace: 'ml', uid },
    status: {
      allocation: {
        devices: { results: devices.map((device) => ({ request: 'r', driver: DRIVER, pool: NODE, device })) },
      },
    },
  });
  return { uid, name, namespace: 'ml' };
}

async function cdiFiles(dir: string): Promise<Record<string, string>> {
  const names = (await readdir(dir)).sort();
  return Object.fromEntries(await Promise.all(names.map(async (n) => [n, await readFile(join(dir, n), 'utf8')])));
}

/**
 * The whole check: publish and prepare, take a middle GPU and a NIC away, rescan, restart the plugin's state machine,
 * and compare. `gpus` names three GPUs in bus order (the middle one is removed); `nic` a NIC to remove; `held` the
 * devices two claims hold (on the GPUs after the gap, where positional names would have moved).
 */
async function checkStable(
  m: Machine,
  removed: { gpu: string; nic: string },
  held: { a: string[]; b: string[]; c: string },
): Promise<void> {
  const work = await tempDir('stable-');
  let inventory: Inventory = await scanInventory({
    sysfsRoot: m.sysfsRoot,
    devRoot: m.devRoot,
    nvidiaSmi: m.nvidiaSmiPath,
    nvidiaSmiTimeoutMs: 10_000,
    nodeName: NODE,
  });
  const before = buildDevices(inventory).devices;
  const reader = new MemoryClaimReader();
  const claimA = allocate(reader, 'a', held.a);
  const claimB = allocate(reader, 'b', held.b);
  const preparer = () =>
    new ClaimPreparer({
      driver: DRIVER,
      nodeName: NODE,
      poolName: NODE,
      cdi: new CdiDirectory(join(work, 'cdi')),
      checkpoint: new CheckpointStore(join(work, 'checkpoint.json'), DRIVER, NODE),
      claims: reader,
      devices: () => servedDevices(inventory),
      health: () => undefined,
      devRoot: m.devRoot,
      log: silentLogger(),
    });
  const first = preparer();
  await first.reconcile();
  const prepared = await first.prepare([claimA, claimB]);
  expect(Object.values(prepared).map((r) => r.error)).toEqual(['', '']);
  const specsBefore = await cdiFiles(join(work, 'cdi'));

  await m.removePciDevice(removed.gpu);
  await m.dropFromSmi(removed.gpu);
  await m.removePciDevice(removed.nic);
  inventory = await scanInventory({
    sysfsRoot: m.sysfsRoot,
    devRoot: m.devRoot,
    nvidiaSmi: m.nvidiaSmiPath,
    nvidiaSmiTimeoutMs: 10_000,
    nodeName: NODE,
  });
  const after = buildDevices(inventory).devices;

  // the two devices are gone; every other device has its old name and exactly its old entry
  const goneNames = before
    .filter((d) => [removed.gpu, removed.nic].includes(d.attributes?.['resource.kubernetes.io/pciBusID']?.string ?? ''))
    .map((d) => d.name);
  expect(goneNames).toHaveLength(2);
  const byName = new Map<string, SliceDevice>(before.map((d) => [d.name, d]));
  expect(after.map((d) => d.name)).toEqual(before.map((d) => d.name).filter((n) => !goneNames.includes(n)));
  for (const d of after) expect(d).toEqual(byName.get(d.name));

  // a restarted plugin keeps both claims and their specs, and answers the kubelet exactly as before
  const second = preparer();
  const report = await second.reconcile();
  expect(report).toMatchObject({ claimsDropped: [], specsRewritten: [], orphanSpecsRemoved: [] });
  expect(await second.prepare([claimA, claimB])).toEqual(prepared);
  expect(await cdiFiles(join(work, 'cdi'))).toEqual(specsBefore);

  // a new claim on the GPU right after the gap gets that GPU (its UUID), not the one that used to sit there
  const claimC = allocate(reader, 'c', [held.c]);
  const third = await second.prepare([claimC]);
  expect(third[claimC.uid]?.error).toBe('');
  const gpu = inventory.devices.find((d) => d.name === held.c);
  expect(gpu?.kind).toBe('gpu');
  const specC = (await cdiFiles(join(work, 'cdi')))[`k8s.lockstep.dev-claim_${claimC.uid}.json`] ?? '';
  expect(specC).toContain(gpu?.kind === 'gpu' ? `NVIDIA_VISIBLE_DEVICES=${gpu.uuid}` : 'no gpu');
}

/** The node as a Machine: nvidia-smi stops listing a GPU by printing its XML without that GPU's element. */
function machine(node: SimulatedNode): Machine {
  return {
    ...node,
    dropFromSmi: async (bdf) => {
      const xml = await node.nvidiaSmiXml();
      const id = `0000${bdf.toUpperCase()}`;
      const start = xml.indexOf(`<gpu id="${id}">`);
      expect(start).toBeGreaterThan(0);
      const end = xml.indexOf('</gpu>', start) + '</gpu>'.length;
      await node.setNvidiaSmi({ xml: xml.slice(0, start) + xml.slice(end) });
    },
  };
}

describe('stable device identity on the authored HGX model (8x H100 + ConnectX-7)', () => {
  it('removing the second GPU and the second ConnectX-7 renames nothing and disturbs no prepared claim', async () => {
    const node = await buildSimulatedNode('h100-hgx', await tempDir('hgx-'), { nodeName: NODE });
    await checkStable(
      machine(node),
      { gpu: '0000:3b:00.0', nic: '0000:3c:00.0' },
      // GPU 9b was gpu-4 and would have become gpu-3; bb was gpu-5 and would have become gpu-4
      {
        a: ['gpu-0000-9b-00-0', 'nic-0000-9c-00-0'],
        b: ['gpu-0000-bb-00-0', 'nic-0000-01-00-0'],
        c: 'gpu-0000-9b-00-0',
      },
    );
  });
});

describeRecorded('stable device identity on the recorded 8x H100 node', () => {
  it('removing GPU 4c:00.0 and ConnectX-7 4d:00.0 renames nothing and disturbs no prepared claim', async () => {
    const node = await buildSimulatedNode('h100-hgx-recorded', await tempDir('h100-'), { nodeName: NODE });
    await checkStable(
      machine(node),
      { gpu: '0000:4c:00.0', nic: '0000:4d:00.0' },
      {
        a: ['gpu-0000-5d-00-0', 'nic-0000-5e-00-0'],
        b: ['gpu-0000-db-00-0', 'nic-0000-dc-00-0'],
        c: 'gpu-0000-9b-00-0',
      },
    );
  });
});
