/**
 * A corpus shape end to end: the LWS vLLM-on-Ray shape (test/fixtures/workloads/lws-vllm-ray.yaml: `sh -c` scripts
 * reading $(LWS_GROUP_SIZE) and $(LWS_LEADER_ADDRESS)) with `replicas: 2`, injected by the real `lockstep inject`,
 * its scripts mapped to a real torch.distributed stand-in (gloo all-reduce in Debian's python3), applied with the real
 * kubectl to the test cluster, whose LeaderWorkerSet controller-lite makes the pods. Each replica forms its own
 * group; a member's engine killed in one group restarts that group in place (same pods, next epoch) and leaves the
 * other alone; `kubectl lockstep groups` shows both. Needs the LWS CRD from ../shared/k8s.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { PODS, resourcePath } from '../../src/kube/resources.js';
import type { Pod } from '../../src/kube/types.js';
import { markedProcesses } from '../cluster/pods/runner.js';
import { bundlePath } from '../support/build.js';
import { describeRecorded } from '../support/recorded.js';
import { useCorpusCluster } from './corpus-cluster.js';
import { ALLREDUCE_PY, REPO_ROOT } from './manifests.js';
import { until } from './story.js';

const NS = 'corpus';
const LWS = 'vllm-ray';
const SA = 'vllm-ray';

type Container = { name: string; command?: string[]; volumeMounts?: { name: string; mountPath: string }[] };
type Template = {
  spec: {
    containers: Container[];
    volumes?: unknown[];
    serviceAccountName?: string;
    terminationGracePeriodSeconds?: number;
  };
};

/**
 * What the scripts run instead of Ray and vLLM. The test cluster's pods share one network namespace and torch's store
 * listens on every address, so each replica's stand-in offsets the group's MASTER_PORT by its replica index (read
 * from LWS_LEADER_ADDRESS, `<lws>-<index>.<subdomain>.<ns>`), as two groups on two real hosts would not need to.
 */
const STAND_IN = [
  'leader=$' + '{LWS_LEADER_ADDRESS%%.*}',
  'export MASTER_PORT=$((MASTER_PORT + $' + '{leader##*-}))',
  'exec python3 /opt/demo/allreduce.py',
].join('; ');

/** The injected LWS with each `sh -c` script (after `lockstep run … --`) replaced by the torch stand-in. */
function workload(): string {
  const plain = readFileSync(join(REPO_ROOT, 'test/fixtures/workloads/lws-vllm-ray.yaml'), 'utf8');
  const injected = spawnSync(process.execPath, [bundlePath('lockstep'), 'inject', '-f', '-'], {
    input: plain,
    encoding: 'utf8',
  });
  if (injected.status !== 0) throw new Error(`lockstep inject failed: ${injected.stderr}`);
  const [lws] = parseAllDocuments(injected.stdout).map((d) => d.toJS() as Record<string, unknown>);
  const lwt = (lws as { spec: { leaderWorkerTemplate: Record<string, Template> } }).spec.leaderWorkerTemplate;
  for (const role of ['leaderTemplate', 'workerTemplate']) {
    const spec = lwt[role]!.spec;
    const main = spec.containers[0]!;
    const dashdash = main.command!.indexOf('--');
    // the user's script stays a shell script; only what it runs is the stand-in
    main.command = [...main.command!.slice(0, dashdash + 1), 'sh', '-c', STAND_IN];
    main.volumeMounts = [...(main.volumeMounts ?? []), { name: 'demo', mountPath: '/opt/demo' }];
    spec.volumes = [...(spec.volumes ?? []), { name: 'demo', configMap: { name: 'allreduce' } }];
    spec.serviceAccountName = SA;
    spec.terminationGracePeriodSeconds = 5;
  }
  const rbac = [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: SA, namespace: NS } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: `${SA}-lockstep-coordinator`, namespace: NS },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'lockstep-coordinator' },
      subjects: [{ kind: 'ServiceAccount', name: SA, namespace: NS }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `${SA}-lockstep-tokenreview` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'lockstep-tokenreview' },
      subjects: [{ kind: 'ServiceAccount', name: SA, namespace: NS }],
    },
    {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'allreduce', namespace: NS },
      data: { 'allreduce.py': ALLREDUCE_PY },
    },
  ];
  return [...rbac, { ...lws, metadata: { ...(lws!.metadata as object), namespace: NS } }]
    .map((d) => stringify(d))
    .join('---\n');
}

describeRecorded(
  'a corpus shape end to end: LWS vLLM-on-Ray, replicas 2',
  () => {
    const e2e = useCorpusCluster('corpus-e2e-', [NS]);
    const kubectl = e2e.kubectl;
    const pod = (name: string) => e2e.cluster.workloads!.client.get<Pod>(resourcePath(PODS, { namespace: NS, name }));
    const engineLog = async (name: string) => {
      const logs = e2e.cluster.workloads!.node('node-a').runner.logsDir((await pod(name)).metadata.uid ?? '');
      return logs
        ? readFile(join(logs, 'vllm-leader.log'), 'utf8').catch(() => readFile(join(logs, 'vllm-worker.log'), 'utf8'))
        : '';
    };
    const PODS_OF = { [`${LWS}-0`]: [`${LWS}-0`, `${LWS}-0-1`], [`${LWS}-1`]: [`${LWS}-1`, `${LWS}-1-1`] };
    const allReduced = (epoch: number, names: string[]) =>
      until(
        `${names.join(', ')} to all-reduce in epoch ${epoch}`,
        async () => {
          const logs = await Promise.all(names.map(engineLog));
          return logs.every((l) => new RegExp(`^allreduce epoch=${epoch} rank=\\d/2 step=\\d+ sum=3$`, 'm').test(l))
            ? logs
            : undefined;
        },
        150_000,
        500,
      );

    it('inject → kubectl apply → one group per replica, each all-reducing in its own epoch 1', async () => {
      const file = join(e2e.dir, 'lws.yaml');
      writeFileSync(file, workload());
      const applied = await kubectl(['apply', '-f', file]);
      expect(applied.stdout).toContain(`leaderworkerset.leaderworkerset.x-k8s.io/${LWS} created`);
      await allReduced(1, PODS_OF[`${LWS}-0`]!);
      await allReduced(1, PODS_OF[`${LWS}-1`]!);
      const groups = await until(
        'kubectl lockstep groups to show both groups Running',
        async () => {
          const { stdout } = await kubectl(['lockstep', 'groups', '-n', NS, '-o', 'json']);
          const items = (
            JSON.parse(stdout) as { items: { name: string; size: number; state: string; leader?: string }[] }
          ).items;
          return items.length === 2 && items.every((g) => g.state === 'Running') ? items : undefined;
        },
        60_000,
        500,
      );
      expect(groups.map((g) => [g.name, g.size, g.leader])).toEqual([
        [`${LWS}-0`, 2, `${LWS}-0`],
        [`${LWS}-1`, 2, `${LWS}-1`],
      ]);
    }, 240_000);

    it('a member’s engine killed in replica 1 restarts replica 1 in place (same pods, epoch 2); replica 0 is untouched', async () => {
      const before = await Promise.all([...PODS_OF[`${LWS}-0`]!, ...PODS_OF[`${LWS}-1`]!].map(pod));
      const victim = before.find((p) => p.metadata.name === `${LWS}-1-1`)!;
      const engine = markedProcesses(`${victim.metadata.uid}/vllm-worker`).find((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('allreduce.py');
        } catch {
          return false;
        }
      });
      expect(engine).toBeGreaterThan(0);
      process.kill(engine!, 'SIGKILL');
      await allReduced(2, PODS_OF[`${LWS}-1`]!);
      const after = await Promise.all(before.map((p) => pod(p.metadata.name ?? '')));
      expect(after.map((p) => p.metadata.uid)).toEqual(before.map((p) => p.metadata.uid));
      // replica 0 never left epoch 1
      for (const name of PODS_OF[`${LWS}-0`]!) expect(await engineLog(name)).not.toMatch(/^init epoch=2 /m);
      const { stdout } = await kubectl(['lockstep', 'groups', '-n', NS, '-o', 'json']);
      const items = (JSON.parse(stdout) as { items: { name: string; epoch?: number; restarts: number }[] }).items;
      expect(items.map((g) => [g.name, g.epoch, g.restarts])).toEqual([
        [`${LWS}-0`, 1, 0],
        [`${LWS}-1`, 2, 1],
      ]);
    }, 240_000);
  },
  'k8s',
);
