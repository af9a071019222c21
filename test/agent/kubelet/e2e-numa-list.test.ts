import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pod, ResourceClaim, ResourceSlice } from '../../../src/kube/types.js';
import { type RealAgentWorld, startRealAgent } from '../../cluster/kubelet/real-agent.js';
import type { KubernetesVersion } from '../../cluster/versions.js';

/**
 * `lockstep agent --numa-node-list` end to end: the bundled agent on the 8x H100 node built with sub-NUMA clustering
 * (four NUMA nodes, two per socket, two GPUs on each: test/cluster/nodes/h100-hgx-model.ts), the API server double
 * and scheduler-lite with or without DRAListTypeAttributes (KEP-5491).
 *
 * Gate on (1.36, 1.37, where it exists; off by default): every GPU publishes `resource.kubernetes.io/numaNode` as
 * `{ints: [own, same-socket peer]}`, and a claim for 4 GPUs with `matchAttribute` on numaNode (non-empty intersection
 * of the lists) and a CEL selector `numaNode.includes(3)` gets the four GPUs of socket 1, which the int form could
 * never align (two GPUs per node).
 *
 * Gate off (1.37's default; 1.35, which does not know the field): the server refuses the list (dropped or pruned,
 * then "exactly one value must be specified"); the agent says so in one warning and publishes the int form, so the
 * node keeps its devices and numaNode alignment works as it does without the flag: 2 GPUs of one node are allocated,
 * a 4-GPU aligned claim stays pending with the scheduler's reason in a FailedScheduling event.
 */
const NODE = 'snc-node-1';
const GPUS_BY_NUMA: Record<number, string[]> = {
  0: ['gpu-0000-19-00-0', 'gpu-0000-3b-00-0'],
  1: ['gpu-0000-4c-00-0', 'gpu-0000-5d-00-0'],
  2: ['gpu-0000-9b-00-0', 'gpu-0000-bb-00-0'],
  3: ['gpu-0000-cb-00-0', 'gpu-0000-db-00-0'],
};
const NUMA = 'resource.kubernetes.io/numaNode';

function alignedGpusClaim(name: string, count: number, selector?: string): Record<string, unknown> {
  return {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceClaim',
    metadata: { name, namespace: 'default' },
    spec: {
      devices: {
        requests: [
          {
            name: 'gpus',
            exactly: {
              deviceClassName: 'gpu.lockstep.dev',
              count,
              ...(selector ? { selectors: [{ cel: { expression: selector } }] } : {}),
            },
          },
        ],
        constraints: [{ matchAttribute: NUMA }],
      },
    },
  };
}

function podUsing(name: string, claim: string): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: {
      containers: [{ name: 'engine', image: 'vllm/vllm-openai:v0.11.0', resources: { claims: [{ name: 'gpus' }] } }],
      resourceClaims: [{ name: 'gpus', resourceClaimName: claim }],
    },
  };
}

function gpuNuma(world: RealAgentWorld): Record<string, unknown> {
  const slices = world.api.store.list('resourceslices') as unknown as ResourceSlice[];
  return Object.fromEntries(
    slices
      .flatMap((s) => s.spec.devices ?? [])
      .filter((d) => d.name.startsWith('gpu-'))
      .map((d) => [d.name, d.attributes?.[NUMA]]),
  );
}

function allocatedDevices(world: RealAgentWorld, claim: string): string[] {
  const stored = world.api.store.get('resourceclaims', claim, 'default') as unknown as ResourceClaim;
  return (stored.status?.allocation?.devices?.results ?? []).map((r) => r.device).sort();
}

async function start(version: KubernetesVersion, gate: boolean | undefined): Promise<RealAgentWorld> {
  return startRealAgent({
    version,
    kustomize: 'deploy/base',
    nodeName: NODE,
    tempPrefix: 'numa-',
    agentArgs: ['--numa-node-list', '--log-level', 'info'],
    subNumaClusters: 2,
    ...(gate === undefined ? {} : { featureGates: { DRAListTypeAttributes: gate } }),
  });
}

describe.each(['1.36', '1.37'] as const)('--numa-node-list on %s with DRAListTypeAttributes on', (version) => {
  let world: RealAgentWorld;
  beforeAll(async () => {
    world = await start(version, true);
  }, 60_000);
  afterAll(async () => {
    await world?.stop();
  });

  it('publishes numaNode as lists and a 4-GPU claim aligned by them is allocated on one socket', async () => {
    await world.waitOr('GPUs published', () => Object.keys(gpuNuma(world)).length === 8, 30_000);
    const want: Record<string, unknown> = {};
    const peer: Record<number, number> = { 0: 1, 1: 0, 2: 3, 3: 2 };
    for (const [numa, gpus] of Object.entries(GPUS_BY_NUMA))
      for (const gpu of gpus) want[gpu] = { ints: [Number(numa), peer[Number(numa)]] };
    expect(gpuNuma(world)).toEqual(want);
    expect(world.log()).not.toContain('publishing the int form instead');

    world.api.store.create(
      'resourceclaims',
      alignedGpusClaim('socket-1', 4, `device.attributes["resource.kubernetes.io"].numaNode.includes(3)`),
      { namespace: 'default' },
    );
    world.api.store.create('pods', podUsing('engine-0', 'socket-1'), { namespace: 'default' });
    await world.waitOr('pod running', () => world.kubelet.pod('default', 'engine-0')?.phase === 'Running', 30_000);
    const pod = world.api.store.get('pods', 'engine-0', 'default') as unknown as Pod;
    expect(pod.spec.nodeName).toBe(NODE);
    expect(allocatedDevices(world, 'socket-1')).toEqual([...GPUS_BY_NUMA[2]!, ...GPUS_BY_NUMA[3]!].sort());
  });
});

describe.each([
  ['1.37', undefined],
  ['1.35', undefined],
] as const)('--numa-node-list on %s with DRAListTypeAttributes off (default)', (version, gate) => {
  let world: RealAgentWorld;
  beforeAll(async () => {
    world = await start(version, gate);
  }, 60_000);
  afterAll(async () => {
    await world?.stop();
  });

  it('the agent warns once and publishes the int form; numaNode alignment works within one NUMA node', async () => {
    await world.waitOr('GPUs published', () => Object.keys(gpuNuma(world)).length === 8, 30_000);
    const want: Record<string, unknown> = {};
    for (const [numa, gpus] of Object.entries(GPUS_BY_NUMA)) for (const gpu of gpus) want[gpu] = { int: Number(numa) };
    expect(gpuNuma(world)).toEqual(want);
    const warnings = world
      .log()
      .split('\n')
      .filter((line) => line.includes('the list form of resource.kubernetes.io/numaNode'));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({
      level: 40, // pino's warn
      msg: expect.stringContaining(
        'the API server refused the list form of resource.kubernetes.io/numaNode (--numa-node-list needs the DRAListTypeAttributes feature gate',
      ),
      apiServer: expect.stringContaining('exactly one value must be specified'),
    });

    // two GPUs of one NUMA node: allocated
    world.api.store.create('resourceclaims', alignedGpusClaim('pair', 2), { namespace: 'default' });
    world.api.store.create('pods', podUsing('pair-0', 'pair'), { namespace: 'default' });
    await world.waitOr('pair pod running', () => world.kubelet.pod('default', 'pair-0')?.phase === 'Running', 30_000);
    const pair = allocatedDevices(world, 'pair');
    expect(Object.values(GPUS_BY_NUMA).some((gpus) => gpus.join() === pair.join())).toBe(true);

    // four aligned GPUs: no NUMA node has them in the int form; the pod waits, and says why
    world.api.store.create('resourceclaims', alignedGpusClaim('four', 4), { namespace: 'default' });
    world.api.store.create('pods', podUsing('four-0', 'four'), { namespace: 'default' });
    const failedScheduling = () =>
      (
        world.api.store.list('events', { namespace: 'default' }) as unknown as {
          reason?: string;
          message?: string;
          involvedObject?: { name?: string };
        }[]
      ).find((e) => e.reason === 'FailedScheduling' && e.involvedObject?.name === 'four-0');
    await world.waitOr('FailedScheduling for four-0', () => failedScheduling() !== undefined, 20_000);
    expect(failedScheduling()?.message).toContain('no combination of free devices satisfies the constraints');
    expect(allocatedDevices(world, 'four')).toEqual([]);
  });
});
