import { afterEach, describe, expect, it } from 'vitest';
import { StatusError } from './errors.js';
import { type ApiServer, type ApiServerOptions, startApiServer } from './index.js';
import type { KubeObject } from './types.js';

/** The kinds and pod fields behind GenericWorkload and DRADeviceTaintRules, per emulated release (gated-kinds.ts). */
let api: ApiServer | undefined;
afterEach(async () => {
  await api?.stop();
  api = undefined;
});

async function start(featureGates: ApiServerOptions['featureGates']): Promise<ApiServer> {
  api = await startApiServer({ tls: false, featureGates });
  return api;
}

async function getJson(server: ApiServer, path: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.url}${path}`, { headers: { authorization: `Bearer ${server.adminToken}` } });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

const resources = (body: Record<string, unknown>) =>
  (body.resources as { name: string }[]).map((r) => r.name).filter((n) => !n.includes('/'));

function pod(name: string, spec: Record<string, unknown>) {
  return { metadata: { name, namespace: 'default' }, spec: { containers: [{ name: 'c', image: 'x' }], ...spec } };
}

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof StatusError) return `${err.code} ${err.message}`;
    throw err;
  }
  return 'accepted';
}

describe('scheduling.k8s.io behind GenericWorkload', () => {
  it('is not served, and pods lose schedulingGroup/workloadRef, when the gate is off', async () => {
    const server = await start({});
    expect((await getJson(server, '/apis/scheduling.k8s.io/v1alpha2')).status).toBe(404);
    const created = server.store.create(
      'pods',
      pod('p', { schedulingGroup: { podGroupName: 'g' }, workloadRef: { name: 'w', podGroup: 'g' } }),
    );
    expect(created.spec).not.toHaveProperty('schedulingGroup');
    expect(created.spec).not.toHaveProperty('workloadRef');
  });

  it.each([
    ['v1alpha2', 'schedulingGroup'],
    ['v1beta1', 'schedulingGroup'],
  ] as const)('serves Workload and PodGroup at %s; pods keep %s', async (version, kept) => {
    const server = await start({ GenericWorkload: version });
    const listed = await getJson(server, `/apis/scheduling.k8s.io/${version}`);
    expect(listed.status).toBe(200);
    expect(resources(listed.body).sort()).toEqual(['podgroups', 'workloads']);
    const created = server.store.create(
      'pods',
      pod('p', { schedulingGroup: { podGroupName: 'g' }, workloadRef: { name: 'w', podGroup: 'g' } }),
    );
    expect(created.spec).toHaveProperty(kept);
    expect(created.spec).not.toHaveProperty('workloadRef');
    const group = server.store.create('podgroups', {
      metadata: { name: 'g', namespace: 'default' },
      spec: { schedulingPolicy: { gang: { minCount: 4 } } },
    });
    expect(group.metadata.generation).toBe(1);
    // the policy is immutable
    expect(
      reason(() =>
        server.store.update('podgroups', {
          ...group,
          spec: { schedulingPolicy: { gang: { minCount: 2 } } },
        } as KubeObject),
      ),
    ).toMatch(/^422 .*spec\.schedulingPolicy: Invalid value: .*field is immutable/);
  });

  it.each([
    [
      { gang: { minCount: 0 } },
      /spec\.schedulingPolicy\.gang\.minCount: Invalid value: 0: must be greater than or equal to 1/,
    ],
    [{}, /spec\.schedulingPolicy: Invalid value: "": must specify one of: `basic`, `gang`/],
    [{ basic: {}, gang: { minCount: 1 } }, /exactly one of `basic`, `gang` is required/],
    [{ gang: {} }, /spec\.schedulingPolicy\.gang\.minCount: Required value/],
  ])('refuses the PodGroup policy %j', async (policy, message) => {
    const server = await start({ GenericWorkload: 'v1alpha2' });
    const outcome = reason(() =>
      server.store.create('podgroups', {
        metadata: { name: 'g', namespace: 'default' },
        spec: { schedulingPolicy: policy },
      }),
    );
    expect(outcome).toMatch(/^422 /);
    expect(outcome).toMatch(message);
  });

  it('serves the 1.35 shape at v1alpha1: Workload with podGroups, no PodGroup kind, pods keep workloadRef', async () => {
    const server = await start({ GenericWorkload: 'v1alpha1' });
    expect(resources((await getJson(server, '/apis/scheduling.k8s.io/v1alpha1')).body)).toEqual(['workloads']);
    const created = server.store.create(
      'pods',
      pod('p', { schedulingGroup: { podGroupName: 'g' }, workloadRef: { name: 'w', podGroup: 'workers' } }),
    );
    expect(created.spec).toHaveProperty('workloadRef', { name: 'w', podGroup: 'workers' });
    expect(created.spec).not.toHaveProperty('schedulingGroup');
    server.store.create('workloads', {
      metadata: { name: 'w', namespace: 'default' },
      spec: { podGroups: [{ name: 'workers', policy: { gang: { minCount: 2 } } }] },
    });
    expect(
      reason(() =>
        server.store.create('workloads', {
          metadata: { name: 'w2', namespace: 'default' },
          spec: { podGroups: [{ name: 'Bad_Name', policy: { basic: {} } }] },
        }),
      ),
    ).toMatch(/^422 .*spec\.podGroups\[0\]\.name: Invalid value: "Bad_Name"/);
  });

  it('refuses a pod whose schedulingGroup names no group', async () => {
    const server = await start({ GenericWorkload: 'v1alpha2' });
    expect(reason(() => server.store.create('pods', pod('p', { schedulingGroup: {} })))).toMatch(
      /^422 .*spec\.schedulingGroup\.podGroupName: Required value/,
    );
  });
});

describe('resource.k8s.io/v1beta2 DeviceTaintRule behind DRADeviceTaintRules', () => {
  it('is not served without the gate', async () => {
    const server = await start({});
    expect((await getJson(server, '/apis/resource.k8s.io/v1beta2')).status).toBe(404);
  });

  it('is served beside resource.k8s.io/v1, sets timeAdded, and checks the taint', async () => {
    const server = await start({ DRADeviceTaintRules: true });
    const group = await getJson(server, '/apis/resource.k8s.io');
    expect((group.body.preferredVersion as { version: string }).version).toBe('v1');
    expect(resources((await getJson(server, '/apis/resource.k8s.io/v1beta2')).body)).toEqual(['devicetaintrules']);
    const rule = server.store.create('devicetaintrules', {
      metadata: { name: 'maintenance' },
      spec: {
        deviceSelector: { driver: 'lockstep.dev', pool: 'node-a' },
        taint: { key: 'example.com/maintenance', value: 'bios', effect: 'NoSchedule' },
      },
    });
    expect((rule.spec as { taint: { timeAdded?: string } }).taint.timeAdded).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(
      reason(() =>
        server.store.create('devicetaintrules', {
          metadata: { name: 'bad' },
          spec: { taint: { key: 'k', effect: 'Evict' } },
        }),
      ),
    ).toMatch(/^422 .*spec\.taint\.effect: Unsupported value: "Evict"/);
  });
});
