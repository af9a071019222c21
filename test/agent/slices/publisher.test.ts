import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import type { GpuDevice, Inventory, NicDevice } from '../../../agent/discovery/inventory.js';
import { scanInventory } from '../../../agent/discovery/scan.js';
import { DeviceHealthBoard } from '../../../agent/health/board.js';
import { SlicePublisher } from '../../../agent/slices/publisher.js';
import { KubeClient } from '../../../src/kube/client.js';
import { loadKubeConfig } from '../../../src/kube/config.js';
import type { ResourceSlice } from '../../../src/kube/types.js';
import { type ApiServer, startApiServer } from '../../cluster/apiserver/index.js';
import { buildSimulatedNode } from '../../cluster/nodes/index.js';
import { waitFor } from '../../kube/wait.js';
import { REPO_ROOT } from '../../support/paths.js';
import { h100Inventory } from './h100-inventory.js';

const DRIVER = 'lockstep.dev';
const fast = { initialMs: 20, maxMs: 200 };

interface Harness {
  api: ApiServer;
  client: KubeClient;
  publishers: SlicePublisher[];
}

async function startHarness(taints: boolean): Promise<Harness> {
  const api = await startApiServer({ featureGates: { DRADeviceTaints: taints }, bookmarkIntervalMs: 500 });
  const client = new KubeClient(loadKubeConfig({ kubeconfig: api.kubeconfigPath }));
  return { api, client, publishers: [] };
}

async function stopHarness(h: Harness | undefined): Promise<void> {
  if (!h) return;
  await Promise.all(h.publishers.map((p) => p.stop()));
  h.client.close();
  await h.api.stop();
}

function publisher(h: Harness, nodeName: string, extra: Partial<ConstructorParameters<typeof SlicePublisher>[0]> = {}) {
  const p = new SlicePublisher({ client: h.client, driver: DRIVER, nodeName, backoff: fast, ...extra });
  h.publishers.push(p);
  return p;
}

function slicesOf(h: Harness, node: string): ResourceSlice[] {
  return (h.api.store.list('resourceslices') as unknown as ResourceSlice[]).filter(
    (s) => s.spec.nodeName === node && s.spec.driver === DRIVER,
  );
}

/** A pool is whole when every slice has the newest generation and the count it states. */
function poolState(slices: ResourceSlice[]) {
  const generations = new Set(slices.map((s) => s.spec.pool.generation));
  const devices = slices.flatMap((s) => s.spec.devices ?? []).map((d) => d.name);
  return {
    slices: slices.length,
    generations: [...generations],
    counts: [...new Set(slices.map((s) => s.spec.pool.resourceSliceCount))],
    devices: devices.length,
    unique: new Set(devices).size,
  };
}

function nicInventory(node: string, count: number): Inventory {
  const base = h100Inventory(node).devices.find((d) => d.kind === 'nic') as NicDevice;
  const devices = Array.from({ length: count }, (_, i) => ({
    ...base,
    name: `nic-0000-${(i >> 8).toString(16).padStart(2, '0')}-${(i & 0xff).toString(16).padStart(2, '0')}-0`,
  }));
  return { ...h100Inventory(node), devices };
}

describe('publishing the recorded 8x H100 node (API server with device taints)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(true);
  });
  afterAll(() => stopHarness(h));

  it('publishes slices the validating API server accepts, owned by the Node', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'node-'));
    onTestFinished(() => rm(dir, { recursive: true, force: true }));
    const node = await buildSimulatedNode('h100-hgx', dir, {
      nodeName: 'gpu-node-1',
    });
    const inventory = await scanInventory({
      sysfsRoot: node.sysfsRoot,
      devRoot: node.devRoot,
      nvidiaSmi: node.nvidiaSmiPath,
      nvidiaSmiTimeoutMs: 10_000,
      nodeName: 'gpu-node-1',
    });
    const created = h.api.store.create('nodes', { metadata: { name: 'gpu-node-1' } }) as { metadata: { uid: string } };
    const p = publisher(h, 'gpu-node-1');
    p.setInventory(inventory);
    await p.start();
    await p.whenConverged();
    const slices = slicesOf(h, 'gpu-node-1');
    expect(slices).toHaveLength(1);
    const [slice] = slices;
    expect(slice!.metadata.name).toMatch(/^gpu-node-1-lockstep\.dev-[a-z0-9]{5}$/);
    expect(slice!.metadata.ownerReferences).toEqual([
      { apiVersion: 'v1', kind: 'Node', name: 'gpu-node-1', uid: created.metadata.uid, controller: true },
    ]);
    expect(slice!.spec.pool).toEqual({ name: 'gpu-node-1', generation: 1, resourceSliceCount: 1 });
    const names = slice!.spec.devices!.map((d) => d.name);
    expect(names.filter((n) => n.startsWith('gpu-'))).toEqual([
      'gpu-0000-19-00-0',
      'gpu-0000-3b-00-0',
      'gpu-0000-4c-00-0',
      'gpu-0000-5d-00-0',
      'gpu-0000-9b-00-0',
      'gpu-0000-bb-00-0',
      'gpu-0000-cb-00-0',
      'gpu-0000-db-00-0',
    ]);
    expect(names).toContain('nic-0000-1a-00-0');
    const gpu0 = slice!.spec.devices![0]!;
    expect(gpu0.attributes?.['resource.kubernetes.io/pciBusID']).toEqual({ string: '0000:19:00.0' });
    const nic = slice!.spec.devices!.find((d) => d.name === 'nic-0000-1a-00-0')!;
    expect(nic.attributes?.pcieSwitch).toEqual(gpu0.attributes?.pcieSwitch);
    expect(p.stats).toMatchObject({ creates: 1, updates: 0, deletes: 0 });
    // and the real kubectl reads them back
    const got = await execa('kubectl', [
      '--kubeconfig',
      h.api.kubeconfigPath,
      'get',
      'resourceslices',
      '--field-selector',
      'spec.nodeName=gpu-node-1',
      '-o',
      'json',
    ]);
    const list = JSON.parse(got.stdout) as { items: ResourceSlice[] };
    expect(list.items.map((s) => s.spec.devices?.length)).toEqual([slice!.spec.devices!.length]);
  });

  it('writes nothing when a new agent starts on an unchanged node', async () => {
    const first = publisher(h, 'n-restart');
    first.setInventory(h100Inventory('n-restart'));
    await first.start();
    await first.whenConverged();
    await first.stop();
    const before = h.api.counters.writes({ resource: 'resourceslices' });
    const second = publisher(h, 'n-restart');
    second.setInventory(h100Inventory('n-restart'));
    await second.start();
    await second.whenConverged();
    second.setInventory(h100Inventory('n-restart')); // a rescan with the same result
    await second.whenConverged();
    expect(h.api.counters.writes({ resource: 'resourceslices' })).toBe(before);
    expect(second.stats).toMatchObject({ creates: 0, updates: 0, deletes: 0 });
  });

  it('repairs a slice someone edited or deleted, bumping the generation', async () => {
    const p = publisher(h, 'n-repair');
    p.setInventory(h100Inventory('n-repair'));
    await p.start();
    await p.whenConverged();
    const [slice] = slicesOf(h, 'n-repair');
    const edited = structuredClone(slice!);
    edited.spec.devices![0]!.attributes!.model = { string: 'tampered' };
    h.api.store.update('resourceslices', edited as never);
    await waitFor(
      () => slicesOf(h, 'n-repair')[0]?.spec.devices?.[0]?.attributes?.model?.string !== 'tampered',
      'repair',
    );
    expect(slicesOf(h, 'n-repair')[0]!.spec.pool.generation).toBe(2);

    h.api.store.delete('resourceslices', slicesOf(h, 'n-repair')[0]!.metadata.name!);
    await waitFor(() => slicesOf(h, 'n-repair').length === 1 && slicesOf(h, 'n-repair'), 'recreated after a delete');
    await p.whenConverged();
    expect(poolState(slicesOf(h, 'n-repair'))).toMatchObject({ slices: 1, devices: 16, unique: 16, generations: [3] });
  });

  it('republishes after the kubelet wipes the node’s slices, even across a dropped watch', async () => {
    const p = publisher(h, 'n-wipe');
    p.setInventory(h100Inventory('n-wipe'));
    await p.start();
    await p.whenConverged();
    h.api.faults.dropWatches();
    for (const s of slicesOf(h, 'n-wipe')) h.api.store.delete('resourceslices', s.metadata.name!);
    await waitFor(() => slicesOf(h, 'n-wipe').length === 1, 'republished');
    await p.whenConverged();
    expect(poolState(slicesOf(h, 'n-wipe'))).toMatchObject({ slices: 1, devices: 16, unique: 16 });
  });

  it('follows a Node that is deleted and registers again: slices come back owned by the new Node', async () => {
    h.api.store.create('nodes', { metadata: { name: 'n-rereg' } });
    const p = publisher(h, 'n-rereg');
    p.setInventory(h100Inventory('n-rereg'));
    await p.start();
    await p.whenConverged();
    h.api.store.delete('nodes', 'n-rereg');
    const again = h.api.store.create('nodes', { metadata: { name: 'n-rereg' } }) as { metadata: { uid: string } };
    await waitFor(
      () => slicesOf(h, 'n-rereg')[0]?.metadata.ownerReferences?.[0]?.uid === again.metadata.uid,
      'slices owned by the new Node',
    );
    await p.whenConverged();
    expect(slicesOf(h, 'n-rereg')).toHaveLength(1);
  });

  it('publishes an unhealthy device as healthy=false with a taint, and clears both on recovery', async () => {
    const board = new DeviceHealthBoard();
    const p = publisher(h, 'n-health', { taintEffect: 'NoExecute' });
    p.attachBoard(board);
    p.setInventory(h100Inventory('n-health'));
    await p.start();
    await p.whenConverged();
    board.set('gpu-4', { state: 'unhealthy', reason: 'XID 119: GSP RPC timeout' }, 'xid');
    const gpu4 = () => slicesOf(h, 'n-health')[0]?.spec.devices?.find((d) => d.name === 'gpu-4');
    await waitFor(() => gpu4()?.taints?.length, 'taint in the API');
    expect(gpu4()!.attributes?.healthy).toEqual({ bool: false });
    expect(gpu4()!.taints![0]).toMatchObject({
      key: 'lockstep.dev/unhealthy',
      value: 'XID-119-GSP-RPC-timeout',
      effect: 'NoExecute',
    });
    expect(gpu4()!.taints![0]!.timeAdded).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    await waitFor(() => p.taintsSupported, 'the publisher to see the taint kept');
    board.set('gpu-4', { state: 'healthy' }, 'xid');
    await waitFor(() => gpu4()?.attributes?.healthy?.bool === true, 'healthy again');
    expect(gpu4()!.taints).toBeUndefined();
  });

  it('converges without duplicates or orphans when the API fails in the middle of an update', async () => {
    const p = publisher(h, 'n-outage');
    p.setInventory(nicInventory('n-outage', 200)); // two slices (128 + 72)
    await p.start();
    await p.whenConverged();
    expect(poolState(slicesOf(h, 'n-outage'))).toMatchObject({ slices: 2, devices: 200, generations: [1] });
    // shrink to one slice; the first write goes through, then the API is down for every write for a while
    h.api.faults.failNext(1000, 503, { match: { verbs: ['delete', 'create'], resources: ['resourceslices'] } });
    p.setInventory(nicInventory('n-outage', 100));
    await waitFor(() => p.stats.errors >= 2, 'failed attempts during the outage');
    h.api.faults.reset();
    await p.whenConverged();
    expect(poolState(slicesOf(h, 'n-outage'))).toEqual({
      slices: 1,
      generations: [2],
      counts: [1],
      devices: 100,
      unique: 100,
    });
    // and grow again while creates fail now and then, and one update meets a conflict
    h.api.faults.conflictNextUpdate(1);
    h.api.faults.failNext(3, 500, { match: { verbs: ['create'], resources: ['resourceslices'] } });
    p.setInventory(nicInventory('n-outage', 300));
    await waitFor(() => poolState(slicesOf(h, 'n-outage')).devices === 300, 'grown pool');
    await p.whenConverged();
    const state = poolState(slicesOf(h, 'n-outage'));
    expect(state).toMatchObject({ slices: 3, devices: 300, unique: 300, counts: [3] });
    expect(state.generations).toHaveLength(1);
  });

  it('backs off on a 409 storm: each retry waits longer than the last, past 50 ms', async () => {
    const retries: number[] = [];
    const log = pino(
      { level: 'warn' },
      {
        write: (line: string) => {
          const entry = JSON.parse(line) as { msg?: string; retryInMs?: number };
          if (entry.msg === 'publishing slices failed; retrying' && entry.retryInMs !== undefined)
            retries.push(entry.retryInMs);
        },
      },
    );
    const p = publisher(h, 'n-conflicts', { backoff: { initialMs: 20, maxMs: 5000, jitter: 0 }, log });
    p.setInventory(nicInventory('n-conflicts', 3));
    await p.start();
    await p.whenConverged();
    h.api.faults.conflictNextUpdate(6);
    p.setInventory(nicInventory('n-conflicts', 4));
    await p.whenConverged();
    expect(retries).toEqual([20, 40, 80, 160, 320, 640]);
    expect(p.stats.conflicts).toBe(6);
    expect(slicesOf(h, 'n-conflicts')[0]?.spec.devices).toHaveLength(4);
  });

  it('writes nothing while another agent holds the node (gate), and publishes its view when it takes over', async () => {
    const listeners = new Set<(holding: boolean) => void>();
    const gate = {
      holding: false,
      subscribe(listener: (holding: boolean) => void) {
        listeners.add(listener);
        return () => listeners.delete(listener);
      },
    };
    const writes = () => h.api.counters.writes({ resource: 'resourceslices' });
    const before = writes();
    const p = publisher(h, 'n-standby', { gate });
    p.setInventory(nicInventory('n-standby', 2));
    await p.start();
    await waitFor(() => p.stats.standby > 0, 'a reconcile skipped in standby');
    p.setInventory(nicInventory('n-standby', 3));
    await waitFor(() => p.stats.standby > 1, 'another skipped');
    expect(writes()).toBe(before);
    expect(slicesOf(h, 'n-standby')).toHaveLength(0);
    gate.holding = true;
    for (const l of listeners) l(true);
    await p.whenConverged();
    expect(slicesOf(h, 'n-standby')[0]?.spec.devices).toHaveLength(3);
  });

  it('removes every slice of its node on uninstall, and no other node’s', async () => {
    const p = publisher(h, 'n-gone');
    p.setInventory(h100Inventory('n-gone'));
    await p.start();
    await p.whenConverged();
    await p.stop();
    const others = h.api.store.list('resourceslices').length - slicesOf(h, 'n-gone').length;
    expect(await publisher(h, 'n-gone').uninstall()).toBe(1);
    expect(slicesOf(h, 'n-gone')).toHaveLength(0);
    expect(h.api.store.list('resourceslices')).toHaveLength(others);
  });
});

describe('an API server without device taints', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(false);
  });
  afterAll(() => stopHarness(h));
  afterEach(() => h.api.faults.reset());

  it('notices taints are dropped, keeps healthy=false, and then writes nothing more', async () => {
    const board = new DeviceHealthBoard();
    const p = publisher(h, 'n-notaints');
    p.attachBoard(board);
    p.setInventory(h100Inventory('n-notaints'));
    await p.start();
    await p.whenConverged();
    board.set('gpu-2', { state: 'unhealthy', reason: 'XID 79' });
    const gpu2 = () => slicesOf(h, 'n-notaints')[0]?.spec.devices?.find((d) => d.name === 'gpu-2');
    await waitFor(() => gpu2()?.attributes?.healthy?.bool === false, 'unhealthy published');
    await p.whenConverged();
    expect(p.taintsSupported).toBe(false);
    expect(gpu2()!.taints).toBeUndefined();
    const writes = h.api.counters.writes({ resource: 'resourceslices' });
    p.setInventory(h100Inventory('n-notaints'));
    await p.whenConverged();
    expect(h.api.counters.writes({ resource: 'resourceslices' })).toBe(writes);
    // a restarted agent reads the answer off the pool instead of writing to find out
    await p.stop();
    const again = publisher(h, 'n-notaints');
    again.attachBoard(board);
    again.setInventory(h100Inventory('n-notaints'));
    await again.start();
    await again.whenConverged();
    expect(h.api.counters.writes({ resource: 'resourceslices' })).toBe(writes);
  });

  it('publishes MIG devices instead of the GPU once MIG is turned on', async () => {
    const p = publisher(h, 'n-mig');
    const inventory = h100Inventory('n-mig');
    p.setInventory(inventory);
    await p.start();
    await p.whenConverged();
    const mig = structuredClone(inventory);
    const gpu = mig.devices[0] as GpuDevice;
    gpu.migEnabled = true;
    gpu.migDevices = [{ name: 'gpu-0-mig-1-0', gpuInstanceId: 1, computeInstanceId: 0, profile: '1g.10gb' }];
    p.setInventory(mig);
    await waitFor(
      () => slicesOf(h, 'n-mig')[0]?.spec.devices?.some((d) => d.name === 'gpu-0-mig-1-0'),
      'MIG device published',
    );
    expect(slicesOf(h, 'n-mig')[0]!.spec.devices!.some((d) => d.name === 'gpu-0')).toBe(false);
  });
});

describe('as the agent’s own service account (deploy/base RBAC and admission policy)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(true);
    h.api.store.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'lockstep-system' } }]);
    for (const f of ['agent-rbac.yaml', 'admission-policy.yaml']) {
      const text = readFileSync(join(REPO_ROOT, 'deploy/base', f), 'utf8').replace(
        /kind: ServiceAccount\nmetadata:\n/,
        'kind: ServiceAccount\nmetadata:\n  namespace: lockstep-system\n',
      );
      h.api.store.apply(text);
    }
    h.api.store.create('nodes', { metadata: { name: 'gpu-node-7' } });
    h.api.store.create(
      'pods',
      {
        metadata: { name: 'lockstep-agent-x', namespace: 'lockstep-system' },
        spec: {
          nodeName: 'gpu-node-7',
          serviceAccountName: 'lockstep-agent',
          containers: [{ name: 'agent', image: 'x' }],
        },
      },
      { namespace: 'lockstep-system' },
    );
  });
  afterAll(() => stopHarness(h));

  function agentClient(): KubeClient {
    const path = h.api.kubeconfigFor({
      serviceAccount: { namespace: 'lockstep-system', name: 'lockstep-agent' },
      pod: 'lockstep-agent-x',
    });
    return new KubeClient(loadKubeConfig({ kubeconfig: path }));
  }

  it('publishes, repairs and uninstalls its own node’s slices with only the rights the base grants', async () => {
    const client = agentClient();
    const p = new SlicePublisher({ client, driver: DRIVER, nodeName: 'gpu-node-7', backoff: fast });
    h.publishers.push(p);
    p.setInventory(h100Inventory('gpu-node-7'));
    await p.start();
    await p.whenConverged();
    expect(slicesOf(h, 'gpu-node-7')).toHaveLength(1);
    expect(slicesOf(h, 'gpu-node-7')[0]!.metadata.ownerReferences?.[0]?.name).toBe('gpu-node-7');
    h.api.store.delete('resourceslices', slicesOf(h, 'gpu-node-7')[0]!.metadata.name!);
    await waitFor(() => slicesOf(h, 'gpu-node-7').length === 1, 'repaired under RBAC');
    await p.stop();
    expect(await new SlicePublisher({ client, driver: DRIVER, nodeName: 'gpu-node-7' }).uninstall()).toBe(1);
    client.close();
  });

  it('cannot publish for another node: the writes are refused and nothing lands', async () => {
    const client = agentClient();
    const p = new SlicePublisher({ client, driver: DRIVER, nodeName: 'someone-else', backoff: fast });
    h.publishers.push(p);
    p.setInventory(h100Inventory('someone-else'));
    await p.start();
    await waitFor(() => p.stats.errors >= 2, 'refused writes');
    expect(slicesOf(h, 'someone-else')).toHaveLength(0);
    client.close();
  });
});

describe('--numa-node-list against each API server (DRAListTypeAttributes)', () => {
  const lists = new Map([
    [0, [0, 1]],
    [1, [1, 0]],
  ]);
  let h: Harness | undefined;
  afterEach(async () => {
    await stopHarness(h);
    h = undefined;
  });

  it.each([
    // emulated release, gate, numaNode of a GPU on NUMA node 1 as published, list form kept, writes refused
    ['1.37', true, { ints: [1, 0] }, true, 0],
    ['1.36', true, { ints: [1, 0] }, true, 0],
    ['1.37', undefined, { int: 1 }, false, 1],
    ['1.36', false, { int: 1 }, false, 1],
    ['1.35', undefined, { int: 1 }, false, 1],
  ] as const)(
    '%s, gate %s: numaNode %j, list kept %s, %i write(s) refused',
    async (version, gate, numa, kept, refused) => {
      const api = await startApiServer({
        version,
        ...(gate === undefined ? {} : { featureGates: { DRAListTypeAttributes: gate } }),
        bookmarkIntervalMs: 500,
      });
      h = { api, client: new KubeClient(loadKubeConfig({ kubeconfig: api.kubeconfigPath })), publishers: [] };
      const logged: Record<string, unknown>[] = [];
      const log = pino({ level: 'warn' }, { write: (line: string) => logged.push(JSON.parse(line)) });
      const p = publisher(h, 'n-numa', { numaNodeLists: () => lists, log });
      p.setInventory(h100Inventory('n-numa'));
      await p.start();
      await p.whenConverged();
      const gpuOnNode1 = slicesOf(h, 'n-numa')
        .flatMap((s) => s.spec.devices ?? [])
        .find(
          (d) =>
            d.name.startsWith('gpu-') &&
            (d.attributes?.['resource.kubernetes.io/numaNode']?.ints?.[0] ??
              d.attributes?.['resource.kubernetes.io/numaNode']?.int) === 1,
        );
      expect(gpuOnNode1?.attributes?.['resource.kubernetes.io/numaNode']).toEqual(numa);
      expect(p.numaNodeListPublished).toBe(kept);
      expect(p.stats.errors).toBe(refused);
      const warnings = logged.filter((l) => String(l.msg).includes('list form'));
      expect(warnings).toHaveLength(refused);
      // converged: a rescan writes nothing more
      const writes = api.counters.writes({ resource: 'resourceslices' });
      p.setInventory(h100Inventory('n-numa'));
      await p.whenConverged();
      expect(api.counters.writes({ resource: 'resourceslices' })).toBe(writes);
    },
  );

  it('another refusal (not about numaNode) is retried as before, the list form kept', async () => {
    const api = await startApiServer({
      version: '1.37',
      featureGates: { DRAListTypeAttributes: true },
      bookmarkIntervalMs: 500,
    });
    h = { api, client: new KubeClient(loadKubeConfig({ kubeconfig: api.kubeconfigPath })), publishers: [] };
    api.faults.failNext(1, 500, { match: { verbs: ['create'], resources: ['resourceslices'] } });
    const p = publisher(h, 'n-numa-retry', { numaNodeLists: () => lists });
    p.setInventory(h100Inventory('n-numa-retry'));
    await p.start();
    await p.whenConverged();
    expect(p.stats.errors).toBe(1);
    expect(p.numaNodeListPublished).toBe(true);
    const numa = slicesOf(h, 'n-numa-retry')[0]?.spec.devices?.find((d) => d.name.startsWith('gpu-'))?.attributes?.[
      'resource.kubernetes.io/numaNode'
    ];
    expect(numa?.ints).toBeDefined();
  });
});
