/**
 * The upstream-shaped workload corpus (test/fixtures/workloads/, each file naming the upstream file whose shape it
 * follows), injected as a user would, then made into pods exactly as the workload's controller makes them (the test
 * cluster's controllers-lite builders: LWS, JobSet → Job, Job, StatefulSet). For every shape inject accepts, every
 * instance is its own group of the right size: one pod coordinates it, the coordinator's `--group` (expanded with the
 * pod's own env, as the kubelet does) is the group every member's labels name (src/contract/group-identity.ts), every
 * member bootstraps, and the engine is wrapped. The shapes inject refuses are refused with the message naming what to
 * add. (Running the corpus in the test cluster: test/e2e/corpus.test.ts.)
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { groupOfPod } from '../../src/contract/group-identity.js';
import { InjectError } from '../../src/inject/options.js';
import { injectText } from '../../src/inject/text.js';
import type { Node, Pod } from '../../src/kube/types.js';
import {
  type Job,
  type JobSet,
  jobFor,
  type LeaderWorkerSet,
  lwsPod,
  podForIndex,
  podForOrdinal,
  type StatefulSet,
} from '../cluster/controllers/index.js';
import { podAffinityAllows } from '../cluster/scheduler/affinity.js';

const CORPUS = join(import.meta.dirname, '..', 'fixtures', 'workloads');
const IMAGE = 'ghcr.io/lockstep-dev/lockstep:v0.0.0-test';

/** What each corpus file must give: groups (name → size), or the refusal. */
const EXPECTED: Record<string, { groups: Record<string, number> } | { refused: RegExp }> = {
  'lws-vllm-ray.yaml': { groups: { 'vllm-ray-0': 2, 'vllm-ray-1': 2 } },
  'lws-vllm-mp-headless.yaml': { groups: { 'vllm-mp-0': 2, 'vllm-mp-1': 2 } },
  'lws-sglang.yaml': { groups: { 'sglang-0': 2, 'sglang-1': 2 } },
  'lws-llmd-worker-only.yaml': { groups: { 'decode-0': 2, 'decode-1': 2 } },
  'lws-llamacpp-args-only.yaml': {
    refused: /container llamacpp-worker has no command to wrap.*pass --engine and --command/,
  },
  'lws-two-container-leader.yaml': { groups: { 'trtllm-0': 2, 'trtllm-1': 2 } },
  'sts-no-service-name.yaml': { refused: /StatefulSet\/trainer: spec\.serviceName is not set/ },
  'jobset-torchrun.yaml': { groups: { 'resnet-workers-0': 2, 'resnet-workers-1': 2 } },
  'jobset-jax-multislice.yaml': { groups: { 'multislice-slice-0': 2, 'multislice-slice-1': 2 } },
  'job-indexed-headless.yaml': { groups: { allreduce: 2 } },
};

/** Group variables a corpus file sets itself: inject says they win over the group's. */
const OWN_VARIABLES: Record<string, string> = { 'jobset-torchrun.yaml': 'MASTER_ADDR, MASTER_PORT' };

/** Engines the corpus names that inject does not recognise: the test passes --engine for them, as the user must. */
const ENGINE: Record<string, 'none' | 'torch'> = { 'job-indexed-headless.yaml': 'torch' };

type Env = { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } };
type Container = { name: string; command?: string[]; args?: string[]; env?: Env[]; restartPolicy?: string };

/** The pods the workload's controllers make from one injected object. */
function podsOf(doc: Record<string, unknown>): Pod[] {
  switch (doc.kind) {
    case 'LeaderWorkerSet': {
      const lws = {
        ...(doc as unknown as LeaderWorkerSet),
        metadata: { ...(doc as unknown as LeaderWorkerSet).metadata, namespace: 'ns', uid: 'u' },
      };
      const pods: Pod[] = [];
      for (let g = 0; g < (lws.spec.replicas ?? 1); g++) {
        const leader = lwsPod(lws, g, 0);
        pods.push(leader);
        for (let w = 1; w < (lws.spec.leaderWorkerTemplate.size ?? 1); w++) pods.push(lwsPod(lws, g, w, leader));
      }
      return pods;
    }
    case 'JobSet': {
      const js = {
        ...(doc as unknown as JobSet),
        metadata: { ...(doc as unknown as JobSet).metadata, namespace: 'ns', uid: 'u' },
      };
      return js.spec.replicatedJobs.flatMap((rj) =>
        [...Array(rj.replicas ?? 1).keys()].flatMap((j) =>
          jobPods({ ...jobFor(js, rj, j), metadata: { ...jobFor(js, rj, j).metadata, uid: `j${j}` } }),
        ),
      );
    }
    case 'Job':
      return jobPods({
        ...(doc as unknown as Job),
        metadata: { ...(doc as unknown as Job).metadata, namespace: 'ns', uid: 'j' },
      });
    case 'StatefulSet': {
      const set = {
        ...(doc as unknown as StatefulSet),
        metadata: { ...(doc as unknown as StatefulSet).metadata, namespace: 'ns', uid: 's' },
      };
      return [...Array(set.spec.replicas ?? 1).keys()].map((i) => podForOrdinal(set, i));
    }
    default:
      return [];
  }
}

function jobPods(job: Job): Pod[] {
  return [...Array(job.spec.completions ?? 1).keys()].map((i) => podForIndex(job, i));
}

/** A container's env as the kubelet resolves it (values, downward-API labels/annotations, `$(VAR)` in values). */
function resolvedEnv(pod: Pod, c: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of c.env ?? []) {
    const path = e.valueFrom?.fieldRef?.fieldPath;
    if (e.value !== undefined) env[e.name] = expand(e.value, env);
    else if (path) {
      const m = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
      if (m) env[e.name] = pod.metadata[m[1] as 'labels' | 'annotations']?.[m[2]!] ?? '';
      else if (path === 'metadata.name') env[e.name] = pod.metadata.name ?? '';
      else if (path === 'metadata.namespace') env[e.name] = pod.metadata.namespace ?? '';
    }
  }
  return env;
}

const expand = (text: string, env: Record<string, string>) =>
  text.replace(/\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (all, name: string) => env[name] ?? all);

/** The group a pod's coordinator runs (undefined: it has none, or it idles on this pod), as it would start. */
function coordinatedGroup(pod: Pod): string | undefined {
  const spec = pod.spec as { initContainers?: Container[] };
  const c = spec.initContainers?.find((x) => x.name === 'lockstep-coordinator');
  if (!c) return undefined;
  const env = resolvedEnv(pod, c);
  const args = (c.args ?? []).map((a) => expand(a, env));
  const onlyRank = args.find((a) => a.startsWith('--only-rank='))?.split('=')[1];
  if (onlyRank !== undefined) {
    const rank = env.LOCKSTEP_RANK ?? env.LWS_WORKER_INDEX;
    if (rank !== onlyRank) return undefined;
  }
  // no --group: the coordinator reads its group from its own pod (leader/coordinator/workload.ts)
  return args.find((a) => a.startsWith('--group='))?.slice('--group='.length) ?? groupOfPod(pod);
}

const files = readdirSync(CORPUS)
  .filter((f) => f.endsWith('.yaml'))
  .sort();

describe('the upstream-shaped workload corpus, injected', () => {
  it('covers every file and cites an upstream file in each', () => {
    expect(files).toEqual(Object.keys(EXPECTED).sort());
    for (const f of files) expect(readFileSync(join(CORPUS, f), 'utf8')).toMatch(/^# Shape of [\w.-]+\/[\w.-]+ \S+/);
  });

  it.each(files)('%s', (file) => {
    const text = readFileSync(join(CORPUS, file), 'utf8');
    const want = EXPECTED[file]!;
    const run = () => injectText(text, { image: IMAGE, ...(ENGINE[file] ? { engine: ENGINE[file] } : {}) });
    if ('refused' in want) {
      expect(run).toThrow(InjectError);
      expect(run).toThrow(want.refused);
      return;
    }
    const { output, report } = run();
    const docs = parseAllDocuments(output).map((d) => d.toJS() as Record<string, unknown>);
    const pods = docs.flatMap(podsOf);
    const groups = new Map<string, Pod[]>();
    for (const p of pods) {
      const g = groupOfPod(p);
      expect(g, `${p.metadata.name} has a group`).toBeDefined();
      groups.set(g!, [...(groups.get(g!) ?? []), p]);
    }
    expect(Object.fromEntries([...groups].map(([g, ps]) => [g, ps.length]))).toEqual(want.groups);
    for (const [group, members] of groups) {
      // exactly one member coordinates, and its coordinator runs this very group
      expect(
        members.map(coordinatedGroup).filter((g) => g !== undefined),
        group,
      ).toEqual([group]);
      for (const p of members) {
        const spec = p.spec as { initContainers?: Container[]; containers: Container[] };
        expect(
          spec.initContainers?.some((c) => c.name === 'lockstep-bootstrap'),
          `${p.metadata.name} bootstraps`,
        ).toBe(true);
        expect(
          spec.containers.some((c) => c.command?.[1] === 'run'),
          `${p.metadata.name} runs its engine under lockstep run`,
        ).toBe(true);
      }
    }
    expect(report.warnings.filter((w) => /no engine recognised/.test(w))).toEqual([]);
    const own = report.warnings.filter((w) => /itself: its values win over the group's/.test(w));
    expect(own.map((w) => /sets (.*) itself/.exec(w)?.[1])).toEqual(OWN_VARIABLES[file] ? [OWN_VARIABLES[file]] : []);
  });
});

describe('--topology-key: each group instance in one domain of the key, instances independent', () => {
  const zone = 'topology.kubernetes.io/zone';
  const node = (name: string, z?: string): Node => ({
    metadata: { name, labels: { 'kubernetes.io/hostname': name, ...(z ? { [zone]: z } : {}) } },
  });
  const [a1, a2, b1, bare] = [node('a1', 'a'), node('a2', 'a'), node('b1', 'b'), node('bare')];
  const shapes = Object.entries(EXPECTED).filter(([, want]) => 'groups' in want && Object.keys(want.groups).length > 1);
  it.each(shapes.map(([file]) => file))('%s', (file) => {
    const text = readFileSync(join(CORPUS, file), 'utf8');
    const { output, report } = injectText(text, {
      image: IMAGE,
      topologyKey: zone,
      ...(ENGINE[file] ? { engine: ENGINE[file] } : {}),
    });
    expect(
      report.changes.some((c) => c.includes(`required pod affinity: a group's pods share one ${zone} domain`)),
    ).toBe(true);
    // idempotent: a second pass adds no second term
    expect(injectText(output, { image: IMAGE, topologyKey: zone }).output).toBe(output);
    const pods = parseAllDocuments(output)
      .map((d) => d.toJS() as Record<string, unknown>)
      .flatMap(podsOf)
      .map((p, i) => ({ ...p, metadata: { ...p.metadata, uid: `pod-${i}` } }));
    const byGroup = new Map<string, Pod[]>();
    for (const p of pods) byGroup.set(groupOfPod(p)!, [...(byGroup.get(groupOfPod(p)!) ?? []), p]);
    const [first, second] = [...byGroup.values()];
    const [head, ...rest] = first!;
    // the first pod of a group starts the domain wherever the key exists, and nowhere else
    expect(podAffinityAllows(head!, a1, [])).toBe(true);
    expect(podAffinityAllows(head!, bare, [])).toBe(false);
    const placed = [{ pod: head!, node: a1 }];
    for (const p of rest) {
      expect(podAffinityAllows(p, a2, placed), `${p.metadata.name} joins its group's zone`).toBe(true);
      expect(podAffinityAllows(p, b1, placed), `${p.metadata.name} stays out of other zones`).toBe(false);
    }
    // another instance of the same workload is a group of its own: it may start in another zone
    expect(podAffinityAllows(second![0]!, b1, placed)).toBe(true);
  });
});
