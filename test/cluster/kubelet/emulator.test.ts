import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DeviceHealthBoard } from '../../../agent/health/board.js';
import { ApiClaimReader } from '../../../agent/kubelet/claim-reader.js';
import type { KubeClient } from '../../../src/kube/client.js';
import type { Pod } from '../../../src/kube/types.js';
import { type PluginHarness, startPlugin } from '../../agent/kubelet/harness.js';
import type { ApiServer, KubeObject } from '../apiserver/index.js';
import { validateCdiSpec } from './cdi-rules.js';
import { KubeletEmulator } from './emulator.js';
import { createAllocatedClaim, nodeObject, podObject, shortTempDir, startApi } from './harness.js';

const NODE = 'gpu-node-1';
const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

interface World {
  api: ApiServer;
  client: KubeClient;
  plugin: PluginHarness;
  kubelet: KubeletEmulator;
}

async function world(
  options: { graceful?: boolean; kubelet?: Partial<ConstructorParameters<typeof KubeletEmulator>[0]> } = {},
): Promise<World> {
  const { api, client } = await startApi({ podGracefulDeletion: options.graceful ?? false });
  stops.push(() => api.stop());
  api.store.create('nodes', nodeObject(NODE));
  const dir = await shortTempDir('ke-');
  const kubelet = new KubeletEmulator({
    nodeName: NODE,
    client,
    registryDir: join(dir, 'reg'),
    cdiDirs: [join(dir, 'cdi')],
    pollMs: 20,
    retryMs: 50,
    statusSyncMs: 100,
    ...options.kubelet,
  });
  await kubelet.start();
  stops.push(() => kubelet.stop());
  const plugin = await startPlugin({ claims: new ApiClaimReader(client), board: new DeviceHealthBoard() }, dir);
  stops.push(() => plugin.plugin.stop());
  await kubelet.waitFor('plugin registered', () => plugin.plugin.readiness().ready);
  return { api, client, plugin, kubelet };
}

function podFromApi(api: ApiServer, name: string): Pod {
  return api.store.get('pods', name, 'default') as unknown as Pod;
}

function containerStatus(pod: Pod, container = 'main'): Record<string, unknown> {
  const statuses = (pod.status?.containerStatuses ?? []) as Record<string, unknown>[];
  return statuses.find((status) => status.name === container) ?? {};
}

async function runPodWithClaim(
  w: World,
  name: string,
  results: { request: string; device: string }[],
  containers?: Parameters<typeof podObject>[0]['containers'],
) {
  const pod = w.api.store.create(
    'pods',
    podObject({ name, node: NODE, claims: { devices: `${name}-claim` }, containers }),
    {
      namespace: 'default',
    },
  );
  createAllocatedClaim(w.api, { name: `${name}-claim`, node: NODE, results, reservedFor: [pod] });
  await w.kubelet.waitForPodRunning('default', name);
  return pod;
}

describe('kubelet emulator with the agent’s plugin', () => {
  it('registers the plugin (v1 chosen), prepares a pod’s claim, writes pod status with device health', async () => {
    const w = await world();
    expect(w.kubelet.registrations()).toEqual([
      expect.objectContaining({ socket: join(w.plugin.registryDir, 'lockstep.dev-reg.sock'), registered: true }),
    ]);
    expect(w.kubelet.pluginList()).toEqual([
      expect.objectContaining({
        driver: 'lockstep.dev',
        endpoint: join(w.plugin.pluginDir, 'dra.sock'),
        version: 'v1.DRAPlugin',
      }),
    ]);
    const pod = await runPodWithClaim(w, 'train-0', [
      { request: 'gpus', device: 'gpu-0' },
      { request: 'gpus', device: 'gpu-1' },
      { request: 'nic', device: 'nic-0000-1a-00-0' },
    ]);
    const claimUid = (w.api.store.get('resourceclaims', 'train-0-claim', 'default') as KubeObject).metadata
      .uid as string;
    const spec = JSON.parse(await readFile(join(w.plugin.cdiDir, `k8s.lockstep.dev-claim_${claimUid}.json`), 'utf8'));
    expect(validateCdiSpec(spec)).toEqual([]);
    expect(spec.devices.map((device: { name: string }) => device.name)).toEqual([
      `${claimUid}-gpu-0`,
      `${claimUid}-gpu-1`,
      `${claimUid}-nic-0000-1a-00-0`,
    ]);

    await w.kubelet.waitFor('health in pod status', () => {
      const status = containerStatus(podFromApi(w.api, 'train-0'));
      return JSON.stringify(status.allocatedResourcesStatus ?? []).includes('Healthy');
    });
    const api = podFromApi(w.api, 'train-0');
    expect(api.status?.phase).toBe('Running');
    expect(containerStatus(api).allocatedResourcesStatus).toEqual([
      {
        name: 'claim:devices',
        resources: ['gpu-0', 'gpu-1', 'nic-0000-1a-00-0'].map((device) => ({
          resourceID: `k8s.lockstep.dev/claim=${claimUid}-${device}`,
          health: 'Healthy',
        })),
      },
    ]);
    expect(pod.metadata.uid).toBe(api.metadata.uid);

    // The agent's board says gpu-1 broke: the pod status follows.
    w.plugin.board.set('gpu-1', { state: 'unhealthy', reason: 'XID 79' }, 'xid');
    await w.kubelet.waitFor('gpu-1 unhealthy in pod status', () =>
      JSON.stringify(containerStatus(podFromApi(w.api, 'train-0')).allocatedResourcesStatus).includes('"Unhealthy"'),
    );
    const resources = (
      containerStatus(podFromApi(w.api, 'train-0')).allocatedResourcesStatus as {
        resources: { resourceID: string; health: string }[];
      }[]
    )[0]?.resources;
    expect(resources?.map((resource) => resource.health)).toEqual(['Healthy', 'Unhealthy', 'Healthy']);
  });

  it('per-request names and per-container claims, as the kubelet names them', async () => {
    const w = await world();
    await runPodWithClaim(
      w,
      'split',
      [
        { request: 'gpus', device: 'gpu-2' },
        { request: 'nic', device: 'nic-0000-3c-00-0' },
      ],
      [
        { name: 'engine', claims: [{ name: 'devices', request: 'gpus' }] },
        { name: 'net', claims: [{ name: 'devices', request: 'nic' }] },
        { name: 'sidecar' },
      ],
    );
    await w.kubelet.waitFor(
      'statuses',
      () => containerStatus(podFromApi(w.api, 'split'), 'engine').allocatedResourcesStatus !== undefined,
    );
    const pod = podFromApi(w.api, 'split');
    const uid = (w.api.store.get('resourceclaims', 'split-claim', 'default') as KubeObject).metadata.uid as string;
    expect(containerStatus(pod, 'engine').allocatedResourcesStatus).toEqual([
      {
        name: 'claim:devices/gpus',
        resources: [{ resourceID: `k8s.lockstep.dev/claim=${uid}-gpu-2`, health: 'Healthy' }],
      },
    ]);
    expect(containerStatus(pod, 'net').allocatedResourcesStatus).toEqual([
      {
        name: 'claim:devices/nic',
        resources: [{ resourceID: `k8s.lockstep.dev/claim=${uid}-nic-0000-3c-00-0`, health: 'Healthy' }],
      },
    ]);
    expect(containerStatus(pod, 'sidecar').allocatedResourcesStatus).toBeUndefined();
  });

  it('container restarts show restartCount and lastState', async () => {
    const w = await world();
    await runPodWithClaim(w, 'r', [{ request: 'gpus', device: 'gpu-3' }]);
    await w.kubelet.restartContainer('default', 'r', 'main', { exitCode: 137, reason: 'OOMKilled' });
    const status = containerStatus(podFromApi(w.api, 'r'));
    expect(status.restartCount).toBe(1);
    expect(status.lastState).toMatchObject({ terminated: { exitCode: 137, reason: 'OOMKilled' } });
    expect(status.state).toHaveProperty('running');
  });

  it('pod deletion (graceful): unprepare, then the kubelet removes the pod; the CDI spec is gone', async () => {
    const w = await world({ graceful: true });
    await runPodWithClaim(w, 'gone', [{ request: 'gpus', device: 'gpu-4' }]);
    expect(await readdir(w.plugin.cdiDir)).toHaveLength(1);
    await w.client.delete('/api/v1/namespaces/default/pods/gone');
    await w.kubelet.waitFor('pod removed', () => w.api.store.find('pods', 'gone', 'default') === undefined);
    expect(await readdir(w.plugin.cdiDir)).toEqual([]);
    expect(w.kubelet.stats.unprepareCalls).toBe(1);
    expect(w.plugin.plugin.claims().prepared()).toEqual([]);
  });

  it('a claim the plugin refuses keeps the pod pending with a Warning Event naming the reason', async () => {
    const w = await world({ kubelet: { retryMs: 5000 } });
    const pod = w.api.store.create('pods', podObject({ name: 'bad', node: NODE, claims: { devices: 'bad-claim' } }), {
      namespace: 'default',
    });
    createAllocatedClaim(w.api, {
      name: 'bad-claim',
      node: NODE,
      results: [{ request: 'gpus', device: 'gpu-42' }],
      reservedFor: [pod],
    });
    await w.kubelet.waitFor('failure recorded', () => w.kubelet.pod('default', 'bad')?.lastError !== undefined);
    expect(w.kubelet.pod('default', 'bad')?.lastError).toMatch(
      /NodePrepareResources failed for ResourceClaim bad-claim: device gpu-42 of ResourceClaim default\/bad-claim is not on node gpu-node-1/,
    );
    await w.kubelet.waitFor('event', () => w.api.store.list('events', { namespace: 'default' }).length > 0);
    expect(w.api.store.list('events', { namespace: 'default' })[0]).toMatchObject({
      reason: 'FailedPrepareDynamicResources',
      type: 'Warning',
      involvedObject: { name: 'bad' },
    });
  });

  it('a pod not in the claim’s reservedFor is not prepared', async () => {
    const w = await world({ kubelet: { retryMs: 5000 } });
    w.api.store.create('pods', podObject({ name: 'thief', node: NODE, claims: { devices: 'other-claim' } }), {
      namespace: 'default',
    });
    createAllocatedClaim(w.api, {
      name: 'other-claim',
      node: NODE,
      results: [{ request: 'gpus', device: 'gpu-0' }],
      reservedFor: [],
    });
    await w.kubelet.waitFor('refused', () => w.kubelet.pod('default', 'thief')?.lastError !== undefined);
    expect(w.kubelet.pod('default', 'thief')?.lastError).toMatch(/is not allowed to use ResourceClaim other-claim/);
    expect(w.kubelet.stats.prepareCalls).toBe(0);
  });
});

describe('rolling update of the plugin', () => {
  it('two agent pods overlap (pod-UID socket names); calls go to the newest; the old one leaving changes nothing', async () => {
    const { api, client } = await startApi();
    stops.push(() => api.stop());
    api.store.create('nodes', nodeObject(NODE));
    const dir = await shortTempDir('kr-');
    const kubelet = new KubeletEmulator({
      nodeName: NODE,
      client,
      registryDir: join(dir, 'reg'),
      pollMs: 20,
      retryMs: 50,
      wipeDelayMs: 60_000,
    });
    await kubelet.start();
    stops.push(() => kubelet.stop());
    const old = await startPlugin({ claims: new ApiClaimReader(client), podUid: 'pod-old' }, dir);
    stops.push(() => old.plugin.stop());
    await kubelet.waitFor('old registered', () => old.plugin.readiness().ready);
    const pod = api.store.create('pods', podObject({ name: 'a', node: NODE, claims: { devices: 'a-claim' } }), {
      namespace: 'default',
    });
    createAllocatedClaim(api, {
      name: 'a-claim',
      node: NODE,
      results: [{ request: 'g', device: 'gpu-0' }],
      reservedFor: [pod],
    });
    await kubelet.waitForPodRunning('default', 'a');

    const fresh = await startPlugin({ claims: new ApiClaimReader(client), podUid: 'pod-new' }, dir);
    stops.push(() => fresh.plugin.stop());
    await kubelet.waitFor(
      'new registered and connected',
      () => fresh.plugin.readiness().ready && kubelet.pluginList().every((p) => p.connected),
    );
    expect(kubelet.pluginList().map((p) => p.endpoint)).toEqual([
      join(dir, 'plug', 'dra-pod-old.sock'),
      join(dir, 'plug', 'dra-pod-new.sock'),
    ]);
    await old.plugin.stop();
    await kubelet.waitFor('old de-registered', () => kubelet.pluginList().length === 1);
    expect(kubelet.plugins.wipePending('lockstep.dev')).toBe(false);

    // The new instance knows the claim the old one prepared (shared checkpoint) and answers the same.
    await kubelet.repeatPrepare('default', 'a');
    const second = api.store.create('pods', podObject({ name: 'b', node: NODE, claims: { devices: 'b-claim' } }), {
      namespace: 'default',
    });
    createAllocatedClaim(api, {
      name: 'b-claim',
      node: NODE,
      results: [{ request: 'g', device: 'gpu-1' }],
      reservedFor: [second],
    });
    await kubelet.waitForPodRunning('default', 'b');
    expect(
      fresh.plugin
        .claims()
        .prepared()
        .map((entry) => entry.name)
        .sort(),
    ).toEqual(['a-claim', 'b-claim']);
  });
});
