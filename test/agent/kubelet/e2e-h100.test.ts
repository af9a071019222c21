import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pod, ResourceClaim } from '../../../src/kube/types.js';
import type { ApiServer } from '../../cluster/apiserver/index.js';
import { validateCdiSpec } from '../../cluster/kubelet/cdi-rules.js';
import { KubeletEmulator } from '../../cluster/kubelet/emulator.js';
import { nodeObject, shortTempDir, startApi } from '../../cluster/kubelet/harness.js';
import { buildSimulatedNode, type SimulatedNode } from '../../cluster/nodes/index.js';
import { SchedulerLite } from '../../cluster/scheduler/index.js';
import { bundlePath } from '../../support/build.js';
import { REPO_ROOT } from '../../support/cli.js';

/**
 * The kubelet plugin end to end: the bundled agent (a real process) on the simulated recorded 8x H100 HGX node, the API server
 * double, scheduler-lite and the kubelet emulator. register → a pod claiming 2 GPUs and 1 NIC aligned with one of them
 * is scheduled → prepare → the CDI spec names exactly those devices and passes the CDI rules → the pod status shows
 * their health → pod deleted → unprepare removes the spec.
 */
const NODE = 'h100-node-1';
let api: ApiServer;
let node: SimulatedNode;
let kubelet: KubeletEmulator;
let scheduler: SchedulerLite;
let agent: ChildProcess;
let dir: string;
let agentLog = '';

beforeAll(async () => {
  const started = await startApi();
  api = started.api;
  api.store.apply(await readFile(join(REPO_ROOT, 'deploy/base/deviceclasses.yaml'), 'utf8'));
  api.store.create('nodes', nodeObject(NODE));
  dir = await shortTempDir('e2e-');
  node = await buildSimulatedNode('h100-hgx', join(dir, 'node'), { nodeName: NODE });
  kubelet = new KubeletEmulator({
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
      ...['--node-name', NODE, '--kubeconfig', api.kubeconfigPath],
      ...['--sysfs-root', node.sysfsRoot, '--dev-root', node.devRoot, '--nvidia-smi', node.nvidiaSmiPath],
      ...['--kmsg', node.kmsgPath, '--state-dir', join(dir, 's'), '--plugin-dir', join(dir, 'p')],
      ...['--plugin-registry-dir', join(dir, 'r'), '--cdi-dir', join(dir, 'c'), '--http-address', '127.0.0.1:0'],
      ...['--log-level', 'info'],
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  agent.stdout?.on('data', (chunk: Buffer) => {
    agentLog += chunk.toString();
  });
  agent.stderr?.on('data', (chunk: Buffer) => {
    agentLog += chunk.toString();
  });
}, 60_000);

afterAll(async () => {
  if (agent && agent.exitCode === null) {
    const exited = new Promise((resolve) => agent.once('exit', resolve));
    agent.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    if (agent.exitCode === null) agent.kill('SIGKILL');
  }
  await scheduler?.stop();
  await kubelet?.stop();
  await api?.stop();
});

function waitOr(what: string, predicate: () => boolean, timeoutMs = 20_000): Promise<void> {
  return kubelet.waitFor(what, predicate, timeoutMs).catch((error: unknown) => {
    throw new Error(`${String(error)}\n--- agent log (tail) ---\n${agentLog.slice(-4000)}`);
  });
}

describe('lockstep agent + kubelet emulator on the recorded 8x H100 node', () => {
  it('a pod claiming 2 GPUs and 1 aligned NIC gets a CDI spec naming exactly those devices', async () => {
    await waitOr('the agent registered with the kubelet', () => kubelet.registrations().some((r) => r.registered));
    expect(kubelet.pluginList()).toEqual([
      expect.objectContaining({
        driver: 'lockstep.dev',
        endpoint: join(dir, 'p', 'dra.sock'),
        version: 'v1.DRAPlugin',
      }),
    ]);
    await waitOr('slices published', () => api.store.list('resourceslices').length > 0);
    // The agent's /readyz and /healthz include the plugin (registered with the kubelet).
    const address = /"address":"([^"]+)","msg":"serving \/metrics/.exec(agentLog)?.[1];
    expect(address).toBeDefined();
    const readyz = await fetch(`http://${address}/readyz?verbose`);
    expect(await readyz.text()).toContain('[+]kubelet-plugin ok');
    const healthz = await fetch(`http://${address}/healthz?verbose`);
    expect(await healthz.text()).toContain('[+]kubelet-plugin ok');

    api.store.create(
      'resourceclaimtemplates',
      {
        apiVersion: 'resource.k8s.io/v1',
        kind: 'ResourceClaimTemplate',
        metadata: { name: 'two-gpus-one-nic', namespace: 'default' },
        spec: {
          spec: {
            devices: {
              requests: [
                { name: 'gpu', exactly: { deviceClassName: 'gpu.lockstep.dev' } },
                { name: 'peer', exactly: { deviceClassName: 'gpu.lockstep.dev' } },
                {
                  name: 'nic',
                  exactly: {
                    deviceClassName: 'nic.lockstep.dev',
                    selectors: [{ cel: { expression: 'device.attributes["lockstep.dev"].rdma' } }],
                  },
                },
              ],
              constraints: [
                { requests: ['gpu', 'nic'], matchAttribute: 'lockstep.dev/pcieSwitch' },
                { requests: ['gpu', 'peer', 'nic'], matchAttribute: 'resource.kubernetes.io/numaNode' },
              ],
            },
          },
        },
      },
      { namespace: 'default' },
    );
    api.store.create(
      'pods',
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'engine-0', namespace: 'default' },
        spec: {
          containers: [
            { name: 'engine', image: 'vllm/vllm-openai:v0.11.0', resources: { claims: [{ name: 'devices' }] } },
          ],
          resourceClaims: [{ name: 'devices', resourceClaimTemplateName: 'two-gpus-one-nic' }],
        },
      },
      { namespace: 'default' },
    );

    await waitOr('pod running', () => kubelet.pod('default', 'engine-0')?.phase === 'Running', 30_000);
    const pod = api.store.get('pods', 'engine-0', 'default') as unknown as Pod;
    expect(pod.spec.nodeName).toBe(NODE);
    const claimName = pod.status?.resourceClaimStatuses?.[0]?.resourceClaimName as string;
    const claim = api.store.get('resourceclaims', claimName, 'default') as unknown as ResourceClaim;
    const results = (
      claim.status as { allocation: { devices: { results: { request: string; device: string; pool: string }[] } } }
    ).allocation.devices.results;
    expect(results.map((r) => r.request).sort()).toEqual(['gpu', 'nic', 'peer']);
    const byRequest = Object.fromEntries(results.map((r) => [r.request, r.device]));
    // The NIC sits behind the same PCIe switch as the first GPU (recording: GPU 19:00.0 ↔ NIC 1a:00.0 etc.).
    const aligned: Record<string, string[]> = {
      'gpu-0000-19-00-0': ['nic-0000-1a-00-0', 'nic-0000-1b-00-0', 'nic-0000-1b-00-1'],
      'gpu-0000-3b-00-0': ['nic-0000-3c-00-0'],
      'gpu-0000-4c-00-0': ['nic-0000-4d-00-0'],
      'gpu-0000-5d-00-0': ['nic-0000-5e-00-0'],
      'gpu-0000-9b-00-0': ['nic-0000-9c-00-0', 'nic-0000-9d-00-0', 'nic-0000-9d-00-1'],
      'gpu-0000-bb-00-0': ['nic-0000-bc-00-0'],
      'gpu-0000-cb-00-0': ['nic-0000-cc-00-0'],
      'gpu-0000-db-00-0': ['nic-0000-dc-00-0'],
    };
    expect(aligned[byRequest.gpu as string]).toContain(byRequest.nic);

    // The CDI spec: exactly the three allocated devices, valid under the CDI rules, resolvable by the runtime.
    const uid = claim.metadata.uid as string;
    const spec = JSON.parse(await readFile(join(dir, 'c', `k8s.lockstep.dev-claim_${uid}.json`), 'utf8'));
    expect(validateCdiSpec(spec)).toEqual([]);
    const allocated = results.map((r) => r.device);
    expect(spec.devices.map((d: { name: string }) => d.name).sort()).toEqual(
      allocated.map((d) => `${uid}-${d}`).sort(),
    );
    // the recording's minor numbers follow bus order (GPU 19:00.0 is /dev/nvidia0 … db:00.0 is /dev/nvidia7)
    const gpuIndex = (name: string) => Object.keys(aligned).indexOf(name);
    const gpuDevice = spec.devices.find((d: { name: string }) => d.name === `${uid}-${byRequest.gpu}`);
    expect(gpuDevice.containerEdits.deviceNodes).toEqual([
      {
        path: `/dev/nvidia${gpuIndex(byRequest.gpu as string)}`,
        hostPath: join(node.devRoot, `nvidia${gpuIndex(byRequest.gpu as string)}`),
      },
    ]);
    const env: string[] = spec.containerEdits.env;
    expect(env).toContain(`LOCKSTEP_GPUS=${[byRequest.gpu, byRequest.peer].join(',')}`);
    expect(
      env
        .find((e) => e.startsWith('NVIDIA_VISIBLE_DEVICES='))
        ?.split('=')[1]
        ?.split(','),
    ).toHaveLength(2);
    expect(env.some((e) => /^LOCKSTEP_NIC_INTERFACES=enp\d+s0/.test(e))).toBe(true);
    expect(env.some((e) => /^LOCKSTEP_RDMA_DEVICES=mlx5_\d+$/.test(e))).toBe(true);
    expect(spec.containerEdits.deviceNodes.map((n: { path: string }) => n.path)).toEqual(
      expect.arrayContaining(['/dev/nvidiactl', '/dev/nvidia-uvm']),
    );

    // Pod status: one resource per device, CDI ids as resourceIDs, Healthy from the agent's stream.
    await waitOr('device health in pod status', () => {
      const current = api.store.get('pods', 'engine-0', 'default') as unknown as Pod;
      const status = (
        current.status?.containerStatuses as { allocatedResourcesStatus?: { resources: { health: string }[] }[] }[]
      )?.[0];
      return status?.allocatedResourcesStatus?.[0]?.resources.every((r) => r.health === 'Healthy') === true;
    });
    const current = api.store.get('pods', 'engine-0', 'default') as unknown as Pod;
    const status = ((current.status?.containerStatuses ?? []) as { allocatedResourcesStatus: unknown[] }[])[0];
    expect(status?.allocatedResourcesStatus).toEqual([
      {
        name: 'claim:devices',
        resources: expect.arrayContaining(
          allocated.map((d) => ({ resourceID: `k8s.lockstep.dev/claim=${uid}-${d}`, health: 'Healthy' })),
        ),
      },
    ]);

    // Pod deleted: the kubelet unprepares, the spec goes.
    await api.store.delete('pods', 'engine-0', 'default');
    await waitOr('spec removed', () => kubelet.claim('default', claimName) === undefined);
    await expect(readFile(join(dir, 'c', `k8s.lockstep.dev-claim_${uid}.json`), 'utf8')).rejects.toMatchObject({
      code: 'ENOENT',
    });
  }, 90_000);
});
