import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Inventory } from '../../../agent/discovery/inventory.js';
import { scanInventory } from '../../../agent/discovery/scan.js';
import { DeviceHealthBoard } from '../../../agent/health/board.js';
import { HealthManager } from '../../../agent/health/manager.js';
import { XID_STATE_FILE } from '../../../agent/health/xid-monitor.js';
import { AgentMetrics } from '../../../agent/metrics/registry.js';
import { CONDITION_DEVICES_HEALTHY } from '../../../src/contract/names.js';
import { KubeClient } from '../../../src/kube/client.js';
import { loadKubeConfig } from '../../../src/kube/config.js';
import type { Pod } from '../../../src/kube/types.js';
import { type ApiServer, startApiServer } from '../../cluster/apiserver/index.js';
import { buildSimulatedNode, type SimulatedNode } from '../../cluster/nodes/index.js';
import { waitFor } from './support.js';

let dir: string;
let node: SimulatedNode;
let api: ApiServer;
let inventory: Inventory;
let manager: HealthManager;
let metrics: AgentMetrics;
const board = new DeviceHealthBoard();

const scan = () =>
  scanInventory({
    sysfsRoot: node.sysfsRoot,
    devRoot: node.devRoot,
    nvidiaSmi: node.nvidiaSmiPath,
    nvidiaSmiTimeoutMs: 5000,
    nodeName: node.nodeName,
  });

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'health-manager-'));
  node = await buildSimulatedNode('h100-hgx', join(dir, 'node'), { nodeName: 'gpu-node-1' });
  inventory = await scan();
  api = await startApiServer({ namespaces: ['team'] });
  api.store.create('nodes', { apiVersion: 'v1', kind: 'Node', metadata: { name: node.nodeName } });
  const claim = api.store.create(
    'resourceclaims',
    {
      apiVersion: 'resource.k8s.io/v1',
      kind: 'ResourceClaim',
      metadata: { name: 'worker-gpus', namespace: 'team' },
      spec: { devices: { requests: [{ name: 'gpus', exactly: { deviceClassName: 'gpu.lockstep.dev' } }] } },
    },
    { namespace: 'team' },
  );
  api.store.updateStatus(
    'resourceclaims',
    {
      ...claim,
      status: {
        allocation: {
          devices: {
            results: [{ request: 'gpus', driver: 'lockstep.dev', pool: node.nodeName, device: 'gpu-0000-9b-00-0' }],
          },
        },
      },
    } as typeof claim,
    { namespace: 'team' },
  );
  api.store.create(
    'pods',
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'worker', namespace: 'team' },
      spec: {
        nodeName: node.nodeName,
        containers: [{ name: 'vllm', image: 'vllm' }],
        resourceClaims: [{ name: 'gpus', resourceClaimName: 'worker-gpus' }],
      },
    },
    { namespace: 'team' },
  );
  metrics = new AgentMetrics({ defaultMetrics: false });
  metrics.watchBoard(board);
  manager = new HealthManager({
    board,
    nodeName: node.nodeName,
    driverName: 'lockstep.dev',
    stateDir: join(dir, 'state'),
    kmsgPath: node.kmsgPath,
    sysfsRoot: node.sysfsRoot,
    nvidiaSmi: node.nvidiaSmiPath,
    nvidiaSmiTimeoutMs: 500,
    healthIntervalMs: 3_600_000,
    linkStableMs: 1000,
    sysfsIntervalMs: 50,
    client: new KubeClient(loadKubeConfig({ kubeconfig: api.kubeconfigPath })),
    hooks: metrics,
  });
  manager.setInventory(inventory);
  await manager.start();
  await manager.pods?.synced();
});

afterAll(async () => {
  await manager.stop();
  await api.stop();
  await rm(dir, { recursive: true, force: true });
});

const gpuStates = () =>
  board
    .all()
    .filter((e) => e.device.startsWith('gpu-'))
    .map((e) => `${e.device}:${e.state}`)
    .sort();

describe('HealthManager on the simulated 8x H100 node', () => {
  it('starts with all 8 GPUs healthy', async () => {
    expect(inventory.devices.filter((d) => d.kind === 'gpu').map((d) => d.name)).toHaveLength(8);
    await waitFor(() => board.all().length >= 8, 'the board');
    expect(gpuStates()).toEqual(
      ['19', '3b', '4c', '5d', '9b', 'bb', 'cb', 'db'].map((bus) => `gpu-0000-${bus}-00-0:healthy`),
    );
  });

  it('an XID 79 appended to the kernel log marks gpu-0000-9b-00-0, its pod and /metrics', async () => {
    await node.appendKernelLog('NVRM: Xid (PCI:0000:9b:00): 79, pid=0, name=kworker, GPU has fallen off the bus.');
    await waitFor(() => board.get('gpu-0000-9b-00-0')?.state === 'unhealthy', 'gpu-0000-9b-00-0 unhealthy');
    expect(board.get('gpu-0000-9b-00-0')).toMatchObject({ reason: 'XID-79-fallen-off-bus', source: 'xid' });
    expect(gpuStates().filter((s) => s.endsWith('unhealthy'))).toEqual(['gpu-0000-9b-00-0:unhealthy']);
    const condition = () =>
      ((api.store.find('pods', 'worker', 'team') as Pod | undefined)?.status?.conditions ?? []).find(
        (c) => c.type === CONDITION_DEVICES_HEALTHY,
      );
    await waitFor(() => condition()?.status === 'False', 'the pod condition');
    expect(condition()?.message).toContain('gpu-0000-9b-00-0: XID-79-fallen-off-bus');
    const text = await metrics.registry.metrics();
    expect(text).toContain('lockstep_device_health{device="gpu-0000-9b-00-0",type="gpu",state="unhealthy"} 1');
    expect(text).toContain('lockstep_xid_events_total{device="gpu-0000-9b-00-0",xid="79",fault="true"} 1');
  });

  it('nvidia-smi hanging makes the other GPUs "not answering" while gpu-0000-9b-00-0 keeps its XID reason', async () => {
    await node.setNvidiaSmi({ mode: 'hang' });
    await manager.smi.poll();
    expect(board.get('gpu-0000-19-00-0')).toMatchObject({
      state: 'unhealthy',
      reason: 'gpu-not-answering',
      source: 'nvidia-smi',
    });
    expect(board.get('gpu-0000-9b-00-0')?.reason).toBe('XID-79-fallen-off-bus');
    await node.setNvidiaSmi({ mode: 'ok' });
    await manager.smi.poll();
    expect(board.get('gpu-0000-19-00-0')?.state).toBe('healthy');
  });

  it('nvidia-smi’s gpu_recovery_action back to None clears the XID it recovered from, without a restart', async () => {
    expect(board.get('gpu-0000-9b-00-0')?.reason).toBe('XID-79-fallen-off-bus');
    const healthy = await node.nvidiaSmiXml();
    // the DTD v13 element, a direct child of <gpu> (as in the driver 550+ recordings' `<gpu_recovery_action>None`)
    const withAction = (action: string) =>
      healthy.replace(
        '<gpu id="00000000:9B:00.0">',
        `<gpu id="00000000:9B:00.0">\n\t\t<gpu_recovery_action>${action}</gpu_recovery_action>`,
      );
    expect(withAction('Reset')).not.toBe(healthy);
    await node.setNvidiaSmi({ xml: withAction('Reset') });
    await manager.smi.poll();
    // asking for a reset changes nothing yet: the XID stays the reason
    expect(board.get('gpu-0000-9b-00-0')).toMatchObject({ state: 'unhealthy', reason: 'XID-79-fallen-off-bus' });
    // a GPU that never asked for recovery keeps its state when it says None
    await node.setNvidiaSmi({ xml: withAction('None') });
    await manager.smi.poll();
    await waitFor(() => board.get('gpu-0000-9b-00-0')?.state === 'healthy', 'the XID cleared');
    expect(gpuStates().filter((x) => !x.endsWith(':healthy'))).toEqual([]);
    // the clearing is remembered: the fault does not come back from the saved state
    const savedFaults = async () =>
      Object.keys(
        (JSON.parse(await readFile(join(dir, 'state', XID_STATE_FILE), 'utf8')) as { faults: object }).faults,
      );
    await waitFor(async () => (await savedFaults()).length === 0, 'the saved state without the fault');
    await node.setNvidiaSmi({ mode: 'ok' });
    await manager.smi.poll();
    // and a later None (no recovery asked) clears nothing new: a fresh XID stays
    await node.appendKernelLog('NVRM: Xid (PCI:0000:9b:00): 79, pid=0, name=kworker, GPU has fallen off the bus.');
    await waitFor(() => board.get('gpu-0000-9b-00-0')?.state === 'unhealthy', 'the new XID');
    await node.setNvidiaSmi({ xml: withAction('None') });
    await manager.smi.poll();
    expect(board.get('gpu-0000-9b-00-0')?.reason).toBe('XID-79-fallen-off-bus');
  });

  it('a GPU that drops off the bus is pci-gone, then "gone" once discovery no longer finds it', async () => {
    await node.removePciDevice('0000:db:00.0');
    await waitFor(() => board.get('gpu-0000-db-00-0')?.reason === 'pci-gone', 'gpu-0000-db-00-0 pci-gone');
    const rescanned = await scan();
    expect(rescanned.devices.some((d) => d.kind === 'gpu' && d.pci.address === '0000:db:00.0')).toBe(false);
    manager.setInventory(rescanned);
    // the device names are positional (gpu-<index>); whatever name vanished is reported gone, not dropped
    const vanished = inventory.devices.map((d) => d.name).filter((n) => !rescanned.devices.some((d) => d.name === n));
    expect(vanished.length).toBeGreaterThan(0);
    for (const name of vanished)
      expect(board.get(name)).toMatchObject({ state: 'unhealthy', reason: 'gone', source: 'discovery' });
  });
});
