/**
 * Granular authorization of ResourceClaim status writes on the emulated releases, with lockstep's own grants
 * (deploy/base): the agent of a node may write its driver's `status.devices` entries of a claim allocated on its node;
 * on 1.36 and 1.37 a token without the `resourceclaims/driver` grant, the agent of another node, and an entry of
 * another driver are refused; 1.35 has no such check. Also the status.devices validation every version does.
 */
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KubeClient } from '../../../src/kube/client.js';
import { loadKubeConfig } from '../../../src/kube/config.js';
import { KUBERNETES_VERSIONS, type KubernetesVersion } from '../versions.js';
import { allocatedNodeName, modifiedDrivers } from './claim-status-authz.js';
import { type ApiServer, type KubeObject, startApiServer } from './index.js';

const NS = 'lockstep-system';

function claimOn(name: string, node: string, driver = 'lockstep.dev') {
  return {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceClaim',
    metadata: { name, namespace: 'ml' },
    spec: { devices: { requests: [{ name: 'nic', exactly: { deviceClassName: 'nic.lockstep.dev' } }] } },
    status: {
      allocation: {
        devices: { results: [{ request: 'nic', driver, pool: node, device: 'nic-0000-1a-00-0' }] },
        nodeSelector: {
          nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }],
        },
      },
    },
  };
}

const ready = {
  type: 'Ready',
  status: 'True',
  reason: 'DevicePrepared',
  message: 'prepared',
  lastTransitionTime: '2026-12-07T00:00:00Z',
};

function entry(node: string, extra: Record<string, unknown> = {}, driver = 'lockstep.dev') {
  return { driver, pool: node, device: 'nic-0000-1a-00-0', conditions: [ready], ...extra };
}

describe.each(KUBERNETES_VERSIONS)('ResourceClaim status.devices writes on %s', (version: KubernetesVersion) => {
  const granular = version !== '1.35';
  let api: ApiServer;
  const clients: KubeClient[] = [];

  beforeAll(async () => {
    api = await startApiServer({ tls: false, version, namespaces: ['ml'] });
    api.store.apply(execFileSync('kubectl', ['kustomize', 'deploy/base'], { encoding: 'utf8' }));
    for (const node of ['node-a', 'node-b']) {
      api.store.create('nodes', { metadata: { name: node } });
      api.store.create('pods', {
        metadata: { name: `agent-${node}`, namespace: NS },
        spec: { nodeName: node, serviceAccountName: 'lockstep-agent', containers: [{ name: 'a', image: 'lockstep' }] },
      });
      const claim = api.store.create('resourceclaims', claimOn(`claim-${node}`, node), { namespace: 'ml' });
      api.store.updateStatus('resourceclaims', {
        ...claim,
        status: claimOn(`claim-${node}`, node).status,
      } as KubeObject);
    }
    // a service account granted resourceclaims/status only (what drivers had before 1.36)
    api.store.apply([
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'old-driver', namespace: NS } },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRole',
        metadata: { name: 'old-driver' },
        rules: [
          { apiGroups: ['resource.k8s.io'], resources: ['resourceclaims'], verbs: ['get'] },
          { apiGroups: ['resource.k8s.io'], resources: ['resourceclaims/status'], verbs: ['update', 'patch'] },
        ],
      },
      {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'ClusterRoleBinding',
        metadata: { name: 'old-driver' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'old-driver' },
        subjects: [{ kind: 'ServiceAccount', name: 'old-driver', namespace: NS }],
      },
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'old-driver-node-a', namespace: NS },
        spec: { nodeName: 'node-a', serviceAccountName: 'old-driver', containers: [{ name: 'd', image: 'd' }] },
      },
    ]);
  });
  afterAll(async () => {
    for (const client of clients) client.close();
    await api?.stop();
  });

  function clientFor(serviceAccount: string, pod: string): KubeClient {
    const path = api.kubeconfigFor({ serviceAccount: { namespace: NS, name: serviceAccount }, pod });
    const client = new KubeClient(loadKubeConfig({ kubeconfig: path, env: {} }));
    clients.push(client);
    return client;
  }

  /** PUT status.devices of a claim as this client: 'ok' or the API's message. */
  async function writeDevices(client: KubeClient, claim: string, devices: unknown[]): Promise<string> {
    const path = `/apis/resource.k8s.io/v1/namespaces/ml/resourceclaims/${claim}`;
    const current = await client.get<{ status: Record<string, unknown> }>(path);
    try {
      await client.replace(`${path}/status`, { ...current, status: { ...current.status, devices } });
      return 'ok';
    } catch (error) {
      return String(error instanceof Error ? error.message : error);
    }
  }

  it("lets a node's agent write and clear its driver's entries of a claim allocated on its node", async () => {
    const agentA = clientFor('lockstep-agent', 'agent-node-a');
    const networkData = {
      interfaceName: 'enp26s0np0',
      ips: ['10.0.0.5/24', 'fd00::5/64'],
      hardwareAddress: 'b8:3f:d2:aa:bb:01',
    };
    expect(await writeDevices(agentA, 'claim-node-a', [entry('node-a', { networkData })])).toBe('ok');
    const stored = api.store.get('resourceclaims', 'claim-node-a', 'ml') as unknown as {
      status: { devices?: unknown[] };
    };
    expect(stored.status.devices).toEqual([entry('node-a', { networkData })]);
    expect(await writeDevices(agentA, 'claim-node-a', [])).toBe('ok');
  });

  it(`${granular ? 'refuses' : 'allows'} the agent of another node`, async () => {
    const agentA = clientFor('lockstep-agent', 'agent-node-a');
    const outcome = await writeDevices(agentA, 'claim-node-b', [entry('node-b')]);
    if (granular) expect(outcome).toContain('changing status.devices requires extra permission');
    else expect(outcome).toBe('ok');
    await writeDevices(clientFor('old-driver', 'old-driver-node-a'), 'claim-node-b', []);
  });

  it(`${granular ? 'refuses' : 'allows'} a token granted resourceclaims/status alone`, async () => {
    const old = clientFor('old-driver', 'old-driver-node-a');
    const outcome = await writeDevices(old, 'claim-node-a', [entry('node-a')]);
    if (granular) expect(outcome).toMatch(/422|Invalid|requires extra permission/);
    else expect(outcome).toBe('ok');
    if (!granular) expect(await writeDevices(old, 'claim-node-a', [])).toBe('ok');
  });

  it(`${granular ? 'refuses' : 'allows (1.35 has no per-driver check)'} the agent another driver's entries, even on its own node`, async () => {
    const other = api.store.create('resourceclaims', claimOn('dranet-claim', 'node-a', 'dra.net'), {
      namespace: 'ml',
    });
    api.store.updateStatus('resourceclaims', {
      ...other,
      status: claimOn('dranet-claim', 'node-a', 'dra.net').status,
    } as KubeObject);
    const agentA = clientFor('lockstep-agent', 'agent-node-a');
    const outcome = await writeDevices(agentA, 'dranet-claim', [entry('node-a', {}, 'dra.net')]);
    if (granular) expect(outcome).toContain('requires extra permission');
    else expect(outcome).toBe('ok');
  });

  it('validates entries as the real server: allocated devices only, CIDR addresses in canonical form', async () => {
    const agentA = clientFor('lockstep-agent', 'agent-node-a');
    const table: [unknown, string][] = [
      [{ ...entry('node-a'), device: 'nic-0000-99-00-0' }, 'must be an allocated device in the claim'],
      [entry('node-a', { networkData: { ips: ['10.0.0.5'] } }), 'must be a valid address in CIDR form'],
      [entry('node-a', { networkData: { ips: ['fd00:0::5/64'] } }), 'must be in canonical form ("fd00::5/64")'],
      [entry('node-a', { networkData: { interfaceName: 'x'.repeat(257) } }), 'may not be more than 256 bytes'],
      [
        entry('node-a', { conditions: Array.from({ length: 9 }, (_, i) => ({ ...ready, type: `T${i}` })) }),
        'must have at most 8 items',
      ],
    ];
    for (const [bad, message] of table) expect(await writeDevices(agentA, 'claim-node-a', [bad])).toContain(message);
  });
});

describe('granular authorization helpers', () => {
  it.each([
    ['no change', [entry('n')], [entry('n')], []],
    ['added', [entry('n'), entry('n', {}, 'b')], [entry('n')], ['b']],
    ['removed', [], [entry('n', {}, 'b')], ['b']],
    ['changed', [entry('n', { networkData: { interfaceName: 'eth1' } })], [entry('n')], ['lockstep.dev']],
  ])('modified drivers: %s', (_name, next, old, expected) => {
    expect([...modifiedDrivers({ devices: next }, { devices: old })].sort()).toEqual(expected);
  });

  const selector = (terms: unknown[]) => ({ allocation: { nodeSelector: { nodeSelectorTerms: terms } } });
  const field = (values: string[], operator = 'In', key = 'metadata.name') => ({
    matchFields: [{ key, operator, values }],
  });
  it.each([
    ['one node', selector([field(['n1'])]), 'n1'],
    ['two values', selector([field(['n1', 'n2'])]), ''],
    ['two terms', selector([field(['n1']), field(['n2'])]), ''],
    ['NotIn', selector([field(['n1'], 'NotIn')]), ''],
    ['other key', selector([field(['n1'], 'In', 'metadata.namespace')]), ''],
    ['no allocation', {}, ''],
  ])('allocated node: %s', (_name, status, expected) => {
    expect(allocatedNodeName(status)).toBe(expected);
  });
});
