/**
 * In-cluster access without client-node: the service-account mount (a fake root with token and ca.crt) and
 * KUBERNETES_SERVICE_HOST/PORT, used by KubeClient against the test API server over TLS; a rotated token is used on the
 * next credentials refresh; missing files are errors naming them; with a kubeconfig, client-node's loader is used.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../src/kube/client.js';
import { InClusterAccess, inClusterServer, loadClusterAccess, SERVICE_ACCOUNT_DIR } from '../../src/kube/in-cluster.js';
import { type ApiServer, startApiServer } from '../cluster/apiserver/index.js';

let api: ApiServer;
let root: string;

function mount(token: string, ca = api.caPem): void {
  const dir = join(root, SERVICE_ACCOUNT_DIR);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'token'), `${token}\n`);
  if (ca !== undefined) writeFileSync(join(dir, 'ca.crt'), ca);
}

beforeAll(async () => {
  api = await startApiServer();
  root = mkdtempSync(join(tmpdir(), 'lockstep-in-cluster-'));
});
afterAll(async () => {
  await api?.stop();
  rmSync(root, { recursive: true, force: true });
});

describe('inClusterServer', () => {
  it.each([
    [{ KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, 'https://10.96.0.1:443'],
    [{ KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' }, 'https://[fd00::1]:6443'],
    [{ KUBERNETES_SERVICE_HOST: '10.96.0.1' }, 'https://10.96.0.1:443'],
    [{}, undefined],
  ])('%j → %s', (env, want) => {
    expect(inClusterServer(env)).toBe(want);
  });
});

describe('InClusterAccess', () => {
  it('talks to the API server with the mounted token and CA, and follows a rotated token', async () => {
    mount(api.adminToken);
    const port = new URL(api.url).port;
    const access = await loadClusterAccess({
      env: { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: port },
      inClusterRoot: root,
    });
    expect(access).toBeInstanceOf(InClusterAccess);
    const client = new KubeClient(access);
    try {
      const list = await client.get<{ items: unknown[] }>('/api/v1/namespaces');
      expect(list.items.length).toBeGreaterThan(0);
    } finally {
      client.close();
    }
    // a rotated token is what the next request presents (KubeClient caches credentials for a few seconds: a new one)
    mount('not-a-valid-token');
    const rotated = new KubeClient(access);
    try {
      await expect(rotated.get('/api/v1/namespaces')).rejects.toThrow(/401/);
    } finally {
      rotated.close();
    }
  });

  it('names the file it cannot read', () => {
    const empty = mkdtempSync(join(tmpdir(), 'lockstep-in-cluster-empty-'));
    expect(() => new InClusterAccess('https://10.0.0.1:443', empty)).toThrow(
      `cannot read the service account's CA ${empty}${SERVICE_ACCOUNT_DIR}/ca.crt`,
    );
    mkdirSync(join(empty, SERVICE_ACCOUNT_DIR), { recursive: true });
    writeFileSync(join(empty, SERVICE_ACCOUNT_DIR, 'ca.crt'), 'x');
    expect(() => new InClusterAccess('https://10.0.0.1:443', empty)).toThrow(
      `cannot read the service account token ${empty}${SERVICE_ACCOUNT_DIR}/token`,
    );
  });

  it('a kubeconfig, given or in $KUBECONFIG, wins over the service account (client-node reads it)', async () => {
    mount(api.adminToken);
    const env = { KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: '1' };
    for (const source of [
      { kubeconfig: api.kubeconfigPath, env, inClusterRoot: root },
      { env: { ...env, KUBECONFIG: api.kubeconfigPath }, inClusterRoot: root },
    ]) {
      const access = await loadClusterAccess(source);
      expect(access).not.toBeInstanceOf(InClusterAccess);
      expect(access.getCurrentCluster()?.server).toBe(api.url);
    }
  });
});
