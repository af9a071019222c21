import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiServer, startApiServer } from './index.js';

function kc(path: string): k8s.KubeConfig {
  const config = new k8s.KubeConfig();
  config.loadFromFile(path);
  return config;
}

const mergePatch = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
const strategic = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.StrategicMergePatch);

async function codeOf(p: Promise<unknown>): Promise<{ code: number; body: Record<string, unknown> }> {
  try {
    await p;
  } catch (err) {
    const e = err as { code: number; body: string };
    return { code: e.code, body: JSON.parse(e.body) as Record<string, unknown> };
  }
  throw new Error('expected the request to fail');
}

describe('@kubernetes/client-node against the API server double (TLS)', () => {
  let api: ApiServer;
  let config: k8s.KubeConfig;
  beforeAll(async () => {
    api = await startApiServer({ bookmarkIntervalMs: 100 });
    config = kc(api.kubeconfigPath);
  });
  afterAll(() => api.stop());

  it('CoreV1Api: nodes, pods with create/get/list/replace/patch/delete, AlreadyExists and Conflict', async () => {
    const core = config.makeApiClient(k8s.CoreV1Api);
    await core.createNode({ body: { metadata: { name: 'node-a', labels: { zone: 'z1' } } } });
    const pod = await core.createNamespacedPod({
      namespace: 'default',
      body: {
        metadata: { generateName: 'p-', labels: { app: 'x' } },
        spec: { containers: [{ name: 'c', image: 'i' }] },
      },
    });
    expect(pod.metadata?.name).toMatch(/^p-/);
    expect(pod.status?.phase).toBe('Pending');
    const name = pod.metadata?.name ?? '';
    const dup = await codeOf(
      core.createNamespacedPod({ namespace: 'default', body: { metadata: { name }, spec: { containers: [] } } }),
    );
    expect(dup.code).toBe(409);
    expect(dup.body).toMatchObject({ reason: 'AlreadyExists', message: `pods "${name}" already exists` });

    const stale = { ...pod, metadata: { ...pod.metadata, resourceVersion: '1' } };
    const conflict = await codeOf(core.replaceNamespacedPod({ namespace: 'default', name, body: stale }));
    expect(conflict.code).toBe(409);
    expect(conflict.body.message).toBe(
      `Operation cannot be fulfilled on pods "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    );

    const patched = await core.patchNamespacedPod(
      { namespace: 'default', name, body: { spec: { containers: [{ name: 'c', image: 'j' }] } } },
      strategic,
    );
    expect(patched.spec?.containers.map((c) => [c.name, c.image])).toEqual([['c', 'j']]);
    const status = await core.patchNamespacedPodStatus(
      { namespace: 'default', name, body: { status: { phase: 'Running' }, spec: { nodeName: 'ignored' } } },
      mergePatch,
    );
    expect(status.status?.phase).toBe('Running');
    expect(status.spec?.nodeName).toBeUndefined();

    const list = await core.listPodForAllNamespaces({ labelSelector: 'app=x' });
    expect(list.items.map((p) => p.metadata?.name)).toEqual([name]);
    const missing = await codeOf(core.readNamespacedPod({ namespace: 'default', name: 'nope' }));
    expect(missing.code).toBe(404);
    expect(missing.body).toMatchObject({
      reason: 'NotFound',
      message: 'pods "nope" not found',
      details: { name: 'nope', kind: 'pods' },
    });
    await core.deleteNamespacedPod({ namespace: 'default', name });
    expect((await core.listNamespacedPod({ namespace: 'default' })).items).toHaveLength(0);
  });

  it('ResourceV1Api: slices by field selector, 422 with field paths, unknown field selector 400', async () => {
    const res = config.makeApiClient(k8s.ResourceV1Api);
    const body = (node: string): k8s.V1ResourceSlice => ({
      metadata: { generateName: `${node}-lockstep.dev-` },
      spec: {
        driver: 'lockstep.dev',
        nodeName: node,
        pool: { name: node, generation: 1, resourceSliceCount: 1 },
        devices: [{ name: 'gpu-0', attributes: { type: { string: 'gpu' } } }],
      },
    });
    await res.createResourceSlice({ body: body('node-a') });
    await res.createResourceSlice({ body: body('node-b') });
    const onA = await res.listResourceSlice({ fieldSelector: 'spec.nodeName=node-a' });
    expect(onA.items.map((s) => s.spec.nodeName)).toEqual(['node-a']);
    expect((await res.listResourceSlice({ fieldSelector: 'spec.driver=lockstep.dev' })).items).toHaveLength(2);
    const bad = body('node-c');
    bad.spec.devices = [{ name: 'GPU 0' }];
    const invalid = await codeOf(res.createResourceSlice({ body: bad }));
    expect(invalid.code).toBe(422);
    expect((invalid.body.details as { causes: { field: string }[] }).causes[0].field).toBe('spec.devices[0].name');
    const unknownSelector = await codeOf(res.listResourceSlice({ fieldSelector: 'spec.pool.name=node-a' }));
    expect(unknownSelector).toMatchObject({
      code: 400,
      body: { reason: 'BadRequest', message: 'field label not supported: spec.pool.name' },
    });
  });

  it('CustomObjectsApi: LeaderWorkerSets', async () => {
    const co = config.makeApiClient(k8s.CustomObjectsApi);
    await co.createNamespacedCustomObject({
      group: 'leaderworkerset.x-k8s.io',
      version: 'v1',
      namespace: 'default',
      plural: 'leaderworkersets',
      body: {
        apiVersion: 'leaderworkerset.x-k8s.io/v1',
        kind: 'LeaderWorkerSet',
        metadata: { name: 'vllm' },
        spec: {
          replicas: 1,
          leaderWorkerTemplate: { size: 2, workerTemplate: { spec: { containers: [{ name: 'w', image: 'i' }] } } },
        },
      },
    });
    const list = (await co.listNamespacedCustomObject({
      group: 'leaderworkerset.x-k8s.io',
      version: 'v1',
      namespace: 'default',
      plural: 'leaderworkersets',
    })) as { items: { kind: string; metadata: { name: string } }[] };
    expect(list.items.map((i) => [i.kind, i.metadata.name])).toEqual([['LeaderWorkerSet', 'vllm']]);
  });

  it('Watch: events after a resourceVersion, then BOOKMARKs', async () => {
    const core = config.makeApiClient(k8s.CoreV1Api);
    const start = await core.listNamespacedConfigMap({ namespace: 'default' });
    const seen: [string, string | undefined][] = [];
    const done = new Promise<void>((resolve) => {
      void new k8s.Watch(config)
        .watch(
          '/api/v1/namespaces/default/configmaps',
          { resourceVersion: start.metadata?.resourceVersion, allowWatchBookmarks: true },
          (type, obj: k8s.V1ConfigMap) => {
            seen.push([type, obj.metadata?.name]);
            if (type === 'BOOKMARK') resolve();
          },
          () => {},
        )
        .then((ctl) => done.finally(() => ctl.abort()));
    });
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'w1' } } });
    await done;
    expect(seen[0]).toEqual(['ADDED', 'w1']);
    expect(seen.at(-1)?.[0]).toBe('BOOKMARK');
  });

  it('informer (makeInformer): list, then add/update/delete; recovers after a forced 410 and dropped watches', async () => {
    const core = config.makeApiClient(k8s.CoreV1Api);
    const informer = k8s.makeInformer(config, '/api/v1/namespaces/default/configmaps', () =>
      core.listNamespacedConfigMap({ namespace: 'default' }),
    );
    const events: string[] = [];
    const waitFor = (what: string) =>
      new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no ${what}; saw ${events.join(' ')}`)), 5000);
        const iv = setInterval(() => {
          if (events.includes(what)) {
            clearTimeout(t);
            clearInterval(iv);
            resolve();
          }
        }, 10);
      });
    informer.on('add', (o) => events.push(`add:${o.metadata?.name}`));
    informer.on('update', (o) => events.push(`update:${o.metadata?.name}`));
    informer.on('delete', (o) => events.push(`delete:${o.metadata?.name}`));
    informer.on('error', () => setTimeout(() => void informer.start(), 50));
    await informer.start();
    await core.createNamespacedConfigMap({
      namespace: 'default',
      body: { metadata: { name: 'i1' }, data: { a: '1' } },
    });
    await waitFor('add:i1');
    await core.patchNamespacedConfigMap({ namespace: 'default', name: 'i1', body: { data: { a: '2' } } }, mergePatch);
    await waitFor('update:i1');
    api.faults.expireNextWatch();
    expect(api.faults.dropWatches()).toBeGreaterThan(0);
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'i2' } } });
    await waitFor('add:i2');
    await core.deleteNamespacedConfigMap({ namespace: 'default', name: 'i1' });
    await waitFor('delete:i1');
    await informer.stop();
  });
});
