import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiError, isConflict, isNotFound, KubeClient, retryDelay } from '../../src/kube/client.js';
import { loadKubeConfig } from '../../src/kube/config.js';
import { Informer } from '../../src/kube/informer.js';
import type { KubeObject } from '../../src/kube/types.js';
import { type ApiServer, startApiServer } from '../cluster/apiserver/index.js';
import { CONFIG_MAPS_FOR_TEST, resourcePath } from './resources.js';
import { waitFor } from './wait.js';

interface ConfigMap extends KubeObject {
  data?: Record<string, string>;
}

let api: ApiServer;
let client: KubeClient;

beforeAll(async () => {
  api = await startApiServer({ bookmarkIntervalMs: 200 });
  client = new KubeClient(loadKubeConfig({ kubeconfig: api.kubeconfigPath }));
});

afterAll(async () => {
  client?.close();
  await api?.stop();
});

const cmPath = (name?: string) => resourcePath(CONFIG_MAPS_FOR_TEST, { namespace: 'default', name });

describe('KubeClient', () => {
  it('creates, reads, patches, replaces and deletes, with the API Status on errors', async () => {
    const created = await client.create<ConfigMap>(cmPath(), { metadata: { name: 'a' }, data: { x: '1' } });
    expect(created.metadata.resourceVersion).toMatch(/^\d+$/);
    const patched = await client.patch<ConfigMap>(cmPath('a'), { data: { y: '2' } });
    expect(patched.data).toEqual({ x: '1', y: '2' });
    const stale = { ...created, data: { z: '3' } };
    const err = await client.replace(cmPath('a'), stale).catch((e: unknown) => e);
    expect(isConflict(err)).toBe(true);
    expect((err as ApiError).message).toMatch(/409/);
    await client.delete(cmPath('a'));
    const missing = await client.get(cmPath('a')).catch((e: unknown) => e);
    expect(isNotFound(missing)).toBe(true);
    expect((missing as ApiError).reason).toBe('NotFound');
  });

  it('talks to the API with the credentials of the kubeconfig (a user without rights gets 403)', async () => {
    const nobody = new KubeClient(loadKubeConfig({ kubeconfig: api.kubeconfigFor('nobody') }));
    const err = await nobody.get(cmPath()).catch((e: unknown) => e);
    nobody.close();
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(403);
  });
});

describe('Informer', () => {
  it('lists, then follows changes; survives dropped watches, 410 and server errors', async () => {
    await client.create(cmPath(), { metadata: { name: 'before' } });
    const informer = new Informer<ConfigMap>(client, {
      type: CONFIG_MAPS_FOR_TEST,
      namespace: 'default',
      backoff: { initialMs: 20, maxMs: 200 },
      watchTimeoutSeconds: 30,
    });
    const seen: string[] = [];
    informer.on((type, obj) => seen.push(`${type}:${obj.metadata.name}`));
    informer.start();
    await informer.synced();
    expect(informer.get('default/before')).toBeDefined();

    await client.create(cmPath(), { metadata: { name: 'one' } });
    await waitFor(() => informer.get('default/one'), 'watch event for one');

    // the server ends every watch: the informer re-watches from its last resourceVersion
    expect(api.faults.dropWatches()).toBeGreaterThan(0);
    await client.create(cmPath(), { metadata: { name: 'two' } });
    await waitFor(() => informer.get('default/two'), 'two after a dropped watch');

    // 410 Expired on the next watch: relist
    api.faults.expireNextWatch(1);
    api.faults.dropWatches();
    await client.delete(cmPath('one'));
    await waitFor(() => !informer.get('default/one'), 'one gone after a relist');
    expect(informer.stats.lists).toBeGreaterThanOrEqual(2);

    // the API fails list and watch for a while (500): the informer keeps retrying, then catches up
    api.faults.set({ errorRate: 1, errorCode: 500, match: { verbs: ['list', 'watch'], resources: ['configmaps'] } });
    api.faults.dropWatches();
    await waitFor(() => informer.stats.errors >= 3, 'some failed attempts');
    await client.create(cmPath(), { metadata: { name: 'three' } });
    api.faults.reset();
    await waitFor(() => informer.get('default/three'), 'three after the outage');

    await informer.stop();
    expect(seen).toContain('add:two');
    expect(seen).toContain('delete:one');
    await waitFor(() => api.openWatches() === 0, 'the server to see the watch closed');
  });

  it('keeps the newer object when a write answer arrives before an older watch event', async () => {
    const informer = new Informer<ConfigMap>(client, { type: CONFIG_MAPS_FOR_TEST, namespace: 'default' });
    informer.start();
    await informer.synced();
    const v1 = await client.create<ConfigMap>(cmPath(), { metadata: { name: 'race' }, data: { v: '1' } });
    const v2 = await client.patch<ConfigMap>(cmPath('race'), { data: { v: '2' } });
    informer.remember(v2);
    informer.remember(v1); // older: ignored
    expect(informer.get('default/race')?.data).toEqual({ v: '2' });
    await new Promise((r) => setTimeout(r, 100));
    expect(informer.get('default/race')?.data).toEqual({ v: '2' });
    await informer.stop();
  });
});

describe('Retry-After', () => {
  it('carries the server’s Retry-After on 429 and makes the retry wait at least that long', async () => {
    api.faults.failNext(1, 429, { retryAfterSeconds: 2, match: { resources: ['configmaps'] } });
    const err = await client.get(cmPath()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect((err as ApiError).status).toBe(429);
    expect((err as ApiError).retryAfterSeconds).toBe(2);
    expect(retryDelay(err, 100)).toBe(2000);
    expect(retryDelay(err, 5000)).toBe(5000);
    expect(retryDelay(new Error('x'), 100)).toBe(100);
  });
});
