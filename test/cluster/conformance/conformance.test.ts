/**
 * The conformance suite: the same checks through kubectl, @kubernetes/client-node and python-kubernetes against one
 * API server double. Where the three disagree with a real API server the double is wrong; each row names the real
 * behaviour it holds the double to. python-kubernetes rows are skipped (reported) where python3-kubernetes is not
 * installed; CI installs it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiServer, startApiServer } from '../apiserver/index.js';
import {
  type ClientName,
  ClientNodeClient,
  type ConformanceClient,
  KubectlClient,
  PythonClient,
  pythonKubernetesAvailable,
} from './clients.js';

const hasPython = pythonKubernetesAvailable();
const CLIENTS: ClientName[] = ['kubectl', 'client-node', 'python-kubernetes'];

describe.each(CLIENTS)('conformance through %s', (clientName) => {
  let api: ApiServer;
  let client: ConformanceClient;
  let scratch: string;
  const skip = clientName === 'python-kubernetes' && !hasPython;
  /** A namespace of this client's own, so the checks see only what they made. */
  const ns = (check: string) => `${check}-${clientName.replace(/[^a-z]/g, '')}`;

  beforeAll(async () => {
    if (skip) return;
    api = await startApiServer();
    scratch = mkdtempSync(join(tmpdir(), 'conformance-'));
    client =
      clientName === 'kubectl'
        ? new KubectlClient(api.kubeconfigPath, scratch)
        : clientName === 'client-node'
          ? new ClientNodeClient(api.kubeconfigPath)
          : new PythonClient(api.kubeconfigPath, scratch);
  });
  afterAll(async () => {
    await client?.close();
    await api?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it.skipIf(skip)('/version has every field of version.Info, platform linux/amd64', async () => {
    const v = await client.version();
    expect(v.gitVersion).toMatch(/^v1\.\d+\.\d+/);
    expect(v.platform).toBe('linux/amd64');
    expect(v.gitCommit).toMatch(/^[0-9a-f]{40}$/);
  });

  it.skipIf(skip)(
    'a watch sees a configmap created after it opened (python sends watch=True)',
    async () => {
      const namespace = ns('watch');
      api.store.create('namespaces', { metadata: { name: namespace } });
      expect(await client.watchCreate(namespace, 'seen')).toEqual({ type: 'ADDED', name: 'seen' });
    },
    40_000,
  );

  it.skipIf(skip)('a list in pages of 2 returns every configmap once, in key order', async () => {
    const namespace = ns('paged');
    api.store.create('namespaces', { metadata: { name: namespace } });
    const names = ['a', 'b', 'c', 'd', 'e'];
    for (const name of names) api.store.create('configmaps', { metadata: { name, namespace } });
    // the namespace controller's kube-root-ca.crt is not served by the double: the five are all there is
    expect(await client.pagedList(namespace, 2)).toEqual(names);
  });

  it.skipIf(skip)(
    'server-side apply: managers own fields; another manager conflicts (409) unless forced',
    async () => {
      const namespace = ns('ssa');
      api.store.create('namespaces', { metadata: { name: namespace } });
      expect(await client.apply(namespace, 'team-a', '1', false)).toEqual({ data: { k: '1' }, managers: ['team-a'] });
      // the same value from a second manager: shared ownership, no conflict
      expect(await client.apply(namespace, 'team-b', '1', false)).toEqual({
        data: { k: '1' },
        managers: ['team-a', 'team-b'],
      });
      expect(await client.apply(namespace, 'team-c', '2', false)).toEqual({
        conflict: 'Apply failed with 2 conflicts: conflicts with "team-a":',
      });
      expect(await client.apply(namespace, 'team-c', '2', true)).toEqual({ data: { k: '2' }, managers: ['team-c'] });
      const stored = api.store.get('configmaps', 'applied', namespace);
      expect(stored.metadata.managedFields).toEqual([
        expect.objectContaining({ manager: 'team-c', operation: 'Apply', fieldsV1: { 'f:data': { 'f:k': {} } } }),
      ]);
    },
    40_000,
  );

  it.skipIf(skip)('deleting a pod on a node is graceful: deletionTimestamp and 30 s grace, the pod stays', async () => {
    const namespace = ns('grace');
    api.store.create('namespaces', { metadata: { name: namespace } });
    api.store.create('pods', {
      metadata: { name: 'web', namespace },
      spec: { nodeName: 'node-a', containers: [{ name: 'c', image: 'nginx:1.27' }] },
    });
    expect(await client.deletePod(namespace, 'web')).toEqual({ deletionTimestamp: true, grace: 30 });
    expect(api.store.get('pods', 'web', namespace)?.metadata.deletionTimestamp).toBeDefined();
  });
});

/**
 * The rows kubectl cannot express (it has no resourceVersionMatch flag and writes no claim status): client-node and
 * python-kubernetes, each against the same answer from the real server.
 */
describe.each(['client-node', 'python-kubernetes'] as const)(
  'list options and ResourceClaim status through %s',
  (clientName) => {
    let api: ApiServer;
    let scratch: string;
    let node: ClientNodeClient;
    let python: PythonClient;
    const skip = clientName === 'python-kubernetes' && !hasPython;
    const NS = 'opts';

    /** client-node's answer in the python driver's shape: the Status of a refused request. */
    async function failure(
      p: Promise<unknown>,
    ): Promise<{ error: { status: number; reason: string; message: string } | null }> {
      try {
        await p;
        return { error: null };
      } catch (err) {
        const e = err as { code: number; body: string };
        const body = JSON.parse(e.body) as { reason: string; message: string };
        return { error: { status: e.code, reason: body.reason, message: body.message } };
      }
    }

    beforeAll(async () => {
      if (skip) return;
      api = await startApiServer({ namespaces: [NS], historySize: 20 });
      scratch = mkdtempSync(join(tmpdir(), 'conformance-'));
      node = new ClientNodeClient(api.kubeconfigPath);
      python = new PythonClient(api.kubeconfigPath, scratch);
      for (const name of ['a', 'b', 'c']) api.store.create('configmaps', { metadata: { name, namespace: NS } });
    });
    afterAll(async () => {
      await python?.close();
      await api?.stop();
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    });

    it.skipIf(skip)('continue together with a resourceVersion is 400, as the storage layer answers', async () => {
      const seen =
        clientName === 'python-kubernetes'
          ? await python.check<{ error: unknown }>('continue-with-rv', NS)
          : await (async () => {
              const first = await node.core.listNamespacedConfigMap({ namespace: NS, limit: 1 });
              return failure(
                node.core.listNamespacedConfigMap({
                  namespace: NS,
                  limit: 1,
                  _continue: first.metadata?._continue,
                  resourceVersion: first.metadata?.resourceVersion,
                }),
              );
            })();
      expect(seen).toEqual({
        error: {
          status: 400,
          reason: 'BadRequest',
          message: 'specifying resource version is not allowed when using continue',
        },
      });
    });

    it.skipIf(skip)(
      'resourceVersionMatch=Exact lists the state at that revision, and 410 once it is compacted',
      async () => {
        const at = api.store.get('configmaps', 'c', NS).metadata.resourceVersion ?? '';
        api.store.create('configmaps', { metadata: { name: 'later', namespace: NS } });
        api.store.delete('configmaps', 'a', NS);
        const exact = async (rv: string) =>
          clientName === 'python-kubernetes'
            ? python.check<{ names?: string[]; error?: unknown }>('list-exact', NS, rv)
            : node.core
                .listNamespacedConfigMap({ namespace: NS, resourceVersion: rv, resourceVersionMatch: 'Exact' })
                .then(
                  (l) => ({
                    names: l.items.map((i) => i.metadata?.name),
                    resourceVersion: l.metadata?.resourceVersion,
                  }),
                  async (err: unknown) => failure(Promise.reject(err)),
                );
        expect(await exact(at)).toEqual({ names: ['a', 'b', 'c'], resourceVersion: at });
        for (let i = 0; i < 25; i++)
          api.store.create('configmaps', { metadata: { generateName: 'churn-', namespace: NS } });
        expect(await exact(at)).toEqual({
          error: { status: 410, reason: 'Expired', message: 'The resourceVersion for the provided list is too old.' },
        });
      },
    );

    it.skipIf(skip)(
      'ResourceClaim status: reservedFor needs an allocation; results name a request; allocation is immutable',
      async () => {
        api.store.create('resourceclaims', {
          metadata: { name: 'pair', namespace: NS },
          spec: { devices: { requests: [{ name: 'gpu', exactly: { deviceClassName: 'gpu.lockstep.dev' } }] } },
        });
        // defaulting as upstream: ExactCount, one device
        expect(api.store.get('resourceclaims', 'pair', NS)?.spec).toEqual({
          devices: {
            requests: [
              { name: 'gpu', exactly: { deviceClassName: 'gpu.lockstep.dev', allocationMode: 'ExactCount', count: 1 } },
            ],
          },
        });
        const writeStatus = async (status: unknown) =>
          clientName === 'python-kubernetes'
            ? python.check<{ error: { status: number; message: string } | null }>(
                'claim-status',
                NS,
                'pair',
                python.writeJson('status.json', status),
              )
            : failure(
                node.config
                  .makeApiClient(k8s.ResourceV1Api)
                  .patchNamespacedResourceClaimStatus(
                    { namespace: NS, name: 'pair', body: { status } },
                    k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
                  ),
              );
        const consumer = { resource: 'pods', name: 'p', uid: 'u-1' };
        const allocation = (request: string, device: string) => ({
          devices: { results: [{ request, driver: 'lockstep.dev', pool: 'node-a', device }] },
        });
        const invalid = (message: string) => ({ error: expect.objectContaining({ status: 422, message }) });
        expect(await writeStatus({ reservedFor: [consumer] })).toEqual(
          invalid(
            'ResourceClaim.resource.k8s.io "pair" is invalid: status.reservedFor: Forbidden: may not be specified when `allocated` is not set',
          ),
        );
        expect(await writeStatus({ allocation: allocation('cpu', 'gpu-0') })).toEqual(
          invalid(
            `ResourceClaim.resource.k8s.io "pair" is invalid: status.allocation.devices.results[0].request: Invalid value: "cpu": must be the name of a request in the claim or the name of a request and a subrequest separated by '/'`,
          ),
        );
        expect(await writeStatus({ allocation: allocation('gpu', 'gpu-0'), reservedFor: [consumer] })).toEqual({
          error: null,
        });
        const moved = await writeStatus({ allocation: allocation('gpu', 'gpu-1') });
        expect(moved.error?.status).toBe(422);
        expect(moved.error?.message).toMatch(/status\.allocation: Invalid value: .*: field is immutable/);
        // deallocation (allocation and reservedFor removed) is allowed
        expect(await writeStatus({ allocation: null, reservedFor: null })).toEqual({ error: null });
      },
    );
  },
);

/**
 * kubectl's `create <kind>` subcommands send protobuf bodies (the `k8s\0` envelope); each command the READMEs and a
 * user's first session run must work, and store what the command meant.
 */
describe('kubectl create: protobuf bodies', () => {
  let api: ApiServer;
  let kubectl: KubectlClient;
  beforeAll(async () => {
    api = await startApiServer();
    kubectl = new KubectlClient(api.kubeconfigPath, tmpdir());
  });
  afterAll(async () => {
    await kubectl?.close();
    await api?.stop();
  });

  it('namespace, configmap, secret, serviceaccount, token, role(binding), clusterrole(binding), deployment, job, service', async () => {
    const created = [
      ['create', 'namespace', 'team'],
      ['create', 'configmap', 'settings', '-n', 'team', '--from-literal=level=3'],
      ['create', 'secret', 'generic', 'hf-token', '-n', 'team', '--from-literal=token=hf_abc'],
      ['create', 'serviceaccount', 'runner', '-n', 'team'],
      ['create', 'role', 'reader', '-n', 'team', '--verb=get,list', '--resource=pods,configmaps'],
      [
        'create',
        'rolebinding',
        'lockstep-coordinator',
        '-n',
        'team',
        '--clusterrole=view',
        '--serviceaccount=team:runner',
      ],
      ['create', 'clusterrole', 'node-reader', '--verb=get', '--resource=nodes'],
      [
        'create',
        'clusterrolebinding',
        'lockstep-tokenreview-team-runner',
        '--clusterrole=node-reader',
        '--serviceaccount=team:runner',
      ],
      ['create', 'deployment', 'web', '-n', 'team', '--image=nginx:1.27', '--replicas=2', '--port=80'],
      ['create', 'job', 'once', '-n', 'team', '--image=busybox:1.36', '--', 'echo', 'hi'],
      ['create', 'service', 'clusterip', 'web', '-n', 'team', '--tcp=80:8080'],
    ];
    for (const args of created) {
      const r = await kubectl.kubectl(...args);
      expect({ args, code: r.code, stderr: r.stderr }).toEqual({ args, code: 0, stderr: '' });
    }
    const token = (await kubectl.ok('create', 'token', 'runner', '-n', 'team', '--duration=10m')).trim();
    expect(token.split('.')).toHaveLength(3);

    expect(api.store.get('configmaps', 'settings', 'team').data).toEqual({ level: '3' });
    const secret = api.store.get('secrets', 'hf-token', 'team') as { data?: Record<string, string>; type?: string };
    expect(Buffer.from(secret.data?.token ?? '', 'base64').toString()).toBe('hf_abc');
    expect(secret.type).toBe('Opaque');
    expect(api.store.get('roles', 'reader', 'team').rules).toEqual([
      { verbs: ['get', 'list'], apiGroups: [''], resources: ['pods', 'configmaps'] },
    ]);
    const binding = api.store.get('rolebindings', 'lockstep-coordinator', 'team');
    expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'view' });
    expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'runner', namespace: 'team' }]);
    const deployment = api.store.get('deployments', 'web', 'team') as { spec?: Record<string, unknown> };
    expect(deployment.spec).toMatchObject({
      replicas: 2,
      selector: { matchLabels: { app: 'web' } },
      template: { spec: { containers: [{ name: 'nginx', image: 'nginx:1.27', ports: [{ containerPort: 80 }] }] } },
    });
    expect((api.store.get('jobs', 'once', 'team') as { spec?: unknown }).spec).toMatchObject({
      template: { spec: { restartPolicy: 'Never', containers: [{ command: ['echo', 'hi'] }] } },
    });
    expect((api.store.get('services', 'web', 'team') as { spec?: unknown }).spec).toMatchObject({
      ports: [{ port: 80, targetPort: 8080, protocol: 'TCP' }],
    });
    // the bindings grant what they say: the service account may read pods in team
    const canI = await kubectl.kubectl(
      'auth',
      'can-i',
      'list',
      'pods',
      '-n',
      'team',
      '--as',
      'system:serviceaccount:team:runner',
    );
    expect(canI.stdout.trim()).toBe('yes');
  }, 60_000);
});

/** Server-side printing: `kubectl get` shows the columns the real server's printers define. */
describe('kubectl get: printer columns as the real server', () => {
  let api: ApiServer;
  let kubectl: KubectlClient;
  beforeAll(async () => {
    api = await startApiServer({ namespaces: ['ml'] });
    kubectl = new KubectlClient(api.kubeconfigPath, tmpdir());
    api.store.create('deviceclasses', { metadata: { name: 'gpu.lockstep.dev' }, spec: {} });
    const now = Date.now();
    // an event as the kubelet writes it through events.k8s.io/v1: a series seen 3 times
    api.store.create('events.events.k8s.io', {
      metadata: { name: 'leader-0.1', namespace: 'ml' },
      eventTime: `${new Date(now - 600_000).toISOString().slice(0, 23)}000Z`,
      series: { count: 3, lastObservedTime: `${new Date(now - 60_000).toISOString().slice(0, 23)}000Z` },
      reportingController: 'kubelet',
      reportingInstance: 'node-a',
      action: 'Pulling',
      reason: 'BackOff',
      type: 'Warning',
      regarding: { kind: 'Pod', namespace: 'ml', name: 'leader-0', fieldPath: 'spec.containers{engine}' },
      note: 'Back-off restarting failed container',
    });
  });
  afterAll(async () => {
    await kubectl?.close();
    await api?.stop();
  });

  it('deviceclasses: NAME and AGE (not the CRD default CREATED AT)', async () => {
    const lines = (await kubectl.ok('get', 'deviceclasses')).trim().split('\n');
    expect(lines[0].split(/\s+/)).toEqual(['NAME', 'AGE']);
    expect(lines[1]).toMatch(/^gpu\.lockstep\.dev\s+\d+s$/);
  });

  it('events.k8s.io events: LAST SEEN (xN over M), TYPE, REASON, OBJECT, MESSAGE; -o wide adds the rest', async () => {
    const lines = (await kubectl.ok('get', 'events.events.k8s.io', '-n', 'ml')).trim().split('\n');
    expect(lines[0].split(/\s{2,}/)).toEqual(['LAST SEEN', 'TYPE', 'REASON', 'OBJECT', 'MESSAGE']);
    expect(lines[1]).toMatch(
      /^\d+s \(x3 over \d+m\)\s+Warning\s+BackOff\s+pod\/leader-0\s+Back-off restarting failed container$/,
    );
    const wide = (await kubectl.ok('get', 'events.events.k8s.io', '-n', 'ml', '-o', 'wide')).trim().split('\n');
    expect(wide[0].split(/\s{2,}/)).toEqual([
      'LAST SEEN',
      'TYPE',
      'REASON',
      'OBJECT',
      'SUBOBJECT',
      'SOURCE',
      'MESSAGE',
      'FIRST SEEN',
      'COUNT',
      'NAME',
    ]);
    expect(wide[1]).toContain('spec.containers{engine}');
    expect(wide[1]).toContain('kubelet, node-a');
    expect(wide[1]).toMatch(/\s3\s+leader-0\.1$/);
  });
});

/** kubectl reads /openapi/v2 (protobuf) before it validates a `List` or a file for `replace`. */
describe('kubectl apply of a List, kubectl replace: /openapi/v2', () => {
  let api: ApiServer;
  let kubectl: KubectlClient;
  let dir: string;
  beforeAll(async () => {
    api = await startApiServer({ namespaces: ['ml'] });
    dir = mkdtempSync(join(tmpdir(), 'conformance-'));
    kubectl = new KubectlClient(api.kubeconfigPath, dir);
  });
  afterAll(async () => {
    await kubectl?.close();
    await api?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('a List applies item by item; a replaced object keeps what the file says', async () => {
    const item = (name: string, value: string) => ({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name, namespace: 'ml' },
      data: { k: value },
    });
    const list = join(dir, 'list.json');
    writeFileSync(list, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [item('a', '1'), item('b', '1')] }));
    expect((await kubectl.ok('apply', '-f', list)).trim().split('\n')).toEqual([
      'configmap/a created',
      'configmap/b created',
    ]);
    const live = JSON.parse(await kubectl.ok('get', 'configmap', 'a', '-n', 'ml', '-o', 'json')) as {
      data: Record<string, string>;
    };
    const replaced = join(dir, 'a.json');
    writeFileSync(replaced, JSON.stringify({ ...live, data: { k: '2' } }));
    expect((await kubectl.ok('replace', '-f', replaced)).trim()).toBe('configmap/a replaced');
    expect(api.store.get('configmaps', 'a', 'ml').data).toEqual({ k: '2' });
  });
});
