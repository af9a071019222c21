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
