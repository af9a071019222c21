import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiServer, startApiServer } from './index.js';
import { rawRequest, rawWatch } from './raw-client.js';
import type { KubeObject } from './types.js';

type Obj = KubeObject & { spec?: Record<string, unknown>; status?: Record<string, unknown> };

describe('API semantics on the wire', () => {
  let api: ApiServer;
  const req = (method: string, path: string, body?: unknown, contentType?: string) =>
    rawRequest(api, method, path, { body, contentType });
  const json = async (method: string, path: string, body?: unknown, contentType?: string) =>
    (await req(method, path, body, contentType)).json as Obj;

  beforeAll(async () => {
    api = await startApiServer({ tls: false, historySize: 50, bookmarkIntervalMs: 50 });
  });
  afterAll(() => api.stop());

  it('serves aggregated discovery to clients that ask, legacy discovery otherwise', async () => {
    const agg = await rawRequest(api, 'GET', '/apis', {
      accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json',
    });
    expect(agg.headers['content-type']).toBe('application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList');
    const groups = (
      agg.json as {
        items: { metadata: { name: string }; versions: { resources: { resource: string; scope: string }[] }[] }[];
      }
    ).items;
    const resource = groups.find((g) => g.metadata.name === 'resource.k8s.io');
    expect(resource?.versions[0].resources.find((r) => r.resource === 'resourceslices')?.scope).toBe('Cluster');
    const legacy = (await req('GET', '/api/v1')).json as { resources: { name: string }[] };
    expect(legacy.resources.map((r) => r.name)).toEqual(
      expect.arrayContaining(['pods', 'pods/status', 'serviceaccounts/token']),
    );
    expect(((await req('GET', '/version')).json as { gitVersion: string }).gitVersion).toMatch(/^v1\.34/);
    expect((await req('GET', '/apis/nope.io/v1/things')).status).toBe(404);
  });

  it('status subresource: the main resource ignores status, /status ignores spec; generation counts spec changes', async () => {
    const created = await json('POST', '/apis/apps/v1/namespaces/default/deployments', {
      metadata: { name: 'd' },
      spec: { replicas: 1 },
      status: { replicas: 9 },
    });
    expect(created.status).toBeUndefined();
    expect(created.metadata.generation).toBe(1);
    const withStatus = await json('PUT', '/apis/apps/v1/namespaces/default/deployments/d/status', {
      ...created,
      spec: { replicas: 5 },
      status: { replicas: 1 },
    });
    expect(withStatus.spec).toEqual({ replicas: 1 });
    expect(withStatus.status).toEqual({ replicas: 1 });
    expect(withStatus.metadata.generation).toBe(1);
    const scaled = await json('PUT', '/apis/apps/v1/namespaces/default/deployments/d', {
      ...withStatus,
      spec: { replicas: 3 },
      status: {},
    });
    expect(scaled.status).toEqual({ replicas: 1 });
    expect(scaled.metadata.generation).toBe(2);
    const relabelled = await json(
      'PATCH',
      '/apis/apps/v1/namespaces/default/deployments/d',
      { metadata: { labels: { a: 'b' } } },
      'application/merge-patch+json',
    );
    expect(relabelled.metadata.generation).toBe(2);
    const noop = await json(
      'PATCH',
      '/apis/apps/v1/namespaces/default/deployments/d',
      { metadata: { labels: { a: 'b' } } },
      'application/merge-patch+json',
    );
    expect(noop.metadata.resourceVersion).toBe(relabelled.metadata.resourceVersion);
  });

  it('patch types: JSON patch, merge, strategic (refused for custom resources with 415), and 422 on a failed test op', async () => {
    await req('POST', '/api/v1/namespaces/default/configmaps', { metadata: { name: 'p' }, data: { a: '1' } });
    const patched = await json(
      'PATCH',
      '/api/v1/namespaces/default/configmaps/p',
      [{ op: 'add', path: '/data/b', value: '2' }],
      'application/json-patch+json',
    );
    expect(patched.data).toEqual({ a: '1', b: '2' });
    const failed = await req(
      'PATCH',
      '/api/v1/namespaces/default/configmaps/p',
      [{ op: 'test', path: '/data/a', value: 'x' }],
      'application/json-patch+json',
    );
    expect(failed.status).toBe(422);
    const unsupported = await req('PATCH', '/api/v1/namespaces/default/configmaps/p', {}, 'text/plain');
    expect(unsupported.status).toBe(415);
    api.store.create('leaderworkersets', {
      apiVersion: 'leaderworkerset.x-k8s.io/v1',
      kind: 'LeaderWorkerSet',
      metadata: { name: 'l' },
      spec: { leaderWorkerTemplate: { workerTemplate: { spec: { containers: [{ name: 'c', image: 'i' }] } } } },
    });
    const smp = await req(
      'PATCH',
      '/apis/leaderworkerset.x-k8s.io/v1/namespaces/default/leaderworkersets/l',
      { spec: { replicas: 2 } },
      'application/strategic-merge-patch+json',
    );
    expect(smp.status).toBe(415);
    const merged = await json(
      'PATCH',
      '/apis/leaderworkerset.x-k8s.io/v1/namespaces/default/leaderworkersets/l',
      { spec: { replicas: 2 } },
      'application/merge-patch+json',
    );
    expect(merged.spec?.replicas).toBe(2);
    const dry = await req('POST', '/api/v1/namespaces/default/configmaps?dryRun=All', { metadata: { name: 'dry' } });
    expect(dry.status).toBe(201);
    expect(api.store.find('configmaps', 'dry', 'default')).toBeUndefined();
    const noNs = await req('POST', '/api/v1/namespaces/absent/configmaps', { metadata: { name: 'x' } });
    expect(noNs.status).toBe(404);
    expect((noNs.json as { message: string }).message).toBe('namespaces "absent" not found');
  });

  it('paging with limit/continue and remainingItemCount; a continue token older than the history is 410', async () => {
    for (let i = 0; i < 5; i++) api.store.create('nodes', { metadata: { name: `page-${i}`, labels: { page: 'yes' } } });
    const first = (await req('GET', '/api/v1/nodes?limit=2&labelSelector=page%3Dyes')).json as {
      items: Obj[];
      metadata: { continue: string };
    };
    expect(first.items.map((n) => n.metadata.name)).toEqual(['page-0', 'page-1']);
    const second = (
      await req(
        'GET',
        `/api/v1/nodes?limit=2&labelSelector=page%3Dyes&continue=${encodeURIComponent(first.metadata.continue)}`,
      )
    ).json as {
      items: Obj[];
      metadata: { continue?: string };
    };
    expect(second.items.map((n) => n.metadata.name)).toEqual(['page-2', 'page-3']);
    const all = (await req('GET', '/api/v1/nodes?limit=1')).json as { metadata: { remainingItemCount: number } };
    expect(all.metadata.remainingItemCount).toBeGreaterThanOrEqual(4);
    for (let i = 0; i < 60; i++) api.store.patch('nodes', 'page-0', { metadata: { annotations: { n: String(i) } } });
    const expired = await req('GET', `/api/v1/nodes?limit=2&continue=${encodeURIComponent(first.metadata.continue)}`);
    expect(expired.status).toBe(410);
    expect((expired.json as { reason: string }).reason).toBe('Expired');
    expect((await req('GET', '/api/v1/nodes?continue=garbage')).status).toBe(400);
  });

  it('watch: replay after a resourceVersion, BOOKMARKs, selector transitions, 410 for an expired resourceVersion', async () => {
    const rv = api.store.resourceVersion;
    api.store.create('configmaps', { metadata: { name: 'w1', labels: { watch: 'yes' } } });
    const w = rawWatch(
      api,
      `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${rv}&allowWatchBookmarks=true&labelSelector=watch%3Dyes`,
    );
    await w.until((ev) => ev.some((e) => e.type === 'ADDED'));
    api.store.patch('configmaps', 'w1', { data: { x: '1' } });
    api.store.patch('configmaps', 'w1', { metadata: { labels: { watch: 'no' } } });
    await w.until((ev) => ev.some((e) => e.type === 'DELETED') && ev.some((e) => e.type === 'BOOKMARK'));
    w.close();
    expect(w.events.filter((e) => e.type !== 'BOOKMARK').map((e) => [e.type, e.object.metadata?.name])).toEqual([
      ['ADDED', 'w1'],
      ['MODIFIED', 'w1'],
      ['DELETED', 'w1'],
    ]);
    const bookmark = w.events.find((e) => e.type === 'BOOKMARK');
    expect(Number(bookmark?.object.metadata?.resourceVersion)).toBeGreaterThan(rv);

    const initial = rawWatch(
      api,
      '/api/v1/namespaces/default/configmaps?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true',
    );
    await initial.until((ev) =>
      ev.some((e) => e.object.metadata?.annotations?.['k8s.io/initial-events-end'] === 'true'),
    );
    initial.close();
    expect(initial.events[0].type).toBe('ADDED');

    for (let i = 0; i < 60; i++) api.store.patch('configmaps', 'w1', { data: { x: String(i) } });
    const old = rawWatch(api, `/api/v1/namespaces/default/configmaps?watch=true&resourceVersion=${rv}`);
    await old.ended;
    expect(old.status).toBe(200);
    expect(old.events).toHaveLength(1);
    expect(old.events[0].type).toBe('ERROR');
    expect(old.events[0].object).toMatchObject({ kind: 'Status', code: 410, reason: 'Expired' });
    expect(String(old.events[0].object.message)).toMatch(/^too old resource version: \d+ \(\d+\)$/);
  });

  it('faults: 500 by rate, 429 with Retry-After, forced 410 watch, injected conflict, dropped watches; counters', async () => {
    api.counters.reset();
    api.faults.set({ errorRate: 1, errorCode: 500, match: { resources: ['secrets'] } });
    expect((await req('GET', '/api/v1/namespaces/default/secrets')).status).toBe(500);
    expect((await req('GET', '/api/v1/namespaces/default/configmaps')).status).toBe(200);
    api.faults.reset();
    api.faults.failNext(1, 429, { retryAfterSeconds: 3 });
    const limited = await req('GET', '/api/v1/namespaces/default/secrets');
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('3');
    expect((limited.json as { details: { retryAfterSeconds: number } }).details.retryAfterSeconds).toBe(3);
    expect((await req('GET', '/api/v1/namespaces/default/secrets')).status).toBe(200);
    api.faults.expireNextWatch();
    const w = rawWatch(
      api,
      `/api/v1/namespaces/default/secrets?watch=true&resourceVersion=${api.store.resourceVersion}`,
    );
    await w.ended;
    expect(w.events[0].object).toMatchObject({ code: 410 });
    api.faults.conflictNextUpdate();
    const cm = api.store.create('configmaps', { metadata: { name: 'fp' }, data: { a: '1' } });
    const conflicted = await req('PUT', '/api/v1/namespaces/default/configmaps/fp', { ...cm, data: { a: '2' } });
    expect(conflicted.status).toBe(409);
    expect((await req('PUT', '/api/v1/namespaces/default/configmaps/fp', { ...cm, data: { a: '2' } })).status).toBe(
      200,
    );
    const open = rawWatch(api, '/api/v1/nodes?watch=true');
    await expect.poll(() => api.openWatches()).toBe(1);
    expect(api.faults.dropWatches()).toBe(1);
    await open.ended;
    api.faults.set({ latencyMs: 20 });
    expect((await req('GET', '/api/v1/nodes')).status).toBe(200);
    api.faults.reset();
    expect(api.counters.total({ verb: 'list', resource: 'secrets', user: 'kubernetes-admin' })).toBe(3);
    expect(api.counters.total({ verb: 'update', resource: 'configmaps' })).toBe(2);
    expect(api.counters.writes()).toBe(2);
    expect(api.counters.total({ verb: 'watch' })).toBe(2);
    api.counters.reset();
    expect(api.counters.total()).toBe(0);
  });

  it('garbage collection: a Node takes its slices, a Pod its claims; Orphan keeps them; finalizers delay deletion', async () => {
    const node = api.store.create('nodes', { metadata: { name: 'gc-node' } });
    const owned = api.store.create('resourceslices', {
      metadata: {
        generateName: 'gc-node-lockstep.dev-',
        ownerReferences: [
          { apiVersion: 'v1', kind: 'Node', name: 'gc-node', uid: node.metadata.uid ?? '', controller: true },
        ],
      },
      spec: {
        driver: 'lockstep.dev',
        nodeName: 'gc-node',
        pool: { name: 'gc-node', generation: 1, resourceSliceCount: 1 },
      },
    });
    const slices = rawWatch(
      api,
      `/apis/resource.k8s.io/v1/resourceslices?watch=true&resourceVersion=${api.store.resourceVersion}`,
    );
    expect((await req('DELETE', '/api/v1/nodes/gc-node')).status).toBe(200);
    expect(api.store.find('resourceslices', owned.metadata.name ?? '')).toBeUndefined();
    await slices.until((ev) => ev.some((e) => e.type === 'DELETED'));
    slices.close();

    const pod = api.store.create('pods', {
      metadata: { name: 'gc-pod' },
      spec: { containers: [{ name: 'c', image: 'i' }] },
    });
    const claim = (name: string) =>
      api.store.create('resourceclaims', {
        metadata: {
          name,
          ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'gc-pod', uid: pod.metadata.uid ?? '' }],
        },
        spec: { devices: { requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.lockstep.dev' } }] } },
      });
    claim('gc-claim');
    await req('DELETE', '/api/v1/namespaces/default/pods/gc-pod');
    expect(api.store.find('resourceclaims', 'gc-claim', 'default')).toBeUndefined();

    const pod2 = api.store.create('pods', {
      metadata: { name: 'gc-pod' },
      spec: { containers: [{ name: 'c', image: 'i' }] },
    });
    expect(pod2.metadata.uid).not.toBe(pod.metadata.uid);
    api.store.create('resourceclaims', {
      metadata: {
        name: 'kept',
        ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'gc-pod', uid: pod2.metadata.uid ?? '' }],
      },
      spec: { devices: { requests: [] } },
    });
    await req('DELETE', '/api/v1/namespaces/default/pods/gc-pod', { propagationPolicy: 'Orphan' });
    expect(api.store.get('resourceclaims', 'kept', 'default').metadata.ownerReferences).toBeUndefined();

    api.store.create('configmaps', { metadata: { name: 'fin', finalizers: ['example.com/hold'] } });
    const pending = await req('DELETE', '/api/v1/namespaces/default/configmaps/fin');
    expect(pending.status).toBe(202);
    expect(api.store.get('configmaps', 'fin', 'default').metadata.deletionTimestamp).toBeDefined();
    api.store.patch('configmaps', 'fin', { metadata: { finalizers: null } }, 'merge', { namespace: 'default' });
    expect(api.store.find('configmaps', 'fin', 'default')).toBeUndefined();
  });

  it('events.k8s.io/v1 and core/v1 Events share one storage', async () => {
    await req('POST', '/apis/events.k8s.io/v1/namespaces/default/events', {
      metadata: { name: 'e1' },
      eventTime: '2026-01-01T00:00:00.000000Z',
      reportingController: 'lockstep.dev/agent',
      reportingInstance: 'node-a',
      action: 'Taint',
      reason: 'DeviceUnhealthy',
      type: 'Warning',
      note: 'gpu-3: Xid 79',
      regarding: { kind: 'Pod', namespace: 'default', name: 'p' },
    });
    const core = await json('GET', '/api/v1/namespaces/default/events/e1');
    expect(core).toMatchObject({
      apiVersion: 'v1',
      message: 'gpu-3: Xid 79',
      involvedObject: { kind: 'Pod', name: 'p' },
      reportingComponent: 'lockstep.dev/agent',
    });
    const list = (await req('GET', '/api/v1/events?fieldSelector=involvedObject.name%3Dp,reason%3DDeviceUnhealthy'))
      .json as { items: Obj[] };
    expect(list.items).toHaveLength(1);
    const back = await json('GET', '/apis/events.k8s.io/v1/namespaces/default/events/e1');
    expect(back).toMatchObject({ apiVersion: 'events.k8s.io/v1', note: 'gpu-3: Xid 79', regarding: { name: 'p' } });
  });

  it('deleting a namespace deletes what is in it; pods/binding places a pod once', async () => {
    api.store.create('namespaces', { metadata: { name: 'tmp' } });
    api.store.create('pods', {
      metadata: { name: 'x', namespace: 'tmp' },
      spec: { containers: [{ name: 'c', image: 'i' }] },
    });
    const bind = await req('POST', '/api/v1/namespaces/tmp/pods/x/binding', {
      apiVersion: 'v1',
      kind: 'Binding',
      metadata: { name: 'x' },
      target: { kind: 'Node', name: 'node-a' },
    });
    expect(bind.status).toBe(201);
    expect((api.store.get('pods', 'x', 'tmp').spec as { nodeName: string }).nodeName).toBe('node-a');
    const again = await req('POST', '/api/v1/namespaces/tmp/pods/x/binding', {
      target: { kind: 'Node', name: 'node-b' },
    });
    expect(again.status).toBe(409);
    await req('DELETE', '/api/v1/namespaces/tmp');
    expect(api.store.list('pods', { namespace: 'tmp' })).toHaveLength(0);
  });

  it('with podGracefulDeletion, a pod on a node gets a deletionTimestamp and goes when deleted with grace 0', async () => {
    const graceful = await startApiServer({ tls: false, podGracefulDeletion: true });
    try {
      graceful.store.create('pods', {
        metadata: { name: 'bound' },
        spec: { nodeName: 'node-a', containers: [{ name: 'c', image: 'i' }] },
      });
      graceful.store.create('pods', {
        metadata: { name: 'unbound' },
        spec: { containers: [{ name: 'c', image: 'i' }] },
      });
      const first = await rawRequest(graceful, 'DELETE', '/api/v1/namespaces/default/pods/bound');
      expect(first.status).toBe(202);
      const marked = graceful.store.get('pods', 'bound');
      expect(marked.metadata.deletionTimestamp).toBeDefined();
      expect(marked.metadata.deletionGracePeriodSeconds).toBe(30);
      const kubelet = await rawRequest(graceful, 'DELETE', '/api/v1/namespaces/default/pods/bound', {
        body: { gracePeriodSeconds: 0 },
      });
      expect(kubelet.status).toBe(200);
      expect(graceful.store.find('pods', 'bound')).toBeUndefined();
      expect((await rawRequest(graceful, 'DELETE', '/api/v1/namespaces/default/pods/unbound')).status).toBe(200);
    } finally {
      await graceful.stop();
    }
  });

  it('refuses pod spec changes other than images (422 Forbidden on spec), as ValidatePodUpdate', async () => {
    api.store.create('pods', { metadata: { name: 'immutable' }, spec: { containers: [{ name: 'c', image: 'a:1' }] } });
    const image = await req(
      'PATCH',
      '/api/v1/namespaces/default/pods/immutable',
      { spec: { containers: [{ name: 'c', image: 'a:2' }] } },
      'application/strategic-merge-patch+json',
    );
    expect(image.status).toBe(200);
    const env = await req(
      'PATCH',
      '/api/v1/namespaces/default/pods/immutable',
      { spec: { containers: [{ name: 'c', env: [{ name: 'X', value: '1' }] }] } },
      'application/strategic-merge-patch+json',
    );
    expect(env.status).toBe(422);
    expect((env.json as { details: { causes: { field: string; reason: string }[] } }).details.causes[0]).toMatchObject({
      field: 'spec',
      reason: 'FieldValueForbidden',
    });
    const labels = await req(
      'PATCH',
      '/api/v1/namespaces/default/pods/immutable',
      { metadata: { labels: { a: 'b' } } },
      'application/merge-patch+json',
    );
    expect(labels.status).toBe(200);
  });
});
