import { execFileSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../../src/kube/client.js';
import { loadKubeConfig } from '../../../src/kube/config.js';
import type { Pod, ResourceClaim } from '../../../src/kube/types.js';
import { waitFor } from '../../kube/wait.js';
import { REPO_ROOT } from '../../support/paths.js';
import { type ApiServer, startApiServer } from '../apiserver/index.js';
import type { KubeletEmulator } from '../kubelet/emulator.js';
import { type RealAgentWorld, startRealAgent } from '../kubelet/real-agent.js';
import { containerCdiEnv } from '../pods/node-runtime.js';
import type { ContainerSpec } from '../pods/spec.js';
import { EXTENDED_RESOURCE_CLAIM_ANNOTATION } from './extended.js';
import { SchedulerLite } from './scheduler.js';

/**
 * deploy/overlays/extended-resources: an unchanged pod asking for `nvidia.com/gpu: 2` gets two lockstep GPUs through
 * the claim scheduler-lite makes for it (KEP-5004), with the DeviceClasses exactly as the overlay renders them.
 */
const gpuPod = (name: string, gpus: number) => ({
  metadata: { name, namespace: 'default' },
  spec: {
    initContainers: [{ name: 'setup', image: 'busybox' }],
    containers: [{ name: 'main', image: 'vllm', resources: { limits: { cpu: '4', 'nvidia.com/gpu': gpus } } }],
  },
});

describe('extended resources backed by DRA (deploy/overlays/extended-resources)', () => {
  let api: ApiServer;
  let client: KubeClient;
  let scheduler: SchedulerLite;

  beforeAll(async () => {
    api = await startApiServer({ tls: false, bookmarkIntervalMs: 500 });
    const rendered = execFileSync('kubectl', ['kustomize', 'deploy/overlays/extended-resources'], {
      cwd: REPO_ROOT,
      encoding: 'utf8',
    });
    api.store.apply(rendered);
    api.store.create('resourceslices', {
      metadata: { name: 'node-a-lockstep.dev' },
      spec: {
        driver: 'lockstep.dev',
        nodeName: 'node-a',
        pool: { name: 'node-a', generation: 1, resourceSliceCount: 1 },
        devices: Array.from({ length: 4 }, (_, i) => ({
          name: `gpu-${i}`,
          attributes: { type: { string: 'gpu' }, healthy: { bool: i !== 0 } },
        })),
      },
    });
    client = new KubeClient(loadKubeConfig({ kubeconfig: api.kubeconfigPath }));
    scheduler = new SchedulerLite({ client });
    await scheduler.start();
  }, 60_000);

  afterAll(async () => {
    await scheduler?.stop();
    client?.close();
    await api?.stop();
  });

  it('the overlay’s GPU class serves nvidia.com/gpu', () => {
    const cls = api.store.get('deviceclasses', 'gpu.lockstep.dev') as unknown as {
      spec: { extendedResourceName?: string };
    };
    expect(cls.spec.extendedResourceName).toBe('nvidia.com/gpu');
  });

  it('a pod with nvidia.com/gpu: 2 in its limits gets two healthy lockstep GPUs in a claim made for it', async () => {
    api.store.create('pods', gpuPod('serve', 2));
    const bound = await waitFor(() => {
      const p = api.store.find('pods', 'serve', 'default') as Pod | undefined;
      return p?.spec.nodeName ? p : undefined;
    }, 'pod bound');
    expect(bound.spec.nodeName).toBe('node-a');
    const status = (
      bound.status as { extendedResourceClaimStatus?: { resourceClaimName: string; requestMappings: unknown[] } }
    ).extendedResourceClaimStatus!;
    // container 1 (after the init container), resource 1 of [cpu, nvidia.com/gpu]
    expect(status.requestMappings).toEqual([
      { containerName: 'main', resourceName: 'nvidia.com/gpu', requestName: 'container-1-request-1' },
    ]);
    const claim = api.store.get('resourceclaims', status.resourceClaimName, 'default') as unknown as ResourceClaim;
    expect(claim.metadata.name).toMatch(/^serve-extended-resources-/);
    expect(claim.metadata.annotations?.[EXTENDED_RESOURCE_CLAIM_ANNOTATION]).toBe('true');
    expect(claim.metadata.ownerReferences?.[0]).toMatchObject({
      kind: 'Pod',
      uid: bound.metadata.uid,
      controller: true,
    });
    const results = claim.status!.allocation!.devices!.results!;
    expect(results.map((r) => [r.request, r.driver])).toEqual([
      ['container-1-request-1', 'lockstep.dev'],
      ['container-1-request-1', 'lockstep.dev'],
    ]);
    // the unhealthy gpu-0 is not among them
    expect(results.map((r) => r.device).sort()).toEqual(['gpu-1', 'gpu-2']);
    expect(claim.status!.reservedFor).toEqual([{ resource: 'pods', name: 'serve', uid: bound.metadata.uid }]);
  });

  it('more GPUs than are free: pending with a reason, and no claim left behind', async () => {
    api.store.create('pods', gpuPod('greedy', 3));
    await waitFor(
      () =>
        api.store
          .list('events', { namespace: 'default' })
          .find((e) => (e as { involvedObject?: { name?: string } }).involvedObject?.name === 'greedy'),
      'FailedScheduling',
    );
    const greedy = api.store.get('pods', 'greedy', 'default') as unknown as Pod;
    expect(greedy.spec.nodeName).toBeUndefined();
    const claims = api.store.list('resourceclaims', { namespace: 'default' });
    expect(claims.filter((c) => c.metadata.name?.startsWith('greedy-'))).toEqual([]);
  });
});

/**
 * The same overlay end to end: the bundled agent (a real process) on the simulated 8x H100 node, scheduler-lite and the
 * kubelet emulator of 1.37. The kubelet prepares the claim scheduler-lite made for the pod's `nvidia.com/gpu: 2` (named
 * in `status.extendedResourceClaimStatus`, not in `spec.resourceClaims`), and the container whose limits ask for the
 * GPUs gets their CDI devices and edits, as from a claim it names; deleting the pod unprepares it.
 */
describe('extended resources with a real agent and the kubelet emulator', () => {
  let world: RealAgentWorld;
  let api: ApiServer;
  let kubelet: KubeletEmulator;
  let scheduler: SchedulerLite;
  let dir: string;

  beforeAll(async () => {
    world = await startRealAgent({
      version: '1.37',
      kustomize: 'deploy/overlays/extended-resources',
      nodeName: 'h100-node-1',
      tempPrefix: 'ext-',
    });
    ({ api, kubelet, scheduler, dir } = world);
  }, 60_000);

  afterAll(async () => {
    await world?.stop();
  });

  function waitOr(what: string, predicate: () => boolean, timeoutMs = 30_000): Promise<void> {
    return world.waitOr(what, predicate, timeoutMs);
  }

  it('a pod with nvidia.com/gpu: 2 runs with its two GPUs’ CDI devices and env; deleting it unprepares them', async () => {
    await waitOr('the agent registered with the kubelet', () => kubelet.registrations().some((r) => r.registered));
    await waitOr('slices published', () => api.store.list('resourceslices').length > 0);
    api.store.create('pods', gpuPod('engine', 2));
    await waitOr('pod running', () => kubelet.pod('default', 'engine')?.phase === 'Running');

    const pod = api.store.get('pods', 'engine', 'default') as unknown as Pod;
    expect(pod.spec.resourceClaims ?? []).toEqual([]);
    const claimName = (pod.status as { extendedResourceClaimStatus: { resourceClaimName: string } })
      .extendedResourceClaimStatus.resourceClaimName;
    const claim = api.store.get('resourceclaims', claimName, 'default') as unknown as ResourceClaim;
    const allocated = claim.status!.allocation!.devices!.results!.map((r) => r.device).sort();
    expect(allocated).toHaveLength(2);

    // prepared through the agent: one CDI device per allocated GPU, for the mapped request
    const prepared = kubelet.claim('default', claimName)!;
    expect(prepared.devices.map((d) => d.device).sort()).toEqual(allocated);
    expect(prepared.devices.every((d) => d.requestNames.includes('container-1-request-1'))).toBe(true);
    const ids = prepared.devices.flatMap((d) => d.cdiIds);
    expect(ids).toHaveLength(2);

    // the container asking for the GPUs gets them; the init container, asking for none, gets nothing
    const main = pod.spec.containers[0] as ContainerSpec;
    expect(kubelet.containerCdiIds('default', 'engine', main).sort()).toEqual([...ids].sort());
    expect(kubelet.containerCdiIds('default', 'engine', { name: 'setup' })).toEqual([]);
    const env = await containerCdiEnv(kubelet, join(dir, 'c'), pod, main);
    expect(env.LOCKSTEP_CLAIM).toBe(`default/${claimName}`);
    expect(env.LOCKSTEP_GPUS?.split(',').sort()).toEqual(allocated);
    expect(env.NVIDIA_VISIBLE_DEVICES?.split(',')).toHaveLength(2);
    await waitOr('pod status Running', () => {
      const current = api.store.find('pods', 'engine', 'default') as Pod | undefined;
      return current?.status?.phase === 'Running';
    });

    await scheduler.stop();
    await api.store.delete('pods', 'engine', 'default');
    await waitOr('claim unprepared', () => kubelet.claim('default', claimName) === undefined);
    await expect(readdir(join(dir, 'c'))).resolves.not.toContainEqual(expect.stringContaining(claim.metadata.uid!));
  }, 90_000);
});
