import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { type ApiServer, startApiServer } from './index.js';

const run = promisify(execFile);

describe('real kubectl against the API server double', () => {
  let api: ApiServer;
  let dir: string;
  const kubectl = async (...args: string[]) => {
    try {
      const { stdout, stderr } = await run('kubectl', ['--kubeconfig', api.kubeconfigPath, ...args], {
        timeout: 20_000,
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };

  beforeAll(async () => {
    api = await startApiServer();
    dir = join(api.kubeconfigPath, '..');
    api.store.create('nodes', {
      metadata: { name: 'node-a' },
      status: { conditions: [{ type: 'Ready', status: 'True' }] },
    });
    api.store.create('namespaces', { metadata: { name: 'ml' } });
    api.store.create('pods', {
      metadata: { name: 'leader-0', namespace: 'ml' },
      spec: { containers: [{ name: 'c', image: 'i' }] },
    });
    api.store.create('resourceslices', {
      metadata: { name: 'node-a-lockstep.dev-abcde' },
      spec: {
        driver: 'lockstep.dev',
        nodeName: 'node-a',
        pool: { name: 'node-a', generation: 1, resourceSliceCount: 1 },
        devices: [{ name: 'gpu-0', attributes: { type: { string: 'gpu' } }, capacity: { memory: { value: '80Gi' } } }],
      },
    });
  });
  afterAll(() => api.stop());

  it('get nodes,pods -A prints server-side tables', async () => {
    const r = await kubectl('get', 'nodes,pods', '-A');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/NAME\s+STATUS\s+ROLES\s+AGE\s+VERSION/);
    expect(r.stdout).toMatch(/NAMESPACE\s+NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE/);
    expect(r.stdout).toMatch(/node\/node-a\s+Ready/);
    expect(r.stdout).toMatch(/ml\s+pod\/leader-0\s+0\/1\s+Pending\s+0/);
  });

  it('get resourceslices -o yaml returns the stored slice', async () => {
    const r = await kubectl('get', 'resourceslices', '-o', 'yaml');
    expect(r.code).toBe(0);
    const list = parse(r.stdout) as {
      items: { kind: string; spec: { devices: { name: string }[]; nodeName: string } }[];
    };
    expect(list.items).toHaveLength(1);
    expect(list.items[0].kind).toBe('ResourceSlice');
    expect(list.items[0].spec.nodeName).toBe('node-a');
    expect(list.items[0].spec.devices[0].name).toBe('gpu-0');
  });

  it('apply -f creates, then configures with a strategic merge patch; the server rejects an invalid slice', async () => {
    const file = join(dir, 'cm.yaml');
    const manifest = (value: string) =>
      `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: ml\ndata:\n  level: "${value}"\n`;
    writeFileSync(file, manifest('1'));
    expect((await kubectl('apply', '-f', file)).stdout).toContain('configmap/settings created');
    writeFileSync(file, manifest('2'));
    const second = await kubectl('apply', '-f', file);
    expect(second.stdout).toContain('configmap/settings configured');
    expect(second.stderr).toBe('');
    const cm = api.store.get('configmaps', 'settings', 'ml');
    expect(cm.data).toEqual({ level: '2' });
    expect(cm.metadata.annotations?.['kubectl.kubernetes.io/last-applied-configuration']).toContain('"level":"2"');
    expect(api.counters.total({ verb: 'patch', resource: 'configmaps' })).toBe(1);

    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      'apiVersion: resource.k8s.io/v1\nkind: ResourceSlice\nmetadata:\n  name: bad\nspec:\n  driver: lockstep.dev\n  nodeName: node-a\n  pool: {name: node-a, generation: 1, resourceSliceCount: 1}\n  devices:\n  - name: GPU_0\n',
    );
    const rejected = await kubectl('apply', '-f', bad);
    expect(rejected.code).toBe(1);
    expect(rejected.stderr).toContain('The ResourceSlice "bad" is invalid');
    expect(rejected.stderr).toContain('spec.devices[0].name: Invalid value: "GPU_0"');
  });

  it('refuses updates to immutable workload fields as the API server does; mutable ones pass', async () => {
    const sts = (policy: string, replicas: number) =>
      `apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: web\n  namespace: ml\nspec:\n  replicas: ${replicas}\n  serviceName: web\n  podManagementPolicy: ${policy}\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: c, image: i}]}\n`;
    const job = (image: string, completions: number, parallelism: number) =>
      `apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: train\n  namespace: ml\nspec:\n  completionMode: Indexed\n  completions: ${completions}\n  parallelism: ${parallelism}\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: c, image: ${image}}]\n`;
    const file = join(dir, 'workload.yaml');
    const apply = async (text: string) => {
      writeFileSync(file, text);
      return kubectl('apply', '-f', file);
    };
    expect((await apply(sts('OrderedReady', 2))).code).toBe(0);
    expect((await apply(sts('OrderedReady', 3))).stdout).toContain('statefulset.apps/web configured');
    const policy = await apply(sts('Parallel', 3));
    expect(policy.code).toBe(1);
    expect(policy.stderr).toContain(
      'The StatefulSet "web" is invalid: spec: Forbidden: updates to statefulset spec for fields other than',
    );
    expect(api.store.get('statefulsets', 'web', 'ml').spec).toMatchObject({ podManagementPolicy: 'OrderedReady' });

    expect((await apply(job('i', 2, 2))).code).toBe(0);
    const template = await apply(job('j', 2, 2));
    expect(template.code).toBe(1);
    expect(template.stderr).toContain('spec.template: Invalid value');
    expect(template.stderr).toContain('field is immutable');
    // an elastic indexed Job changes completions and parallelism together
    expect((await apply(job('i', 3, 3))).code).toBe(0);
    const completions = await apply(job('i', 4, 3));
    expect(completions.code).toBe(1);
    expect(completions.stderr).toContain('spec.completions: Invalid value: 4: field is immutable');
  });

  it('refuses the immutable StatefulSet change through replace, every patch type and server-side apply', async () => {
    const sts = (policy: string, replicas: number) =>
      `apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: db\n  namespace: ml\nspec:\n  replicas: ${replicas}\n  serviceName: db\n  podManagementPolicy: ${policy}\n  selector: {matchLabels: {app: db}}\n  template:\n    metadata: {labels: {app: db}}\n    spec: {containers: [{name: c, image: i}]}\n`;
    const file = join(dir, 'db.yaml');
    const withFile = (text: string) => {
      writeFileSync(file, text);
      return file;
    };
    expect((await kubectl('create', '-f', withFile(sts('OrderedReady', 1)))).code).toBe(0);
    const forbidden =
      "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden";
    const attempts: [string, string[]][] = [
      ['replace', ['replace', '-f', withFile(sts('Parallel', 1))]],
      [
        'strategic patch',
        ['patch', 'statefulset', 'db', '-n', 'ml', '-p', '{"spec":{"podManagementPolicy":"Parallel"}}'],
      ],
      [
        'merge patch',
        ['patch', 'statefulset', 'db', '-n', 'ml', '--type=merge', '-p', '{"spec":{"serviceName":"other"}}'],
      ],
      [
        'JSON patch',
        [
          'patch',
          'statefulset',
          'db',
          '-n',
          'ml',
          '--type=json',
          '-p',
          '[{"op":"replace","path":"/spec/selector/matchLabels/app","value":"x"}]',
        ],
      ],
    ];
    for (const [what, args] of attempts) {
      const r = await kubectl(...args);
      expect(r.code, what).toBe(1);
      expect(r.stderr, what).toContain(`The StatefulSet "db" is invalid: ${forbidden}`);
    }
    const ssa = await kubectl('apply', '--server-side', '--force-conflicts', '-f', withFile(sts('Parallel', 1)));
    expect(ssa.code).toBe(1);
    expect(ssa.stderr).toContain(forbidden);
    expect(api.store.get('statefulsets', 'db', 'ml').spec).toMatchObject({
      podManagementPolicy: 'OrderedReady',
      serviceName: 'db',
      selector: { matchLabels: { app: 'db' } },
    });
    // the mutable fields still change through each path
    expect((await kubectl('patch', 'statefulset', 'db', '-n', 'ml', '-p', '{"spec":{"replicas":2}}')).code).toBe(0);
    expect((await kubectl('replace', '-f', withFile(sts('OrderedReady', 3)))).code).toBe(0);
    expect(
      (await kubectl('apply', '--server-side', '--force-conflicts', '-f', withFile(sts('OrderedReady', 4)))).code,
    ).toBe(0);
    expect(api.store.get('statefulsets', 'db', 'ml').spec).toMatchObject({ replicas: 4 });
  });

  it('get -w sees an event, and delete removes the object', async () => {
    const watcher = execFile('kubectl', [
      '--kubeconfig',
      api.kubeconfigPath,
      'get',
      'pods',
      '-n',
      'ml',
      '-w',
      '--output-watch-events',
    ]);
    let out = '';
    watcher.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
    });
    await expect.poll(() => out, { timeout: 10_000 }).toContain('leader-0');
    const del = await kubectl('delete', 'pod', 'leader-0', '-n', 'ml');
    expect(del.stdout).toContain('pod "leader-0" deleted');
    await expect.poll(() => out, { timeout: 10_000 }).toMatch(/DELETED\s+leader-0/);
    watcher.kill();
    expect(api.store.find('pods', 'leader-0', 'ml')).toBeUndefined();
  });

  it('a user without RBAC is forbidden with the real message', async () => {
    const path = api.kubeconfigFor('alice');
    const { stderr } = await run('kubectl', ['--kubeconfig', path, 'get', 'pods', '-n', 'ml']).catch(
      (e: { stderr: string }) => e,
    );
    expect(stderr).toContain(
      'Error from server (Forbidden): pods is forbidden: User "alice" cannot list resource "pods" in API group "" in the namespace "ml"',
    );
  });
});
