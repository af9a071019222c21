import { execFile, execFileSync } from 'node:child_process';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiServer, startApiServer } from './index.js';
import { rawRequest } from './raw-client.js';

const NS = 'lockstep-system';

function clientFor(path: string) {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(path);
  return { resource: kc.makeApiClient(k8s.ResourceV1Api), core: kc.makeApiClient(k8s.CoreV1Api) };
}

async function failure(p: Promise<unknown>): Promise<{ code: number; message: string; reason: string }> {
  try {
    await p;
  } catch (err) {
    const e = err as { code: number; body: string };
    const body = JSON.parse(e.body) as { message: string; reason: string };
    return { code: e.code, message: body.message, reason: body.reason };
  }
  throw new Error('expected a failure');
}

function slice(node: string): k8s.V1ResourceSlice {
  return {
    metadata: { generateName: `${node}-lockstep.dev-` },
    spec: {
      driver: 'lockstep.dev',
      nodeName: node,
      pool: { name: node, generation: 1, resourceSliceCount: 1 },
      devices: [{ name: 'gpu-0' }],
    },
  };
}

describe('authentication, RBAC and admission policies from deploy/base', () => {
  let api: ApiServer;
  beforeAll(async () => {
    api = await startApiServer();
    const rendered = execFileSync('kubectl', ['kustomize', 'deploy/base'], { encoding: 'utf8' });
    const { skipped } = api.store.apply(rendered);
    expect(skipped).toEqual([]);
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
    }
  });
  afterAll(() => api.stop());

  const agent = (node: string) =>
    clientFor(api.kubeconfigFor({ serviceAccount: { namespace: NS, name: 'lockstep-agent' }, pod: `agent-${node}` }));

  it("lets node A's agent write its own slices and refuses node B's, with the policy's message", async () => {
    const a = agent('node-a');
    const own = await a.resource.createResourceSlice({ body: slice('node-a') });
    expect(own.spec.nodeName).toBe('node-a');
    const other = await failure(a.resource.createResourceSlice({ body: slice('node-b') }));
    expect(other.code).toBe(403);
    expect(other.message).toMatch(
      /^resourceslices\.resource\.k8s\.io "node-b-lockstep\.dev-[a-z0-9]{5}" is forbidden: ValidatingAdmissionPolicy 'lockstep-agent-own-node-slices' with binding 'lockstep-agent-own-node-slices' denied request: the lockstep agent on node node-a may write only ResourceSlices with spec\.nodeName node-a$/,
    );
    const bSlice = api.store.create('resourceslices', slice('node-b'));
    const name = bSlice.metadata.name ?? '';
    const edit = await failure(
      a.resource.replaceResourceSlice({
        name,
        body: { ...bSlice, spec: { ...(bSlice.spec as k8s.V1ResourceSliceSpec), devices: [] } } as k8s.V1ResourceSlice,
      }),
    );
    expect(edit.code).toBe(403);
    expect(edit.message).toContain('may write only ResourceSlices with spec.nodeName node-a');
    const del = await failure(a.resource.deleteResourceSlice({ name }));
    expect(del.code).toBe(403);
    expect(del.message).toContain('may change only ResourceSlices of its own node');
    expect((await a.resource.listResourceSlice()).items).toHaveLength(2);
  });

  it('refuses a token without a bound pod (no node name) and what RBAC does not grant', async () => {
    const unbound = clientFor(api.kubeconfigFor({ serviceAccount: { namespace: NS, name: 'lockstep-agent' } }));
    const noNode = await failure(unbound.resource.createResourceSlice({ body: slice('node-a') }));
    expect(noNode.code).toBe(403);
    expect(noNode.message).toContain("the lockstep agent's token carries no node name");
    const rbac = await failure(
      agent('node-a').core.createNamespacedConfigMap({ namespace: NS, body: { metadata: { name: 'x' } } }),
    );
    expect(rbac).toEqual({
      code: 403,
      reason: 'Forbidden',
      message: `configmaps is forbidden: User "system:serviceaccount:${NS}:lockstep-agent" cannot create resource "configmaps" in API group "" in the namespace "${NS}"`,
    });
    const sub = await failure(
      agent('node-a').core.replaceNamespacedPodStatus({
        namespace: NS,
        name: 'agent-node-a',
        body: api.store.get('pods', 'agent-node-a', NS) as k8s.V1Pod,
      }),
    );
    expect(sub.message).toBe(
      `pods "agent-node-a" is forbidden: User "system:serviceaccount:${NS}:lockstep-agent" cannot update resource "pods/status" in API group "" in the namespace "${NS}"`,
    );
  });

  it('Roles, RoleBindings, resourceNames and aggregated ClusterRoles', async () => {
    api.store.apply(`
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: read-one, namespace: default}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get], resourceNames: [allowed]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: bob-read-one, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: read-one}
subjects: [{kind: User, name: bob}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: aggregate}
aggregationRule: {clusterRoleSelectors: [{matchLabels: {agg: "yes"}}]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: part, labels: {agg: "yes"}}
rules: [{apiGroups: [""], resources: [nodes], verbs: [list]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: ops}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: aggregate}
subjects: [{kind: Group, name: ops}]
`);
    api.store.create('configmaps', { metadata: { name: 'allowed' } });
    api.store.create('configmaps', { metadata: { name: 'secret-ish' } });
    const bob = api.tokenFor('bob');
    expect((await rawRequest(api, 'GET', '/api/v1/namespaces/default/configmaps/allowed', { token: bob })).status).toBe(
      200,
    );
    const denied = await rawRequest(api, 'GET', '/api/v1/namespaces/default/configmaps/secret-ish', { token: bob });
    expect(denied.status).toBe(403);
    expect((denied.json as { message: string }).message).toBe(
      'configmaps "secret-ish" is forbidden: User "bob" cannot get resource "configmaps" in API group "" in the namespace "default"',
    );
    expect(
      (await rawRequest(api, 'GET', '/api/v1/namespaces/kube-system/configmaps/allowed', { token: bob })).status,
    ).toBe(403);
    const carol = api.tokenFor({ user: 'carol', groups: ['ops'] });
    expect((await rawRequest(api, 'GET', '/api/v1/nodes', { token: carol })).status).toBe(200);
    const cluster = await rawRequest(api, 'GET', '/api/v1/nodes/node-a', { token: carol });
    expect((cluster.json as { message: string }).message).toBe(
      'nodes "node-a" is forbidden: User "carol" cannot get resource "nodes" in API group "" at the cluster scope',
    );
    expect((await rawRequest(api, 'GET', '/api', { token: carol })).status).toBe(200);
    expect((await rawRequest(api, 'GET', '/api/v1/nodes', { token: null })).status).toBe(401);
    expect((await rawRequest(api, 'GET', '/api/v1/nodes', { token: 'made-up' })).status).toBe(401);
  });

  it('TokenRequest + TokenReview: pod-bound claims, audiences, and revocation when the pod goes', async () => {
    const pod = api.store.get('pods', 'agent-node-b', NS);
    const node = api.store.get('nodes', 'node-b');
    const tr = await rawRequest(api, 'POST', `/api/v1/namespaces/${NS}/serviceaccounts/lockstep-agent/token`, {
      body: {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: {
          audiences: ['lockstep'],
          expirationSeconds: 600,
          boundObjectRef: { kind: 'Pod', apiVersion: 'v1', name: 'agent-node-b', uid: pod.metadata.uid },
        },
      },
    });
    expect(tr.status).toBe(201);
    const token = (tr.json as { status: { token: string; expirationTimestamp: string } }).status.token;
    const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as Record<string, unknown>;
    expect(claims).toMatchObject({
      aud: ['lockstep'],
      sub: `system:serviceaccount:${NS}:lockstep-agent`,
      'kubernetes.io': {
        namespace: NS,
        pod: { name: 'agent-node-b', uid: pod.metadata.uid },
        node: { name: 'node-b', uid: node.metadata.uid },
      },
    });
    const review = async (audiences?: string[], t = token) =>
      (
        await rawRequest(api, 'POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
          body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: { token: t, audiences } },
        })
      ).json as {
        status: {
          authenticated: boolean;
          audiences?: string[];
          error?: string;
          user: { username: string; groups: string[]; extra: Record<string, string[]> };
        };
      };
    const ok = await review(['lockstep']);
    expect(ok.status.authenticated).toBe(true);
    expect(ok.status.audiences).toEqual(['lockstep']);
    expect(ok.status.user.username).toBe(`system:serviceaccount:${NS}:lockstep-agent`);
    expect(ok.status.user.groups).toEqual([
      'system:serviceaccounts',
      `system:serviceaccounts:${NS}`,
      'system:authenticated',
    ]);
    expect(ok.status.user.extra).toMatchObject({
      'authentication.kubernetes.io/pod-name': ['agent-node-b'],
      'authentication.kubernetes.io/pod-uid': [pod.metadata.uid],
      'authentication.kubernetes.io/node-name': ['node-b'],
      'authentication.kubernetes.io/node-uid': [node.metadata.uid],
    });
    const wrongAudience = await review(['someone-else']);
    expect(wrongAudience.status.authenticated).toBe(false);
    expect(wrongAudience.status.error).toContain('audiences');
    // A token for the API server's own audience is refused by a server that wants "lockstep", and vice versa.
    expect((await review()).status.authenticated).toBe(false);
    const tampered = `${token.slice(0, -4)}AAAA`;
    expect((await review(['lockstep'], tampered)).status.authenticated).toBe(false);
    // No kubelet runs here to finish a graceful deletion: delete at once, as `kubectl delete --force` does.
    api.store.delete('pods', 'agent-node-b', NS, { gracePeriodSeconds: 0 });
    const gone = await review(['lockstep']);
    expect(gone.status.authenticated).toBe(false);
    expect(gone.status.error).toContain('agent-node-b');
    const badRef = await rawRequest(api, 'POST', `/api/v1/namespaces/${NS}/serviceaccounts/lockstep-agent/token`, {
      body: { spec: { boundObjectRef: { kind: 'Pod', name: 'agent-node-a', uid: 'not-the-uid' } } },
    });
    expect(badRef.status).toBe(409);
    const tooShort = await rawRequest(api, 'POST', `/api/v1/namespaces/${NS}/serviceaccounts/lockstep-agent/token`, {
      body: { spec: { expirationSeconds: 60 } },
    });
    expect(tooShort.status).toBe(422);
    expect((await rawRequest(api, 'GET', '/apis/authentication.k8s.io/v1/tokenreviews')).status).toBe(405);
  });

  it('impersonation (kubectl --as) and SelfSubjectAccessReview / SubjectAccessReview', async () => {
    const asAgent = await rawRequest(api, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
      body: { spec: { resourceAttributes: { verb: 'create', group: 'resource.k8s.io', resource: 'resourceslices' } } },
    });
    expect((asAgent.json as { status: { allowed: boolean } }).status.allowed).toBe(true);
    const sar = async (user: string, verb: string, resource: string) =>
      (
        (
          await rawRequest(api, 'POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
            body: { spec: { user, groups: [], resourceAttributes: { verb, group: '', resource, namespace: NS } } },
          })
        ).json as { status: { allowed: boolean } }
      ).status.allowed;
    expect(await sar(`system:serviceaccount:${NS}:lockstep-agent`, 'list', 'pods')).toBe(true);
    expect(await sar(`system:serviceaccount:${NS}:lockstep-agent`, 'delete', 'pods')).toBe(false);
    const { stdout } = await new Promise<{ stdout: string }>((resolve) => {
      execFile(
        'kubectl',
        [
          '--kubeconfig',
          api.kubeconfigPath,
          '--as',
          `system:serviceaccount:${NS}:lockstep-agent`,
          'get',
          'configmaps',
          '-n',
          NS,
        ],
        (_err, stdout, stderr) => resolve({ stdout: stdout + stderr }),
      );
    });
    expect(stdout).toContain(`User "system:serviceaccount:${NS}:lockstep-agent" cannot list resource "configmaps"`);
    const canI = (...args: string[]) =>
      new Promise<string>((resolve) => {
        execFile('kubectl', ['--kubeconfig', api.kubeconfigPath, 'auth', 'can-i', ...args], (_e, out) =>
          resolve(out.trim()),
        );
      });
    // kubectl sends these reviews as protobuf.
    expect(await canI('create', 'resourceslices', '--as', `system:serviceaccount:${NS}:lockstep-agent`)).toBe('yes');
    expect(await canI('create', 'configmaps', '-n', NS, '--as', `system:serviceaccount:${NS}:lockstep-agent`)).toBe(
      'no',
    );
    const bobImpersonates = await rawRequest(api, 'GET', '/api/v1/nodes', {
      token: api.tokenFor('bob'),
      headers: { 'Impersonate-User': 'kubernetes-admin' },
    });
    expect(bobImpersonates.status).toBe(403);
    expect((bobImpersonates.json as { message: string }).message).toBe(
      'users "kubernetes-admin" is forbidden: User "bob" cannot impersonate resource "users" in API group "" at the cluster scope',
    );
  });

  it('has the bootstrap roles and a default ServiceAccount in every namespace', async () => {
    expect(api.store.find('serviceaccounts', 'default', NS)).toBeDefined();
    api.store.create('namespaces', { metadata: { name: 'fresh' } });
    expect(api.store.find('serviceaccounts', 'default', 'fresh')).toBeDefined();
    api.store.create('rolebindings', {
      metadata: { name: 'dave-view', namespace: 'fresh' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' },
      subjects: [{ kind: 'User', name: 'dave' }],
    });
    const dave = api.tokenFor('dave');
    expect((await rawRequest(api, 'GET', '/api/v1/namespaces/fresh/pods', { token: dave })).status).toBe(200);
    expect((await rawRequest(api, 'GET', '/api/v1/namespaces/fresh/secrets', { token: dave })).status).toBe(403);
    expect((await rawRequest(api, 'GET', '/api/v1/namespaces/default/pods', { token: dave })).status).toBe(403);
  });
});
