/**
 * The agent's grants, attacked with its own credentials (deploy/base RBAC and admission policies on the API server
 * double): node A's agent marks a pod of node B Failed through pods/status, or publishes a slice for another vendor's
 * driver. Both are refused by the admission policy; its own node's pods and its own driver still work.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../src/kube/client.js';
import { loadKubeConfig } from '../../src/kube/config.js';
import { type ApiServer, startApiServer } from '../cluster/apiserver/index.js';

const NS = 'lockstep-system';
let api: ApiServer;
const clients: KubeClient[] = [];

beforeAll(async () => {
  api = await startApiServer();
  const rendered = execFileSync('kubectl', ['kustomize', 'deploy/base'], { encoding: 'utf8' });
  expect(api.store.apply(rendered).skipped).toEqual([]);
  api.store.apply([{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ml' } }]);
  for (const node of ['node-a', 'node-b']) {
    api.store.create('nodes', { metadata: { name: node } });
    api.store.create('pods', {
      metadata: { name: `agent-${node}`, namespace: NS },
      spec: {
        nodeName: node,
        serviceAccountName: 'lockstep-agent',
        containers: [{ name: 'agent', image: 'lockstep' }],
      },
    });
    api.store.create('pods', {
      metadata: { name: `llama-${node}`, namespace: 'ml' },
      spec: { nodeName: node, containers: [{ name: 'engine', image: 'vllm' }] },
    });
  }
});
afterAll(async () => {
  for (const c of clients) c.close();
  await api?.stop();
});

function agent(node: string): KubeClient {
  const path = api.kubeconfigFor({ serviceAccount: { namespace: NS, name: 'lockstep-agent' }, pod: `agent-${node}` });
  const client = new KubeClient(loadKubeConfig({ kubeconfig: path, env: {} }));
  clients.push(client);
  return client;
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    return String(err instanceof Error ? err.message : err);
  }
  throw new Error('expected a refusal');
}

const failed = {
  status: { conditions: [{ type: 'DevicesHealthy', status: 'False', reason: 'DeviceUnhealthy', message: 'xid 79' }] },
};

describe("the agent's own-node policies", () => {
  it("refuses node A's agent the status of a pod on node B, and allows its own node's pods", async () => {
    const a = agent('node-a');
    const other = await refusal(a.patch('/api/v1/namespaces/ml/pods/llama-node-b/status', failed, 'strategic'));
    expect(other).toContain(
      "ValidatingAdmissionPolicy 'lockstep-agent-own-node-pods' with binding 'lockstep-agent-own-node-pods' denied request: the lockstep agent on node node-a may change the status only of pods on that node",
    );
    const conditions = (api.store.get('pods', 'llama-node-b', 'ml') as { status?: { conditions?: unknown[] } }).status
      ?.conditions;
    expect(conditions ?? []).toEqual([]);
    await a.patch('/api/v1/namespaces/ml/pods/llama-node-a/status', failed, 'strategic');
    const own = api.store.get('pods', 'llama-node-a', 'ml') as { status?: { conditions?: Array<{ type: string }> } };
    expect(own.status?.conditions?.map((c) => c.type)).toContain('DevicesHealthy');
  });

  it("refuses a slice for another vendor's driver on the agent's own node", async () => {
    const a = agent('node-a');
    const slice = (driver: string) => ({
      apiVersion: 'resource.k8s.io/v1',
      kind: 'ResourceSlice',
      metadata: { generateName: `node-a-${driver}-` },
      spec: { driver, nodeName: 'node-a', pool: { name: 'node-a', generation: 1, resourceSliceCount: 1 }, devices: [] },
    });
    const nvidia = await refusal(a.create('/apis/resource.k8s.io/v1/resourceslices', slice('gpu.nvidia.com')));
    expect(nvidia).toContain(
      'the lockstep agent may write only ResourceSlices of lockstep.dev drivers, not gpu.nvidia.com',
    );
    await a.create('/apis/resource.k8s.io/v1/resourceslices', slice('lockstep.dev'));
  });
});

describe('the group label', () => {
  it('cannot be changed, added or removed after creation, so no pod is moved into another group', async () => {
    api.store.create('pods', {
      metadata: { name: 'web-1', namespace: 'ml', labels: { 'lockstep.dev/group': 'web' } },
      spec: { containers: [{ name: 'engine', image: 'vllm' }] },
    });
    const admin = new KubeClient(
      loadKubeConfig({ kubeconfig: api.kubeconfigFor({ user: 'cluster-admin', groups: ['system:masters'] }), env: {} }),
    );
    clients.push(admin);
    const relabel = await refusal(
      admin.patch('/api/v1/namespaces/ml/pods/web-1', { metadata: { labels: { 'lockstep.dev/group': 'other' } } }),
    );
    expect(relabel).toContain('the lockstep.dev/group label of a pod is fixed at creation (was "web", now "other")');
    const added = await refusal(
      admin.patch('/api/v1/namespaces/ml/pods/llama-node-a', { metadata: { labels: { 'lockstep.dev/group': 'web' } } }),
    );
    expect(added).toContain('(was "", now "web")');
    await admin.patch('/api/v1/namespaces/ml/pods/web-1', { metadata: { labels: { tier: 'gpu' } } });
  });
});
