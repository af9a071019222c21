import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../../src/kube/client.js';
import { loadKubeConfig } from '../../../src/kube/config.js';
import type { Pod, ResourceClaim } from '../../../src/kube/types.js';
import { waitFor } from '../../kube/wait.js';
import { bundlePath } from '../../support/build.js';
import { REPO_ROOT } from '../../support/paths.js';
import { type ApiServer, startApiServer } from '../apiserver/index.js';
import { KubeletEmulator } from '../kubelet/emulator.js';
import { nodeObject, shortTempDir, startApi } from '../kubelet/harness.js';
import { buildSimulatedNode } from '../nodes/index.js';
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
  const NODE = 'h100-node-1';
  let api: ApiServer;
  let kubelet: KubeletEmulator;
  let scheduler: SchedulerLite;
  let agent: ChildProcess | undefined;
  let dir: string;
  let agentLog = '';

  beforeAll(async () => {
    const started = await startApi({ version: '1.37' });
    api = started.api;
    api.store.apply(
      execFileSync('kubectl', ['kustomize', 'deploy/overlays/extended-resources'], {
        cwd: REPO_ROOT,
        encoding: 'utf8',
      }),
    );
    api.store.create('nodes', nodeObject(NODE));
    api.store.create('pods', {
      metadata: { name: 'lockstep-agent-x1', namespace: 'lockstep-system' },
      spec: {
        nodeName: NODE,
        serviceAccountName: 'lockstep-agent',
        containers: [{ name: 'agent', image: 'lockstep' }],
      },
    });
    const agentKubeconfig = api.kubeconfigFor({
      serviceAccount: { namespace: 'lockstep-system', name: 'lockstep-agent' },
      pod: 'lockstep-agent-x1',
    });
    dir = await shortTempDir('ext-');
    const node = await buildSimulatedNode('h100-hgx', join(dir, 'node'), { nodeName: NODE });
    kubelet = new KubeletEmulator({
      version: '1.37',
      nodeName: NODE,
      client: started.client,
      registryDir: join(dir, 'r'),
      cdiDirs: [join(dir, 'c')],
      pollMs: 50,
      retryMs: 200,
      statusSyncMs: 200,
    });
    await kubelet.start();
    scheduler = new SchedulerLite({ client: started.client });
    await scheduler.start();
    agent = spawn(
      process.execPath,
      [
        bundlePath('lockstep'),
        'agent',
        ...['--node-name', NODE, '--kubeconfig', agentKubeconfig, '--proc-root', node.procRoot],
        ...['--sysfs-root', node.sysfsRoot, '--dev-root', node.devRoot, '--nvidia-smi', node.nvidiaSmiPath],
        ...['--kmsg', node.kmsgPath, '--state-dir', join(dir, 's'), '--plugin-dir', join(dir, 'p')],
        ...['--plugin-registry-dir', join(dir, 'r'), '--cdi-dir', join(dir, 'c'), '--http-address', '127.0.0.1:0'],
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    const collect = (chunk: Buffer) => {
      agentLog += chunk.toString();
    };
    agent.stdout?.on('data', collect);
    agent.stderr?.on('data', collect);
  }, 60_000);

  afterAll(async () => {
    if (agent?.pid !== undefined && agent.exitCode === null) {
      const exited = new Promise((resolve) => agent?.once('exit', resolve));
      process.kill(-agent.pid, 'SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
      if (agent.exitCode === null) process.kill(-agent.pid, 'SIGKILL');
    }
    await scheduler?.stop();
    await kubelet?.stop();
    await api?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function waitOr(what: string, predicate: () => boolean, timeoutMs = 30_000): Promise<void> {
    return kubelet.waitFor(what, predicate, timeoutMs).catch((error: unknown) => {
      throw new Error(`${String(error)}\n--- agent log (tail) ---\n${agentLog.slice(-4000)}`);
    });
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
