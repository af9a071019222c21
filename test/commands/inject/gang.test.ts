/**
 * `lockstep inject` (bundled) asks the cluster whether it serves scheduling.k8s.io PodGroups and gangs the group
 * when it does, in the shape of the release: the test API server emulates 1.35, 1.36 and 1.37 (GenericWorkload at
 * v1alpha1 / v1alpha2 / v1beta1), and one without the gate. The output is applied to the server it came from.
 */
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { type ApiServer, startApiServer, type WorkloadApiVersion } from '../../cluster/apiserver/index.js';
import { bundlePath } from '../../support/build.js';
import { REPO_ROOT } from '../../support/paths.js';

const STS = join(REPO_ROOT, 'test', 'inject', 'fixtures', 'statefulset-torchrun.yaml');
const servers = new Map<string, ApiServer>();

beforeAll(async () => {
  const gates: [string, WorkloadApiVersion | false][] = [
    ['1.35', 'v1alpha1'],
    ['1.36', 'v1alpha2'],
    ['1.37', 'v1beta1'],
    ['none', false],
  ];
  for (const [release, version] of gates) {
    servers.set(release, await startApiServer({ featureGates: { GenericWorkload: version } }));
  }
}, 60_000);

afterAll(async () => {
  for (const s of servers.values()) await s.stop();
});

/** Async: the API server runs in this process. */
async function inject(args: string[], env: NodeJS.ProcessEnv = {}) {
  const r = await execa(process.execPath, ['--', bundlePath('lockstep'), 'inject', '-f', STS, ...args], {
    env: { PATH: process.env.PATH, HOME: '/nonexistent', ...env },
    extendEnv: false,
    reject: false,
    timeout: 60_000,
  });
  return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

const kinds = (text: string) => parseAllDocuments(text).map((d) => (d.toJS() as { kind: string }).kind);

describe('lockstep inject: gang scheduling by discovery', () => {
  it.each([
    ['1.36', 'PodGroup', 'scheduling.k8s.io/v1alpha2', 'schedulingGroup'],
    ['1.37', 'PodGroup', 'scheduling.k8s.io/v1beta1', 'schedulingGroup'],
    ['1.35', 'Workload', 'scheduling.k8s.io/v1alpha1', 'workloadRef'],
  ])(
    'a %s cluster gets a %s (%s) and pods with %s; the server takes the output',
    async (release, kind, apiVersion, field) => {
      const api = servers.get(release)!;
      const r = await inject(['--kubeconfig', api.kubeconfigPath, '--explain']);
      expect(r.code).toBe(0);
      expect(kinds(r.stdout)).toEqual(['Service', 'StatefulSet', kind]);
      expect(r.stdout).toContain(`apiVersion: ${apiVersion}\nkind: ${kind}\n`);
      expect(r.stderr).toContain(`StatefulSet/ddp: pods join ${kind} ddp (spec.${field}`);
      const applied = api.store.apply(r.stdout);
      expect(applied.applied).toHaveLength(3);
      const sts = api.store.get('statefulsets', 'ddp', 'default') as unknown as {
        spec: { template: { spec: object } };
      };
      expect(sts.spec.template.spec).toHaveProperty(field);
      expect(api.store.get(kind === 'PodGroup' ? 'podgroups' : 'workloads', 'ddp', 'default')).toBeDefined();
    },
  );

  it('a cluster without the API: nothing changes for gangs, --explain says why, --gang also warns', async () => {
    const api = servers.get('none')!;
    const plain = await inject(['--kubeconfig', api.kubeconfigPath, '--explain']);
    expect(plain.code).toBe(0);
    expect(kinds(plain.stdout)).toEqual(['Service', 'StatefulSet']);
    expect(plain.stdout).not.toContain('schedulingGroup');
    const note =
      'StatefulSet/ddp: no gang scheduling: the cluster does not serve scheduling.k8s.io PodGroups (Kubernetes 1.35+ with the GenericWorkload feature gate): pods are scheduled one by one, as before';
    expect(plain.stderr).toContain(`note: ${note}`);
    const asked = await inject(['--kubeconfig', api.kubeconfigPath, '--gang']);
    expect(asked.stderr).toMatch(/^warning: --gang: the cluster does not serve scheduling\.k8s\.io PodGroups/);
    expect(asked.stdout).toBe(plain.stdout);
  });

  it('no cluster to ask: no gang, and the note says to pass --gang-api-version; with it, the PodGroup is written', async () => {
    const none = await inject(['--explain'], { KUBECONFIG: '' });
    expect(none.code).toBe(0);
    expect(none.stderr).toMatch(
      /note: StatefulSet\/ddp: no gang scheduling: no cluster to ask whether it serves PodGroups \(no Kubernetes configuration.*\); pass --gang-api-version to write them anyway/,
    );
    const offline = await inject(['--gang-api-version', 'v1beta1']);
    expect(offline.stderr).toBe('');
    expect(kinds(offline.stdout)).toEqual(['Service', 'StatefulSet', 'PodGroup']);
    const bad = await inject(['--gang-api-version', 'v2']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error: .*--gang-api-version.*v2/);
  });

  it('--no-gang wins over a cluster that serves PodGroups', async () => {
    const r = await inject(['--kubeconfig', servers.get('1.36')!.kubeconfigPath, '--no-gang']);
    expect(kinds(r.stdout)).toEqual(['Service', 'StatefulSet']);
  });
});
