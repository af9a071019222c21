import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceHealthBoard } from '../../../agent/health/board.js';
import { ApiClaimReader } from '../../../agent/kubelet/claim-reader.js';
import type { Pod } from '../../../src/kube/types.js';
import { startPlugin } from '../../agent/kubelet/harness.js';
import type { ApiServer } from '../apiserver/index.js';
import { KubeletEmulator } from './emulator.js';
import { createAllocatedClaim, nodeObject, podObject, shortTempDir, startApi } from './harness.js';
import { HealthCache } from './health-cache.js';

const NODE = 'gpu-node-1';
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

function slice(node: string, driver = 'lockstep.dev'): unknown {
  return {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceSlice',
    metadata: { generateName: `${node}-${driver}-` },
    spec: {
      driver,
      nodeName: node,
      pool: { name: node, generation: 1, resourceSliceCount: 1 },
      devices: [{ name: 'gpu-0' }],
    },
  };
}

function slicesOf(api: ApiServer, node: string): number {
  return api.store
    .list('resourceslices')
    .filter((s) => (s as unknown as { spec: { nodeName: string } }).spec.nodeName === node).length;
}

async function setup(kubelet: Partial<ConstructorParameters<typeof KubeletEmulator>[0]> = {}) {
  const { api, client } = await startApi();
  stops.push(() => api.stop());
  api.store.create('nodes', nodeObject(NODE));
  api.store.create('resourceslices', slice(NODE));
  api.store.create('resourceslices', slice('other-node'));
  const dir = await shortTempDir('kh-');
  const emulator = new KubeletEmulator({
    nodeName: NODE,
    client,
    registryDir: join(dir, 'reg'),
    pollMs: 20,
    retryMs: 50,
    statusSyncMs: 50,
    ...kubelet,
  });
  await emulator.start();
  stops.push(() => emulator.stop());
  return { api, client, dir, emulator };
}

describe('slice wiping', () => {
  it('wipes the node’s slices at start, and a driver’s slices after its last plugin disconnected', async () => {
    const { api, client, dir, emulator } = await setup({ wipeDelayMs: 1500 });
    expect(slicesOf(api, NODE)).toBe(0);
    expect(slicesOf(api, 'other-node')).toBe(1);

    const plugin = await startPlugin({ claims: new ApiClaimReader(client) }, dir);
    await emulator.waitFor('registered', () => plugin.plugin.readiness().ready);
    await emulator.waitFor('connected', () => emulator.pluginList()[0]?.connected === true);
    api.store.create('resourceslices', slice(NODE));
    // A restart within the delay keeps the slices.
    await plugin.plugin.stop();
    const again = await startPlugin({ claims: new ApiClaimReader(client) }, dir);
    await emulator.waitFor('connected again', () => emulator.pluginList().some((p) => p.connected));
    await new Promise((resolve) => setTimeout(resolve, 1700));
    expect(slicesOf(api, NODE)).toBe(1);
    expect(emulator.plugins.wipePending('lockstep.dev')).toBe(false);
    // Gone for longer than the delay: wiped.
    await again.plugin.stop();
    await emulator.waitFor('wiped', () => slicesOf(api, NODE) === 0, 5000);
    expect(slicesOf(api, 'other-node')).toBe(1);
  });
});

/** The health the kubelet wrote for the pod's first allocated device. */
function healthOf(pod: Pod): string | undefined {
  const status = (
    (pod.status?.containerStatuses ?? []) as {
      allocatedResourcesStatus?: { resources: { health: string }[] }[];
    }[]
  )[0];
  return status?.allocatedResourcesStatus?.[0]?.resources[0]?.health;
}

/**
 * A plugin serving one pod's claim, with every health value the kubelet writes into the pod recorded from the store's
 * watch: a short-lived state is seen however slowly the test is scheduled.
 */
async function podWithHealth(healthTimeoutMs: number) {
  const { api, client, dir, emulator } = await setup({ healthTimeoutMs, healthRetryMs: 100_000 });
  const board = new DeviceHealthBoard();
  // healthCheckTimeoutSeconds 0 → the kubelet's own timeout applies; no resends during the test.
  const plugin = await startPlugin(
    { claims: new ApiClaimReader(client), board, healthTimeoutSeconds: 0, healthResendMs: 600_000 },
    dir,
  );
  stops.push(() => plugin.plugin.stop());
  await emulator.waitFor('registered', () => plugin.plugin.readiness().ready);
  const written: (string | undefined)[] = [];
  const unwatch = api.store.subscribe('pods', (_type, obj) => {
    if (obj.metadata?.name !== 'p') return;
    const value = healthOf(obj as unknown as Pod);
    if (value !== written.at(-1)) written.push(value);
  });
  stops.push(async () => unwatch());
  const pod = api.store.create('pods', podObject({ name: 'p', node: NODE, claims: { devices: 'p-claim' } }), {
    namespace: 'default',
  });
  createAllocatedClaim(api, {
    name: 'p-claim',
    node: NODE,
    results: [{ request: 'gpus', device: 'gpu-0' }],
    reservedFor: [pod],
  });
  await emulator.waitForPodRunning('default', 'p');
  /** Whether `then` was written after `first`. */
  const writtenAfter = (first: string, then: string) => {
    const at = written.indexOf(first);
    return at >= 0 && written.indexOf(then, at + 1) > at;
  };
  return { board, emulator, plugin, written, writtenAfter };
}

describe('device health in pod status', () => {
  it('Unknown when a device is not reported again within the kubelet’s timeout', async () => {
    // 3 s: a report older than that when the kubelet writes the pod's status is already Unknown, so a shorter
    // timeout would make seeing Healthy first depend on how fast this machine schedules the status write.
    const { emulator, written, writtenAfter } = await podWithHealth(3000);
    await emulator.waitFor('Healthy', () => written.includes('Healthy'), 10_000);
    await emulator.waitFor('Unknown after the timeout', () => writtenAfter('Healthy', 'Unknown'), 15_000);
  });

  it('a change is sent at once, and Unknown when the stream ends', async () => {
    // The kubelet's timeout is far beyond the test, so only the stream's end can make the health Unknown.
    const { board, emulator, plugin, written, writtenAfter } = await podWithHealth(600_000);
    await emulator.waitFor('Healthy', () => written.includes('Healthy'), 10_000);
    board.set('gpu-0', { state: 'unhealthy', reason: 'XID 48' });
    await emulator.waitFor('Unhealthy', () => writtenAfter('Healthy', 'Unhealthy'), 10_000);
    expect(written).not.toContain('Unknown');
    await plugin.plugin.stop();
    await emulator.waitFor('Unknown after stream end', () => writtenAfter('Unhealthy', 'Unknown'), 10_000);
  });
});

describe('HealthCache', () => {
  it('stamps reports with the kubelet clock and honours per-device timeouts', () => {
    let now = 1_000_000;
    const cache = new HealthCache(() => now, 30_000);
    const device = (name: string, health: 'HEALTHY' | 'UNHEALTHY', timeout = 0) => ({
      device: { poolName: 'n', deviceName: name },
      health,
      lastUpdatedTime: 1,
      healthCheckTimeoutSeconds: timeout,
      message: '',
    });
    expect(cache.update('d', [device('a', 'HEALTHY'), device('b', 'UNHEALTHY', 5)])).toHaveLength(2);
    expect(cache.update('d', [device('a', 'HEALTHY'), device('b', 'UNHEALTHY', 5)])).toEqual([]);
    now += 6_000;
    expect(cache.get('d', 'n', 'a').health).toBe('Healthy');
    expect(cache.get('d', 'n', 'b').health).toBe('Unknown');
    // b missing from the next report and past its timeout: reported as changed to Unknown.
    expect(cache.update('d', [device('a', 'HEALTHY')])).toEqual([{ driver: 'd', pool: 'n', device: 'b' }]);
    now += 31_000;
    expect(cache.get('d', 'n', 'a').health).toBe('Unknown');
    cache.clearDriver('d');
    expect(cache.get('d', 'n', 'a').health).toBe('Unknown');
  });
});
