import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceHealthBoard } from '../../../agent/health/board.js';
import { ApiClaimReader } from '../../../agent/kubelet/claim-reader.js';
import type { Pod } from '../../../src/kube/types.js';
import { startPlugin } from '../../agent/kubelet/harness.js';
import { type KubernetesVersion, pickHealthService, versionProfile } from '../versions.js';
import { KubeletEmulator } from './emulator.js';
import { createAllocatedClaim, nodeObject, podObject, shortTempDir, startApi } from './harness.js';

/**
 * The kubelet emulator calls the health package its version knows (1.37: v1, 1.36: v1beta1, 1.35: v1alpha1), and the
 * agent's plugin answers each from one implementation, with the fault in words and its timeout.
 */
const NODE = 'gpu-node-1';
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

type Resource = { resourceID: string; health: string; message?: string };

async function podWithGpu(version: KubernetesVersion, kubelet: { resourceHealthStatus?: boolean } = {}) {
  const { api, client } = await startApi();
  stops.push(() => api.stop());
  api.store.create('nodes', nodeObject(NODE));
  const dir = await shortTempDir('kv-');
  const emulator = new KubeletEmulator({
    nodeName: NODE,
    client,
    registryDir: join(dir, 'reg'),
    version,
    pollMs: 20,
    retryMs: 50,
    statusSyncMs: 50,
    ...kubelet,
  });
  await emulator.start();
  stops.push(() => emulator.stop());
  const board = new DeviceHealthBoard();
  const plugin = await startPlugin({ claims: new ApiClaimReader(client), board, healthTimeoutSeconds: 40 }, dir);
  stops.push(() => plugin.plugin.stop());
  await emulator.waitFor('registered', () => plugin.plugin.readiness().ready);
  const pod = api.store.create('pods', podObject({ name: 'p', node: NODE, claims: { gpu: 'p-claim' } }), {
    namespace: 'default',
  });
  createAllocatedClaim(api, {
    name: 'p-claim',
    node: NODE,
    results: [{ request: 'gpus', device: 'gpu-3' }],
    reservedFor: [pod],
  });
  await emulator.waitForPodRunning('default', 'p');
  const resource = (): Resource | undefined => {
    const current = api.store.get('pods', 'p', 'default') as unknown as Pod;
    const status = (
      (current.status?.containerStatuses ?? []) as { allocatedResourcesStatus?: { resources: Resource[] }[] }[]
    )[0];
    return status?.allocatedResourcesStatus?.[0]?.resources[0];
  };
  return { emulator, board, plugin, resource };
}

describe.each([
  { version: '1.37' as const, called: 'v1.DRAResourceHealth', messages: true },
  { version: '1.36' as const, called: 'v1beta1.DRAResourceHealth', messages: true },
  { version: '1.35' as const, called: 'v1alpha1.DRAResourceHealth', messages: false },
])('a $version kubelet', ({ version, called, messages }) => {
  it(`streams health over ${called} and shows an XID in pod status`, async () => {
    // 1.35's ResourceHealthStatus gate is alpha (off by default): clusters that use it turn it on.
    const { emulator, board, plugin, resource } = await podWithGpu(version, { resourceHealthStatus: true });
    expect(emulator.pluginList()[0]).toMatchObject({ driver: 'lockstep.dev', healthVersion: called });
    await emulator.waitFor('Healthy', () => resource()?.health === 'Healthy', 5000);
    expect(plugin.plugin.healthConnections()).toBe(1);
    board.set('gpu-3', { state: 'unhealthy', reason: 'xid-79', message: 'XID 79: GPU has fallen off the bus' }, 'xid');
    await emulator.waitFor('Unhealthy', () => resource()?.health === 'Unhealthy', 5000);
    expect(emulator.deviceHealth('lockstep.dev', NODE, 'gpu-3')).toBe('Unhealthy');
    if (messages) expect(resource()?.message).toBe('XID 79: GPU has fallen off the bus');
    else expect(resource()).not.toHaveProperty('message');
  });
});

describe('health gate and service choice', () => {
  it('a 1.35 kubelet with ResourceHealthStatus off (its default) opens no stream and reports no device health', async () => {
    const { emulator, plugin, resource } = await podWithGpu('1.35');
    expect(emulator.pluginList()[0]?.healthVersion).toBeUndefined();
    expect(plugin.plugin.healthConnections()).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(resource()?.health ?? 'Unknown').toBe('Unknown');
  });

  const every = ['v1.DRAResourceHealth', 'v1beta1.DRAResourceHealth', 'v1alpha1.DRAResourceHealth'];
  it.each([
    ['1.37', every, 'v1.DRAResourceHealth'],
    ['1.36', every, 'v1beta1.DRAResourceHealth'],
    ['1.35', every, 'v1alpha1.DRAResourceHealth'],
    // a driver from before v1 lists only v1alpha1: newer kubelets still consume it
    ['1.37', ['v1.DRAPlugin', 'v1alpha1.DRAResourceHealth'], 'v1alpha1.DRAResourceHealth'],
    ['1.36', ['v1.DRAPlugin', 'v1alpha1.DRAResourceHealth'], 'v1alpha1.DRAResourceHealth'],
    // v1 only: a 1.36 kubelet does not know it, so no stream
    ['1.36', ['v1.DRAPlugin', 'v1.DRAResourceHealth'], undefined],
    // no health entry: newer kubelets open no stream; 1.35 calls v1alpha1 regardless
    ['1.37', ['v1.DRAPlugin'], undefined],
    ['1.35', ['v1.DRAPlugin'], 'v1alpha1.DRAResourceHealth'],
  ] as const)('%s kubelet, plugin lists %j → %s', (version, listed, expected) => {
    expect(pickHealthService(versionProfile(version).kubelet, listed)).toBe(expected);
  });

  it('refuses versions it does not emulate', () => {
    expect(versionProfile('v1.36').version).toBe('1.36');
    expect(() => versionProfile('1.34')).toThrow(/unknown Kubernetes version "1.34": one of 1.35, 1.36, 1.37/);
  });
});
