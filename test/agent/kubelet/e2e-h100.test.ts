import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pod, ResourceClaim } from '../../../src/kube/types.js';
import type { ApiServer } from '../../cluster/apiserver/index.js';
import { validateCdiSpec } from '../../cluster/kubelet/cdi-rules.js';
import type { KubeletEmulator } from '../../cluster/kubelet/emulator.js';
import { type RealAgentWorld, startRealAgent } from '../../cluster/kubelet/real-agent.js';
import type { SimulatedNode } from '../../cluster/nodes/index.js';
import type { SchedulerLite } from '../../cluster/scheduler/index.js';
import { KUBERNETES_VERSIONS, versionProfile } from '../../cluster/versions.js';
import { bundlePath } from '../../support/build.js';

/**
 * The kubelet plugin end to end, on each emulated Kubernetes release (1.35, 1.36, 1.37: the CI matrix): the bundled
 * agent (a real process) on the simulated 8x H100 HGX node, running with its own service account's pod-bound token and
 * deploy/base's RBAC and admission policies, the API server double, scheduler-lite and the kubelet emulator of that
 * release. register → a pod claiming 2 GPUs and 1 NIC aligned with one of them is scheduled → prepare → the CDI spec
 * names exactly those devices and passes the CDI rules → the claim's status.devices reports them Ready, the NIC with
 * its interface, addresses and MAC (on 1.36+ through the granular `resourceclaims/driver` authorization) → the pod
 * status shows their health → pod deleted → unprepare removes the spec and the claim's device status.
 */
const NODE = 'h100-node-1';
const execFileAsync = promisify(execFile);

describe.each(KUBERNETES_VERSIONS)('lockstep agent + kubelet emulator of %s on the 8x H100 node', (version) => {
  let world: RealAgentWorld;
  let api: ApiServer;
  let node: SimulatedNode;
  let kubelet: KubeletEmulator;
  let scheduler: SchedulerLite;
  let dir: string;

  beforeAll(async () => {
    world = await startRealAgent({
      version,
      kustomize: 'deploy/base',
      nodeName: NODE,
      tempPrefix: 'e2e-',
      agentArgs: ['--log-level', 'info'],
    });
    ({ api, node, kubelet, scheduler, dir } = world);
  }, 60_000);

  afterAll(async () => {
    await world?.stop();
  });

  function waitOr(what: string, predicate: () => boolean, timeoutMs = 20_000): Promise<void> {
    return world.waitOr(what, predicate, timeoutMs);
  }

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
    const address = /"address":"([^"]+)","msg":"serving \/metrics/.exec(world.log())?.[1];
    expect(address).toBeDefined();
    const readyz = await fetch(`http://${address}/readyz?verbose`);
    expect(await readyz.text()).toContain('[+]kubelet-plugin ok');
    const healthz = await fetch(`http://${address}/healthz?verbose`);
    expect(await healthz.text()).toContain('[+]kubelet-plugin ok');

    // a claim of its own (not from a template), so it outlives the pod and its unprepared status can be seen
    api.store.create(
      'resourceclaims',
      {
        apiVersion: 'resource.k8s.io/v1',
        kind: 'ResourceClaim',
        metadata: { name: 'engine-0-devices', namespace: 'default' },
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
          resourceClaims: [{ name: 'devices', resourceClaimName: 'engine-0-devices' }],
        },
      },
      { namespace: 'default' },
    );

    await waitOr('pod running', () => kubelet.pod('default', 'engine-0')?.phase === 'Running', 30_000);
    const pod = api.store.get('pods', 'engine-0', 'default') as unknown as Pod;
    expect(pod.spec.nodeName).toBe(NODE);
    const claimName = 'engine-0-devices';
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

    // The claim's status.devices: every allocated device Ready; the NIC with its host interface, addresses and MAC.
    const nicDevice = byRequest.nic as string;
    const nicAddress = node.addresses.find((a) => a.ifName === nicInterface(env));
    expect(nicAddress).toBeDefined();
    await waitOr('status.devices written', () => deviceStatuses(claimName).length === 3);
    const statuses = deviceStatuses(claimName);
    expect(statuses.map((d) => [d.driver, d.pool, d.device]).sort()).toEqual(
      results.map((r) => ['lockstep.dev', NODE, r.device]).sort(),
    );
    for (const entry of statuses)
      expect(entry.conditions).toEqual([expect.objectContaining({ type: 'Ready', status: 'True' })]);
    expect(statuses.find((d) => d.device === nicDevice)?.networkData).toEqual({
      interfaceName: nicAddress?.ifName,
      ips: [`${nicAddress?.ipv4}/24`, `${nicAddress?.ipv6}/64`],
      hardwareAddress: expect.stringMatching(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/),
    });
    expect(statuses.filter((d) => d.networkData !== undefined)).toHaveLength(1);
    // kubectl lockstep pods shows it: READY 3/3, and with -o wide the NIC's interface and addresses
    // (asynchronously: the API server runs in this process)
    const shown = await execFileAsync(process.execPath, [
      '--',
      bundlePath('kubectl-lockstep'),
      ...['pods', '-n', 'default', '-o', 'wide', '--kubeconfig', api.kubeconfigPath],
    ]);
    expect(shown.stderr).toBe('');
    const row = shown.stdout.split('\n').find((line) => line.startsWith('engine-0')) ?? '';
    expect(row).toContain(' 3/3 ');
    expect(row).toContain(`${nicDevice}=${nicAddress?.ifName} ${nicAddress?.ipv4}/24 ${nicAddress?.ipv6}/64`);

    // Pod status (where the kubelet opens health streams: 1.36+; ResourceHealthStatus is alpha, off, in 1.35): one resource per device, CDI ids as resourceIDs, Healthy from the agent's stream.
    if (versionProfile(version).kubelet.resourceHealthStatus) {
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
    }

    // Pod deleted: the kubelet unprepares, the spec goes. Scheduler-lite (the claim controller's part) stops first, so
    // the claim stays allocated and only the agent can have taken its device status away.
    await scheduler.stop();
    await api.store.delete('pods', 'engine-0', 'default');
    await waitOr('spec removed', () => kubelet.claim('default', claimName) === undefined);
    await expect(readFile(join(dir, 'c', `k8s.lockstep.dev-claim_${uid}.json`), 'utf8')).rejects.toMatchObject({
      code: 'ENOENT',
    });
    // …and the agent takes the claim's device status away; the allocation stays
    await waitOr('status.devices cleared', () => deviceStatuses(claimName).length === 0);
    const after = api.store.get('resourceclaims', claimName, 'default') as unknown as ResourceClaim;
    expect((after.status as { allocation?: unknown }).allocation).toBeDefined();
  }, 90_000);

  interface DeviceStatus {
    driver: string;
    pool: string;
    device: string;
    conditions?: { type: string; status: string }[];
    networkData?: unknown;
  }

  function deviceStatuses(claimName: string): DeviceStatus[] {
    const claim = api.store.find('resourceclaims', claimName, 'default') as { status?: { devices?: DeviceStatus[] } };
    return claim?.status?.devices ?? [];
  }
});

/** The NIC's host interface, from the CDI spec's LOCKSTEP_NIC_INTERFACES. */
function nicInterface(env: string[]): string {
  return (
    env
      .find((e) => e.startsWith('LOCKSTEP_NIC_INTERFACES='))
      ?.split('=')[1]
      ?.split(',')[0] ?? ''
  );
}
