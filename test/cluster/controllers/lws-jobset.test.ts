/**
 * The LeaderWorkerSet and JobSet controllers-lite: the pods, labels, env, hostnames, Services and restarts the real
 * controllers make (read from sigs.k8s.io/lws and sigs.k8s.io/jobset), and the JobSet schema, checked through the
 * API with the real kubectl where users would use it. The LeaderWorkerSet tests need the LWS CRD from ../shared/k8s.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { groupOfPod } from '../../../src/contract/group-identity.js';
import { PODS, resourcePath } from '../../../src/kube/resources.js';
import type { Pod } from '../../../src/kube/types.js';
import { itRecorded } from '../../support/recorded.js';
import { startTestCluster, type TestCluster } from '../index.js';
import { SERVICES } from './dns.js';
import { JOBS } from './job.js';
import { JOBSETS } from './jobset.js';

const run = promisify(execFile);
const NS = 'controllers-test';
const SLEEP = { name: 'main', image: 'busybox', command: ['/bin/sh', '-c', 'exec sleep 600'] };

async function until<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

type Env = { name: string; value?: string };
const envOf = (pod: Pod) =>
  Object.fromEntries(
    (((pod.spec as { containers: { env?: Env[] }[] }).containers[0]?.env ?? []) as Env[]).map((e) => [
      e.name,
      e.value ?? '(ref)',
    ]),
  );

describe('LeaderWorkerSet and JobSet controllers-lite', () => {
  let cluster: TestCluster;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'controllers-test-'));
    cluster = await startTestCluster({
      apiServer: { namespaces: [NS] },
      workloads: { nodes: [{ name: 'node-a', kind: 'cpu-vm' }], dir },
    });
    cluster.apiServer.store.apply([
      { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default', namespace: NS } },
    ]);
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const kubectl = async (args: string[], input?: string) => {
    const file = join(dir, `in-${Math.random().toString(36).slice(2)}.yaml`);
    if (input !== undefined) await writeFile(file, input);
    return run('kubectl', ['--kubeconfig', cluster.kubeconfigPath, ...args, ...(input ? ['-f', file] : [])]).then(
      (r) => ({ ok: true, out: r.stdout }),
      (e: { stderr?: string }) => ({ ok: false, out: e.stderr ?? '' }),
    );
  };
  const pods = async (selector: string) =>
    (
      await cluster.workloads!.client.get<{ items: Pod[] }>(resourcePath(PODS, { namespace: NS }), {
        labelSelector: selector,
      })
    ).items.sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));

  const lws = (name: string, restartPolicy: string) => ({
    apiVersion: 'leaderworkerset.x-k8s.io/v1',
    kind: 'LeaderWorkerSet',
    metadata: { name, namespace: NS },
    spec: {
      replicas: 3,
      leaderWorkerTemplate: {
        size: 2,
        restartPolicy,
        leaderTemplate: { metadata: { labels: { role: 'leader' } }, spec: { containers: [SLEEP] } },
        workerTemplate: {
          metadata: { labels: { role: 'worker' } },
          spec: {
            containers: [
              {
                ...SLEEP,
                env: [
                  { name: 'LWS_GROUP_SIZE', value: 'mine' },
                  { name: 'KEEP', value: 'me' },
                ],
              },
            ],
          },
        },
      },
    },
  });

  itRecorded(
    'an LWS with replicas 3 and size 2 makes 3 groups: leader <lws>-<g>, worker <lws>-<g>-1, with the LWS labels and env',
    async () => {
      cluster.apiServer.store.apply([lws('serve', 'RecreateGroupOnPodRestart')]);
      const all = await until('6 pods', async () => {
        const list = await pods('leaderworkerset.sigs.k8s.io/name=serve');
        return list.length === 6 ? list : undefined;
      });
      expect(all.map((p) => p.metadata.name)).toEqual([
        'serve-0',
        'serve-0-1',
        'serve-1',
        'serve-1-1',
        'serve-2',
        'serve-2-1',
      ]);
      const worker = all.find((p) => p.metadata.name === 'serve-1-1')!;
      expect(worker.metadata.labels).toMatchObject({
        role: 'worker',
        'leaderworkerset.sigs.k8s.io/name': 'serve',
        'leaderworkerset.sigs.k8s.io/group-index': '1',
        'leaderworkerset.sigs.k8s.io/worker-index': '1',
        'leaderworkerset.sigs.k8s.io/group-key': all.find((p) => p.metadata.name === 'serve-1')!.metadata.labels?.[
          'leaderworkerset.sigs.k8s.io/group-key'
        ],
      });
      expect(worker.metadata.annotations).toMatchObject({
        'leaderworkerset.sigs.k8s.io/size': '2',
        'leaderworkerset.sigs.k8s.io/leader-name': 'serve-1',
      });
      expect(worker.spec).toMatchObject({ hostname: 'serve-1-1', subdomain: 'serve' });
      // the LWS variables come first and replace the user's own LWS_GROUP_SIZE, as AddLWSVariables does
      expect(envOf(worker)).toEqual({
        LWS_LEADER_ADDRESS: `serve-1.serve.${NS}`,
        LWS_GROUP_SIZE: '2',
        LWS_WORKER_INDEX: '1',
        KEEP: 'me',
      });
      expect(all.map((p) => groupOfPod(p))).toEqual(['serve-0', 'serve-0', 'serve-1', 'serve-1', 'serve-2', 'serve-2']);
      const service = await cluster.workloads!.client.get<{ spec: Record<string, unknown> }>(
        resourcePath(SERVICES, { namespace: NS, name: 'serve' }),
      );
      expect(service.spec).toMatchObject({
        clusterIP: 'None',
        selector: { 'leaderworkerset.sigs.k8s.io/name': 'serve' },
        publishNotReadyAddresses: true,
      });
    },
    { needs: 'k8s', timeout: 60_000 },
  );

  itRecorded(
    'RecreateGroupOnPodRestart: a lost worker recreates its whole group, and only that group',
    async () => {
      const before = await pods('leaderworkerset.sigs.k8s.io/name=serve');
      const uid = (name: string) => before.find((p) => p.metadata.name === name)?.metadata.uid;
      await cluster.workloads!.client.delete(resourcePath(PODS, { namespace: NS, name: 'serve-1-1' }));
      const after = await until('group 1 recreated', async () => {
        const list = await pods('leaderworkerset.sigs.k8s.io/name=serve');
        const leader = list.find((p) => p.metadata.name === 'serve-1');
        const worker = list.find((p) => p.metadata.name === 'serve-1-1');
        return leader && worker && leader.metadata.uid !== uid('serve-1') && list.length === 6 ? list : undefined;
      });
      const uidAfter = (name: string) => after.find((p) => p.metadata.name === name)?.metadata.uid;
      expect(uidAfter('serve-0')).toBe(uid('serve-0'));
      expect(uidAfter('serve-2-1')).toBe(uid('serve-2-1'));
    },
    { needs: 'k8s', timeout: 60_000 },
  );

  itRecorded(
    'restartPolicy None: a lost worker comes back alone, under its name',
    async () => {
      cluster.apiServer.store.apply([{ ...lws('alone', 'None'), spec: { ...lws('alone', 'None').spec, replicas: 1 } }]);
      const before = await until('2 pods', async () => {
        const list = await pods('leaderworkerset.sigs.k8s.io/name=alone');
        return list.length === 2 ? list : undefined;
      });
      await cluster.workloads!.client.delete(resourcePath(PODS, { namespace: NS, name: 'alone-0-1' }));
      const after = await until('the worker again', async () => {
        const list = await pods('leaderworkerset.sigs.k8s.io/name=alone');
        const worker = list.find((p) => p.metadata.name === 'alone-0-1');
        return worker && worker.metadata.uid !== before[1]?.metadata.uid ? list : undefined;
      });
      expect(after[0]?.metadata.uid).toBe(before[0]?.metadata.uid);
    },
    { needs: 'k8s', timeout: 60_000 },
  );

  const jobSet = (name: string) => `
apiVersion: jobset.x-k8s.io/v1alpha2
kind: JobSet
metadata:
  name: ${name}
  namespace: ${NS}
spec:
  replicatedJobs:
    - name: driver
      replicas: 2
      template:
        spec:
          parallelism: 2
          completions: 2
          template:
            spec:
              containers: [{ name: main, image: busybox, command: [/bin/sh, -c, exec sleep 600] }]
    - name: workers
      replicas: 2
      template:
        spec:
          parallelism: 2
          completions: 2
          template:
            spec:
              containers: [{ name: main, image: busybox, command: [/bin/sh, -c, exec sleep 600] }]
`;

  it('a JobSet with 2 replicated jobs × 2 replicas makes 4 Jobs of 2 indexed pods each, a headless Service, 4 groups', async () => {
    const applied = await kubectl(['apply'], jobSet('train'));
    expect(applied.out).toContain('jobset.jobset.x-k8s.io/train created');
    const all = await until('8 pods', async () => {
      const list = await pods('jobset.sigs.k8s.io/jobset-name=train');
      return list.length === 8 ? list : undefined;
    });
    const jobs = await cluster.workloads!.client.get<{ items: { metadata: { name: string } }[] }>(
      resourcePath(JOBS, { namespace: NS }),
      { labelSelector: 'jobset.sigs.k8s.io/jobset-name=train' },
    );
    expect(jobs.items.map((j) => j.metadata.name).sort()).toEqual([
      'train-driver-0',
      'train-driver-1',
      'train-workers-0',
      'train-workers-1',
    ]);
    const pod = all.find(
      (p) =>
        p.metadata.labels?.['batch.kubernetes.io/job-name'] === 'train-workers-1' &&
        p.metadata.labels?.['batch.kubernetes.io/job-completion-index'] === '1',
    )!;
    expect(pod.metadata.name).toMatch(/^train-workers-1-1-[a-z0-9]{5}$/);
    expect(pod.metadata.labels).toMatchObject({
      'jobset.sigs.k8s.io/jobset-name': 'train',
      'jobset.sigs.k8s.io/replicatedjob-name': 'workers',
      'jobset.sigs.k8s.io/job-index': '1',
      'jobset.sigs.k8s.io/job-global-index': '3',
      'jobset.sigs.k8s.io/replicatedjob-replicas': '2',
      'jobset.sigs.k8s.io/restart-attempt': '0',
    });
    expect(pod.metadata.annotations?.['batch.kubernetes.io/job-completion-index']).toBe('1');
    expect(pod.spec).toMatchObject({ hostname: 'train-workers-1-1', subdomain: 'train', restartPolicy: 'OnFailure' });
    expect(envOf(pod)).toMatchObject({ JOB_COMPLETION_INDEX: '(ref)' });
    expect([...new Set(all.map((p) => groupOfPod(p)))].sort()).toEqual([
      'train-driver-0',
      'train-driver-1',
      'train-workers-0',
      'train-workers-1',
    ]);
    const service = await cluster.workloads!.client.get<{ spec: Record<string, unknown> }>(
      resourcePath(SERVICES, { namespace: NS, name: 'train' }),
    );
    expect(service.spec).toMatchObject({ clusterIP: 'None', selector: { 'jobset.sigs.k8s.io/jobset-name': 'train' } });
    // the schema's defaults are stored
    const stored = await cluster.workloads!.client.get<{ spec: { replicatedJobs: { groupName: string }[] } }>(
      resourcePath(JOBSETS, { namespace: NS, name: 'train' }),
    );
    expect(stored.spec.replicatedJobs.map((r) => r.groupName)).toEqual(['default', 'default']);
  }, 60_000);

  it('refuses a JobSet the schema rejects, naming the field', async () => {
    const bad = jobSet('bad')
      .replace('    - name: driver\n', '    - replicas: 2\n')
      .replace('      replicas: 2\n      template', '      template');
    const result = await kubectl(['apply'], bad);
    expect(result.ok).toBe(false);
    expect(result.out).toMatch(/replicatedJobs\[0\]\.name: Required value/);
  }, 30_000);
});
