/**
 * The corpus shapes end to end (test/fixtures/workloads/; the LWS vLLM-on-Ray shape has its own test,
 * corpus.test.ts). Each shape is injected by the real `lockstep inject` with the flags its README row names, applied
 * with the real kubectl to the test cluster (one namespace per shape), and its pods made by the workload's
 * controller-lite. Every instance forms its own group of the right size; a member's engine killed in the second
 * instance restarts that instance in place (same pods, epoch 2) and leaves the first at epoch 1; `kubectl lockstep
 * groups` shows both.
 *
 * Engines that cannot run here are small stand-ins that keep the shape: the user's command after `lockstep run … --`
 * becomes a shell script that prints what the engine would be told (epoch, rank, group, the rendezvous variables and
 * the arguments `lockstep run` adapted) and waits; images of side containers that cannot run (a routing proxy, a
 * metrics exporter) become a Python sleep. Where torch is the subject it is real: the JobSet torchrun shape runs
 * Debian's `torch.distributed.run` with the user's own MASTER_ADDR (a JobSet DNS name, which the stand-in looks up in
 * the cluster's DNS hosts file: torch's C++ store cannot use the test cluster's Node-only resolver) and MASTER_PORT
 * (offset per replica: the test cluster's pods share one network namespace for non-Node programs), and the indexed
 * Job runs the gloo all-reduce with `--engine torch`. The indexed Job's Service gets `publishNotReadyAddresses: true`,
 * the fix inject's warning asks for. Not emulated: hostNetwork (the multislice pods get their own addresses).
 * Needs the LWS CRD from ../shared/k8s.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { groupOfPod } from '../../src/contract/group-identity.js';
import { PODS, resourcePath } from '../../src/kube/resources.js';
import type { Pod } from '../../src/kube/types.js';
import { markedProcesses } from '../cluster/pods/runner.js';
import { bundlePath } from '../support/build.js';
import { describeRecorded } from '../support/recorded.js';
import { useCorpusCluster } from './corpus-cluster.js';
import { ALLREDUCE_PY, REPO_ROOT } from './manifests.js';
import { until } from './story.js';

const SA = 'corpus';

type Doc = Record<string, unknown> & { kind?: string; metadata?: Record<string, unknown> };
type Container = {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  volumeMounts?: { name: string; mountPath: string }[];
};
type PodSpec = {
  containers: Container[];
  initContainers?: (Container & { restartPolicy?: string })[];
  volumes?: unknown[];
  serviceAccountName?: string;
  terminationGracePeriodSeconds?: number;
};
type Template = { spec: PodSpec };

/** What the stand-in prints once per start: the line the test reads epochs and ranks from. */
const ECHO =
  'echo "engine epoch=$LOCKSTEP_EPOCH rank=$LOCKSTEP_RANK/$LOCKSTEP_GROUP_SIZE group=$LOCKSTEP_GROUP master=$MASTER_ADDR:$MASTER_PORT tpu=$TPU_WORKER_ID args=$*"';
const SLEEP_STAND_IN = ['sh', '-c', `${ECHO}; exec sleep 100000`, 'engine'];

/**
 * Real torchrun, rendezvous at the user's MASTER_ADDR (looked up in the cluster's DNS file) and MASTER_PORT.
 * `--redirects 1 --tee 1`: Debian's torch 1.13 on Python 3.11 cannot parse the default "0" (its Std flag enum no longer
 * lists the zero member), so stdout goes through torchrun's tee, each line prefixed `[default0]:`; `-u` so torchrun
 * passes each line on at once, as the upstream manifest's PYTHONUNBUFFERED does.
 */
const TORCHRUN_STAND_IN = [
  'sh',
  '-c',
  [
    ECHO,
    'ip=$(awk -v n="$MASTER_ADDR.$POD_NAMESPACE.svc.cluster.local" \'$2 == n { print $1; exit }\' "$TEST_CLUSTER_HOSTS_FILE")',
    'exec python3 -u -m torch.distributed.run --nnodes=$NNODES --node_rank=$NODE_RANK --nproc_per_node=1 --redirects 1 --tee 1 --master_addr=$ip --master_port=$((MASTER_PORT + JOB_INDEX)) /opt/demo/allreduce.py',
  ].join('; '),
  'engine',
];

const TORCH_STAND_IN = ['sh', '-c', `${ECHO}; exec python3 /opt/demo/allreduce.py`, 'engine'];

interface Shape {
  file: string;
  injectArgs: string[];
  /** group → its size */
  groups: Record<string, number>;
  standIn: string[];
  /** the line each member's engine log shows once its group runs epoch N */
  running: (epoch: number, size: number) => RegExp;
  /** what every member's engine must be told (a stand-in line), beyond its epoch and rank */
  shows?: RegExp;
  /** the user's own fixes, after reading inject's warnings */
  fix?: (docs: Doc[]) => void;
}

const echoed = (epoch: number, size: number) => new RegExp(`^engine epoch=${epoch} rank=\\d/${size} `, 'm');
const allReduced = (epoch: number, size: number) =>
  new RegExp(
    `^(\\[default\\d+\\]:)?allreduce epoch=${epoch} rank=\\d/${size} step=\\d+ sum=${(size * (size + 1)) / 2}$`,
    'm',
  );

const SHAPES: Shape[] = [
  {
    file: 'lws-vllm-mp-headless.yaml',
    injectArgs: [],
    groups: { 'vllm-mp-0': 2, 'vllm-mp-1': 2 },
    standIn: SLEEP_STAND_IN,
    running: echoed,
  },
  {
    file: 'lws-sglang.yaml',
    injectArgs: [],
    groups: { 'sglang-0': 2, 'sglang-1': 2 },
    standIn: SLEEP_STAND_IN,
    running: echoed,
  },
  {
    file: 'lws-llmd-worker-only.yaml',
    injectArgs: [],
    groups: { 'decode-0': 2, 'decode-1': 2 },
    standIn: SLEEP_STAND_IN,
    running: echoed,
  },
  {
    file: 'lws-two-container-leader.yaml',
    injectArgs: [],
    groups: { 'trtllm-0': 2, 'trtllm-1': 2 },
    standIn: SLEEP_STAND_IN,
    running: echoed,
  },
  {
    file: 'lws-llamacpp-args-only.yaml',
    injectArgs: ['--engine', 'none', '--command', 'worker=/rpc-server'],
    groups: { 'llamacpp-0': 3, 'llamacpp-1': 3 },
    standIn: SLEEP_STAND_IN,
    running: echoed,
  },
  {
    file: 'jobset-jax-multislice.yaml',
    injectArgs: [],
    groups: { 'multislice-slice-0': 2, 'multislice-slice-1': 2 },
    standIn: SLEEP_STAND_IN,
    running: echoed,
  },
  {
    file: 'jobset-torchrun.yaml',
    injectArgs: [],
    groups: { 'resnet-workers-0': 2, 'resnet-workers-1': 2 },
    standIn: TORCHRUN_STAND_IN,
    running: allReduced,
    // the user's MASTER_ADDR (its replica's rank 0) and MASTER_PORT win over the group's
    shows: /^engine epoch=1 rank=\d\/2 group=resnet-workers-\d master=resnet-workers-(\d)-0\.resnet:3389 /m,
  },
  {
    file: 'job-indexed-headless.yaml',
    injectArgs: ['--engine', 'torch'],
    groups: { allreduce: 2 },
    standIn: TORCH_STAND_IN,
    running: allReduced,
    fix: (docs) => {
      for (const d of docs) {
        if (d.kind === 'Service') (d.spec as Record<string, unknown>).publishNotReadyAddresses = true;
      }
    },
  },
];

const namespaceOf = (shape: Shape) => shape.file.replace(/\.yaml$/, '');

function podTemplates(doc: Doc): Template[] {
  const spec = doc.spec as Record<string, unknown>;
  switch (doc.kind) {
    case 'LeaderWorkerSet': {
      const lwt = spec.leaderWorkerTemplate as Record<string, Template | undefined>;
      return [lwt.leaderTemplate, lwt.workerTemplate].filter((t): t is Template => t !== undefined);
    }
    case 'JobSet':
      return (spec.replicatedJobs as { template: { spec: { template: Template } } }[]).map(
        (rj) => rj.template.spec.template,
      );
    case 'Job':
    case 'StatefulSet':
      return [spec.template as Template];
    default:
      return [];
  }
}

const isWrapped = (c: Container) => c.command?.[1] === 'run' && c.command[0]?.endsWith('/lockstep') === true;

/** The injected shape with its engines mapped to the stand-in, as the file's comment explains. */
function workload(shape: Shape): string {
  const ns = namespaceOf(shape);
  const plain = readFileSync(join(REPO_ROOT, 'test/fixtures/workloads', shape.file), 'utf8');
  const injected = spawnSync(process.execPath, [bundlePath('lockstep'), 'inject', '-f', '-', ...shape.injectArgs], {
    input: plain,
    encoding: 'utf8',
  });
  if (injected.status !== 0) throw new Error(`lockstep inject failed: ${injected.stderr}`);
  const docs = parseAllDocuments(injected.stdout)
    .map((d) => d.toJS() as Doc | null)
    .filter((d): d is Doc => d !== null);
  shape.fix?.(docs);
  for (const doc of docs) {
    for (const template of podTemplates(doc)) {
      const spec = template.spec;
      for (const c of spec.containers) {
        if (isWrapped(c)) {
          const dashdash = c.command!.indexOf('--');
          c.command = [...c.command!.slice(0, dashdash + 1), ...shape.standIn];
          c.volumeMounts = [...(c.volumeMounts ?? []), { name: 'demo', mountPath: '/opt/demo' }];
        } else {
          // a side container whose image cannot run here: it only has to stay up
          c.command = ['python3', '-c', 'import time; time.sleep(100000)'];
          c.args = [];
        }
      }
      for (const c of spec.initContainers ?? []) {
        if (c.restartPolicy === 'Always' && !c.name.startsWith('lockstep-')) {
          c.command = ['python3', '-c', 'import time; time.sleep(100000)'];
          c.args = [];
        }
      }
      spec.volumes = [...(spec.volumes ?? []), { name: 'demo', configMap: { name: 'allreduce' } }];
      spec.serviceAccountName = SA;
      spec.terminationGracePeriodSeconds = 5;
    }
  }
  const rbac: Doc[] = [
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: SA } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: `${SA}-lockstep-coordinator` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'lockstep-coordinator' },
      subjects: [{ kind: 'ServiceAccount', name: SA, namespace: ns }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `${ns}-lockstep-tokenreview` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'lockstep-tokenreview' },
      subjects: [{ kind: 'ServiceAccount', name: SA, namespace: ns }],
    },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'allreduce' }, data: { 'allreduce.py': ALLREDUCE_PY } },
  ];
  return [...rbac, ...docs]
    .map((d) =>
      stringify(d.kind === 'ClusterRoleBinding' ? d : { ...d, metadata: { ...(d.metadata ?? {}), namespace: ns } }),
    )
    .join('---\n');
}

describeRecorded(
  'the corpus shapes end to end: each instance a group; an engine kill restarts only its instance, in place',
  () => {
    const e2e = useCorpusCluster('corpus-shapes-e2e-', SHAPES.map(namespaceOf));
    const kubectl = e2e.kubectl;
    const podsIn = async (ns: string) =>
      (await e2e.cluster.workloads!.client.get<{ items: Pod[] }>(resourcePath(PODS, { namespace: ns }))).items.filter(
        (p) => p.metadata.deletionTimestamp === undefined,
      );
    const engineContainer = (p: Pod) => (p.spec as unknown as PodSpec).containers.find(isWrapped)!.name;
    const engineLog = async (p: Pod) => {
      const logs = e2e.cluster.workloads!.node('node-a').runner.logsDir(p.metadata.uid ?? '');
      return logs ? readFile(join(logs, `${engineContainer(p)}.log`), 'utf8').catch(() => '') : '';
    };
    /** The pods of each group once every member's engine runs the given epoch (else the engines' last lines). */
    const groupsRunning = (shape: Shape, ns: string, epochs: Record<string, number>) =>
      untilRunning(shape, ns, epochs).catch(async (err: unknown) => {
        const tails = await Promise.all(
          (await podsIn(ns)).map(async (p) => `--- ${p.metadata.name}\n${(await engineLog(p)).slice(-1500)}`),
        );
        throw new Error(`${err instanceof Error ? err.message : String(err)}\n${tails.join('\n')}`);
      });
    const untilRunning = (shape: Shape, ns: string, epochs: Record<string, number>) =>
      until(
        `${shape.file}: ${Object.entries(epochs)
          .map(([g, e]) => `${g} in epoch ${e}`)
          .join(', ')}`,
        async () => {
          const byGroup = new Map<string, Pod[]>();
          for (const p of await podsIn(ns)) {
            const g = groupOfPod(p);
            if (g !== undefined) byGroup.set(g, [...(byGroup.get(g) ?? []), p]);
          }
          for (const [group, epoch] of Object.entries(epochs)) {
            const members = byGroup.get(group) ?? [];
            const size = shape.groups[group]!;
            if (members.length !== size) return undefined;
            const logs = await Promise.all(members.map(engineLog));
            if (!logs.every((l) => shape.running(epoch, size).test(l))) return undefined;
          }
          return byGroup;
        },
        180_000,
        1000,
      );

    for (const shape of SHAPES) {
      it(`${shape.file}: inject → apply → ${Object.keys(shape.groups).length} group(s); an engine kill restarts one in place`, async () => {
        const ns = namespaceOf(shape);
        const file = join(e2e.dir, `${ns}.yaml`);
        writeFileSync(file, workload(shape));
        await kubectl(['apply', '-f', file]);
        const names = Object.keys(shape.groups);
        const formed = await groupsRunning(shape, ns, Object.fromEntries(names.map((g) => [g, 1])));
        const listed = await until(
          `kubectl lockstep groups -n ${ns} to show every group Running`,
          async () => {
            const { stdout } = await kubectl(['lockstep', 'groups', '-n', ns, '-o', 'json']);
            const items = (JSON.parse(stdout) as { items: { name: string; size: number; state: string }[] }).items;
            return items.length === names.length && items.every((g) => g.state === 'Running') ? items : undefined;
          },
          60_000,
          1000,
        );
        expect(listed.map((g) => [g.name, g.size]).sort()).toEqual(names.map((g) => [g, shape.groups[g]]).sort());
        if (shape.shows) {
          for (const members of formed.values()) {
            for (const p of members) expect(await engineLog(p)).toMatch(shape.shows);
          }
        }

        // kill the engine of a non-leader member of the last group; only that group goes to epoch 2
        const victimGroup = names.at(-1)!;
        const before = [...formed.values()].flat();
        // the member named last is never the leader (LWS `<g>-<w>` workers, Job and JobSet pods of index 1)
        const victim = [...formed.get(victimGroup)!]
          .sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''))
          .at(-1)!;
        const marker = `${victim.metadata.uid}/${engineContainer(victim)}`;
        const engines = markedProcesses(marker).filter((pid) => {
          try {
            const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
            return /sleep|allreduce\.py|torch\.distributed\.run/.test(cmdline) && !cmdline.includes('lockstep');
          } catch {
            return false;
          }
        });
        expect(engines.length).toBeGreaterThan(0);
        for (const pid of engines) process.kill(pid, 'SIGKILL');
        const after = await groupsRunning(
          shape,
          ns,
          Object.fromEntries(names.map((g) => [g, g === victimGroup ? 2 : 1])),
        );
        // in place: the same pods
        expect(
          [...after.values()]
            .flat()
            .map((p) => p.metadata.uid)
            .sort(),
        ).toEqual(before.map((p) => p.metadata.uid).sort());
        // the other groups never left epoch 1
        for (const g of names.filter((n) => n !== victimGroup)) {
          for (const p of after.get(g)!) expect(await engineLog(p)).not.toMatch(/epoch=2 /);
        }
        await kubectl(['delete', '-f', file, '--wait=false']);
      }, 420_000);
    }
  },
  'k8s',
);
