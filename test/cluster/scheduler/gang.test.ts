import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../../src/kube/client.js';
import { loadKubeConfig } from '../../../src/kube/config.js';
import type { Pod, ResourceClaim } from '../../../src/kube/types.js';
import { waitFor } from '../../kube/wait.js';
import { REPO_ROOT } from '../../support/paths.js';
import { type ApiServer, startApiServer, type WorkloadApiVersion } from '../apiserver/index.js';
import { gangDecision } from './gang.js';
import { SchedulerLite } from './scheduler.js';

/**
 * Gang scheduling in scheduler-lite (KEP-4671, FACTS.md §11): a group is placed whole or not at all, holds no device
 * while it waits, and reports a Permit-style timeout. Nodes are plain slices of 8 GPUs of the lockstep driver.
 */

describe('gangDecision', () => {
  it.each([
    // minCount, scheduled, fitting, pending → place, why
    [3, 0, 3, 3, true, undefined],
    [3, 0, 2, 3, false, 'only 2 of minCount 3 pods fit together; none placed'],
    [3, 0, 2, 2, false, 'waiting for 1 more pod(s): 2 of minCount 3 exist'],
    [3, 2, 1, 1, true, undefined],
    [3, 2, 0, 1, false, 'only 2 of minCount 3 pods fit together; none placed'],
    [2, 0, 3, 4, true, undefined],
    [1, 0, 1, 1, true, undefined],
  ])('minCount %i, %i scheduled, %i of %i pending fit', (min, scheduled, fitting, pending, place, why) => {
    expect(gangDecision(min, scheduled, fitting, pending)).toEqual(why === undefined ? { place } : { place, why });
  });
});

function gpuSlice(node: string, gpus = 8): Record<string, unknown> {
  return {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceSlice',
    metadata: { name: `${node}-lockstep.dev` },
    spec: {
      driver: 'lockstep.dev',
      nodeName: node,
      pool: { name: node, generation: 1, resourceSliceCount: 1 },
      devices: Array.from({ length: gpus }, (_, i) => ({
        name: `gpu-${i}`,
        attributes: { type: { string: 'gpu' }, healthy: { bool: true } },
      })),
    },
  };
}

const EIGHT_GPUS = {
  apiVersion: 'resource.k8s.io/v1',
  kind: 'ResourceClaimTemplate',
  metadata: { name: 'eight-gpus', namespace: 'default' },
  spec: {
    spec: {
      devices: { requests: [{ name: 'gpus', exactly: { deviceClassName: 'gpu.lockstep.dev', count: 8 } }] },
    },
  },
};

function member(name: string, group: Record<string, unknown>): Record<string, unknown> {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: 'default' },
    spec: {
      ...group,
      containers: [{ name: 'main', image: 'busybox', resources: { claims: [{ name: 'gpus' }] } }],
      resourceClaims: [{ name: 'gpus', resourceClaimTemplateName: 'eight-gpus' }],
    },
  };
}

interface Harness {
  api: ApiServer;
  client: KubeClient;
  scheduler: SchedulerLite;
}

async function harness(version: WorkloadApiVersion, nodes: string[]): Promise<Harness> {
  const api = await startApiServer({ tls: false, featureGates: { GenericWorkload: version }, bookmarkIntervalMs: 500 });
  api.store.apply(readFileSync(join(REPO_ROOT, 'deploy/base/deviceclasses.yaml'), 'utf8'));
  api.store.create('resourceclaimtemplates', EIGHT_GPUS);
  for (const node of nodes) api.store.create('resourceslices', gpuSlice(node));
  const client = new KubeClient(loadKubeConfig({ kubeconfig: api.kubeconfigPath }));
  const scheduler = new SchedulerLite({ client, gangTimeoutMs: 1500 });
  await scheduler.start();
  return { api, client, scheduler };
}

async function close(h: Harness | undefined): Promise<void> {
  await h?.scheduler.stop();
  h?.client.close();
  await h?.api.stop();
}

const pod = (h: Harness, name: string) => h.api.store.find('pods', name, 'default') as Pod | undefined;
const allocatedClaims = (h: Harness) =>
  (h.api.store.list('resourceclaims', { namespace: 'default' }) as unknown as ResourceClaim[]).filter(
    (c) => c.status?.allocation,
  );
const eventsOf = (h: Harness, name: string) =>
  h.api.store
    .list('events', { namespace: 'default' })
    .filter((e) => (e as { involvedObject?: { name?: string } }).involvedObject?.name === name)
    .map((e) => String((e as { message?: string }).message));

describe('scheduler-lite places a PodGroup gang whole or not at all (scheduling.k8s.io/v1alpha2)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness('v1alpha2', ['node-a', 'node-b']);
  }, 60_000);
  afterAll(() => close(h));

  it('a gang of 3 × 8 GPUs on two 8-GPU nodes: no pod bound, no GPU held; a third node lets all three in', async () => {
    h.api.store.create('podgroups', {
      metadata: { name: 'big', namespace: 'default' },
      spec: { schedulingPolicy: { gang: { minCount: 3 } } },
    });
    for (const n of ['big-0', 'big-1', 'big-2'])
      h.api.store.create('pods', member(n, { schedulingGroup: { podGroupName: 'big' } }));
    await waitFor(
      () => eventsOf(h, 'big-0').find((m) => m.includes('only 2 of minCount 3 pods fit together')),
      'FailedScheduling for the gang',
    );
    await h.scheduler.whenIdle();
    expect(['big-0', 'big-1', 'big-2'].map((n) => pod(h, n)?.spec.nodeName)).toEqual([undefined, undefined, undefined]);
    expect(allocatedClaims(h)).toEqual([]);
    const group = h.api.store.get('podgroups', 'big', 'default') as { status?: { conditions?: unknown[] } };
    expect(group.status?.conditions).toEqual([
      expect.objectContaining({ type: 'PodGroupScheduled', status: 'False', reason: 'Unschedulable' }),
    ]);

    h.api.store.create('resourceslices', gpuSlice('node-c'));
    const bound = await waitFor(() => {
      const nodes = ['big-0', 'big-1', 'big-2'].map((n) => pod(h, n)?.spec.nodeName);
      return nodes.every(Boolean) ? nodes : undefined;
    }, 'the whole gang bound');
    expect(new Set(bound).size).toBe(3);
    expect(allocatedClaims(h)).toHaveLength(3);
    await waitFor(() => {
      const g = h.api.store.get('podgroups', 'big', 'default') as { status?: { conditions?: { status: string }[] } };
      return g.status?.conditions?.[0]?.status === 'True' ? g : undefined;
    }, 'PodGroupScheduled True');
    for (const n of ['big-0', 'big-1', 'big-2']) h.api.store.delete('pods', n, 'default', { gracePeriodSeconds: 0 });
    await waitFor(() => (allocatedClaims(h).length === 0 ? true : undefined), 'devices released');
  });

  it('waits for its members: one of two pods is not placed alone; the second brings both in', async () => {
    h.api.store.create('podgroups', {
      metadata: { name: 'pair', namespace: 'default' },
      spec: { schedulingPolicy: { gang: { minCount: 2 } } },
    });
    h.api.store.create('pods', member('pair-0', { schedulingGroup: { podGroupName: 'pair' } }));
    await waitFor(
      () => eventsOf(h, 'pair-0').find((m) => m === 'PodGroup pair: waiting for 1 more pod(s): 1 of minCount 2 exist'),
      'waiting event',
    );
    expect(pod(h, 'pair-0')?.spec.nodeName).toBeUndefined();
    // the Permit timeout passes with the gang still short: said once per timeout, and it keeps waiting
    await waitFor(
      () => eventsOf(h, 'pair-0').find((m) => /gang rejected after waiting \d+s \(Permit timeout\)/.test(m)),
      'timeout event',
    );
    expect(allocatedClaims(h)).toEqual([]);
    h.api.store.create('pods', member('pair-1', { schedulingGroup: { podGroupName: 'pair' } }));
    await waitFor(
      () => (pod(h, 'pair-0')?.spec.nodeName && pod(h, 'pair-1')?.spec.nodeName ? true : undefined),
      'pair bound',
    );
  });

  it('a pod naming a PodGroup that does not exist stays pending until it is created', async () => {
    h.api.store.create('pods', member('late-0', { schedulingGroup: { podGroupName: 'late' } }));
    await waitFor(() => eventsOf(h, 'late-0').find((m) => m === 'waiting for PodGroup late'), 'missing group event');
    expect(pod(h, 'late-0')?.spec.nodeName).toBeUndefined();
    h.api.store.create('podgroups', {
      metadata: { name: 'late', namespace: 'default' },
      spec: { schedulingPolicy: { basic: {} } },
    });
    await waitFor(() => pod(h, 'late-0')?.spec.nodeName, 'basic group member bound');
  });
});

describe('the 1.35 shape: Workload pod groups and spec.workloadRef (scheduling.k8s.io/v1alpha1)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await harness('v1alpha1', ['node-a', 'node-b', 'node-c']);
  }, 60_000);
  afterAll(() => close(h));

  it('each replica key is its own gang', async () => {
    h.api.store.create('workloads', {
      metadata: { name: 'train', namespace: 'default' },
      spec: { podGroups: [{ name: 'workers', policy: { gang: { minCount: 2 } } }] },
    });
    const ref = (replica: string) => ({
      workloadRef: { name: 'train', podGroup: 'workers', podGroupReplicaKey: replica },
    });
    h.api.store.create('pods', member('r0-a', ref('0')));
    h.api.store.create('pods', member('r0-b', ref('0')));
    h.api.store.create('pods', member('r1-a', ref('1')));
    await waitFor(
      () => (pod(h, 'r0-a')?.spec.nodeName && pod(h, 'r0-b')?.spec.nodeName ? true : undefined),
      'replica 0',
    );
    await waitFor(
      () =>
        eventsOf(h, 'r1-a').find((m) => m.includes('Workload train pod group workers (replica 1): waiting for 1 more')),
      'replica 1 waits',
    );
    expect(pod(h, 'r1-a')?.spec.nodeName).toBeUndefined();
    // replica 1's second pod: two nodes are taken, the third takes one pod only, so the gang cannot fit
    h.api.store.create('pods', member('r1-b', ref('1')));
    await waitFor(
      () => eventsOf(h, 'r1-b').find((m) => m.includes('only 1 of minCount 2 pods fit together')),
      'replica 1 does not fit',
    );
    expect(allocatedClaims(h)).toHaveLength(2);
  });
});
