import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { planFromDiscovery } from '../../src/commands/inject/gang-discovery.js';
import type { GangPlan } from '../../src/inject/gang.js';
import type { InjectOptions } from '../../src/inject/options.js';
import { injectText } from '../../src/inject/text.js';

/** `inject` with a gang plan (src/inject/gang.ts): which groups get a PodGroup, in which shape, and why not. */
const FIXTURES = join(import.meta.dirname, 'fixtures');
const fixture = (name: string) => readFileSync(join(FIXTURES, name), 'utf8');
const options = (gang: GangPlan): InjectOptions => ({ image: 'ghcr.io/lockstep-dev/lockstep:v0.0.0-test', gang });
const V1ALPHA2 = { apiVersion: 'scheduling.k8s.io/v1alpha2' };

type Doc = { kind?: string; metadata?: { name?: string }; spec?: Record<string, unknown> };
const docs = (text: string) => parseAllDocuments(text).map((d) => d.toJS() as Doc);
const podSpecOf = (sts: Doc) => (sts.spec!.template as { spec: Record<string, unknown> }).spec;

describe('inject --gang', () => {
  it('a StatefulSet group gets a PodGroup with minCount = replicas, and its pods name it (1.36+ shape)', () => {
    const { output, report } = injectText(fixture('statefulset-torchrun.yaml'), options(V1ALPHA2));
    const all = docs(output);
    const sts = all.find((d) => d.kind === 'StatefulSet')!;
    expect(podSpecOf(sts).schedulingGroup).toEqual({ podGroupName: 'ddp' });
    expect(all.at(-1)).toEqual({
      apiVersion: 'scheduling.k8s.io/v1alpha2',
      kind: 'PodGroup',
      metadata: { name: 'ddp' },
      spec: { schedulingPolicy: { gang: { minCount: 3 } } },
    });
    expect(report.changes).toContain(
      'StatefulSet/ddp: pods join PodGroup ddp (spec.schedulingGroup), added with gang minCount 3: the group is scheduled whole or not at all and holds no GPU while it waits (scheduling.k8s.io/v1alpha2)',
    );
    // a second injection finds the group named and the PodGroup present: nothing changes
    const again = injectText(output, options(V1ALPHA2));
    expect(again.output).toBe(output);
    expect(again.report.changes).toEqual([]);
  });

  it('1.35 (v1alpha1): a Workload with one gang pod group, and spec.workloadRef on the pods', () => {
    const { output } = injectText(fixture('job-jax.yaml'), options({ apiVersion: 'scheduling.k8s.io/v1alpha1' }));
    const all = docs(output);
    const job = all.find((d) => d.kind === 'Job')!;
    const name = job.metadata!.name!;
    expect(podSpecOf(job).workloadRef).toEqual({ name, podGroup: 'group' });
    expect(podSpecOf(job)).not.toHaveProperty('schedulingGroup');
    expect(all.at(-1)).toMatchObject({
      apiVersion: 'scheduling.k8s.io/v1alpha1',
      kind: 'Workload',
      metadata: { name },
      spec: { podGroups: [{ name: 'group', policy: { gang: { minCount: job.spec!.completions } } }] },
    });
  });

  it('a one-replica LeaderWorkerSet: leader and workers join one PodGroup of the group size', () => {
    const { output } = injectText(fixture('lws-sglang.yaml'), options({ apiVersion: 'scheduling.k8s.io/v1beta1' }));
    const all = docs(output);
    const lws = all.find((d) => d.kind === 'LeaderWorkerSet')!;
    const lwt = lws.spec!.leaderWorkerTemplate as Record<string, { spec: Record<string, unknown> }> & { size: number };
    const name = lws.metadata!.name!;
    for (const t of ['leaderTemplate', 'workerTemplate']) {
      if (lwt[t]) expect(lwt[t].spec.schedulingGroup).toEqual({ podGroupName: name });
    }
    expect(all.at(-1)).toMatchObject({
      kind: 'PodGroup',
      spec: { schedulingPolicy: { gang: { minCount: lwt.size } } },
    });
  });

  it.each([
    [
      'lws-vllm-ray.yaml',
      V1ALPHA2,
      'LeaderWorkerSet/vllm: no PodGroup from inject: its 2 replicas are groups stamped from one pod template, which can name only one PodGroup; the LeaderWorkerSet controller creates a PodGroup per group where it supports Workloads',
    ],
    ['statefulset-torchrun.yaml', { off: 'off (--no-gang)' }, 'StatefulSet/ddp: no gang scheduling: off (--no-gang)'],
  ])('%s with %j: no PodGroup, and the note says why', (name, plan, note) => {
    const { output, report } = injectText(fixture(name), options(plan));
    expect(docs(output).some((d) => d.kind === 'PodGroup')).toBe(false);
    expect(output).not.toContain('schedulingGroup');
    expect(report.notes).toContain(note);
  });

  it('a JobSet is left to its controller', () => {
    const { output, report } = injectText(fixture('jobset-ray.yaml'), options(V1ALPHA2));
    expect(output).not.toContain('schedulingGroup');
    expect(report.notes.some((n) => n.includes('the JobSet controller creates a PodGroup per Job'))).toBe(true);
  });

  it('pods that already name a group keep it, and no PodGroup is added', () => {
    const input = fixture('statefulset-torchrun.yaml').replace(
      /(\n {2}template:\n(?:.*\n)*? {4}spec:\n)/,
      '$1      schedulingGroup:\n        podGroupName: mine\n',
    );
    expect(input).toContain('podGroupName: mine');
    const { output, report } = injectText(input, options(V1ALPHA2));
    expect(output).toContain('podGroupName: mine');
    expect(docs(output).some((d) => d.kind === 'PodGroup')).toBe(false);
    expect(report.notes).toContain('StatefulSet/ddp: its pods already name a scheduling group; left as it is');
  });

  it('JSON: one object becomes a v1 List with the PodGroup; an input List gets it as an item', () => {
    const sts = docs(fixture('statefulset-torchrun.yaml')).find((d) => d.kind === 'StatefulSet')!;
    const single = JSON.parse(injectText(JSON.stringify(sts), options(V1ALPHA2)).output);
    expect(single.kind).toBe('List');
    expect(single.items.map((i: Doc) => i.kind)).toEqual(['StatefulSet', 'PodGroup']);
    const list = JSON.parse(
      injectText(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [sts] }), options(V1ALPHA2)).output,
    );
    expect(list.items.map((i: Doc) => i.kind)).toEqual(['StatefulSet', 'PodGroup']);
  });

  it('keeps the workload’s namespace on the PodGroup', () => {
    const input = fixture('statefulset-torchrun.yaml').replace(
      'kind: StatefulSet\nmetadata:\n  name: ddp\n',
      'kind: StatefulSet\nmetadata:\n  name: ddp\n  namespace: ml\n',
    );
    const all = docs(injectText(input, options(V1ALPHA2)).output);
    expect(all.at(-1)!.metadata).toEqual({ name: 'ddp', namespace: 'ml' });
    expect(parse(injectText(input, options(V1ALPHA2)).output.split('---\n').at(-1)!).kind).toBe('PodGroup');
  });
});

describe('planFromDiscovery', () => {
  const list = (...names: string[]) => ({ resources: names.map((name) => ({ name })) });
  it.each([
    ['not served', undefined, {}, 'off'],
    [
      '1.36: v1alpha2 with podgroups',
      { versions: [{ version: 'v1alpha2' }], preferredVersion: { version: 'v1alpha2' } },
      { v1alpha2: list('podgroups', 'podgroups/status', 'workloads') },
      'scheduling.k8s.io/v1alpha2',
    ],
    [
      '1.37: v1beta1 preferred over v1alpha2',
      { versions: [{ version: 'v1alpha2' }, { version: 'v1beta1' }], preferredVersion: { version: 'v1beta1' } },
      { v1alpha2: list('podgroups'), v1beta1: list('podgroups', 'workloads') },
      'scheduling.k8s.io/v1beta1',
    ],
    [
      '1.35: v1alpha1 Workloads only',
      { versions: [{ version: 'v1alpha1' }] },
      { v1alpha1: list('workloads') },
      'scheduling.k8s.io/v1alpha1',
    ],
    [
      'only PriorityClasses (scheduling.k8s.io/v1 without the gate)',
      { versions: [{ version: 'v1' }], preferredVersion: { version: 'v1' } },
      { v1: list('priorityclasses') },
      'off',
    ],
    ['a malformed document', { versions: [{ version: 7 }] } as never, {}, 'off'],
  ])('%s', (_, group, resources, expected) => {
    const plan = planFromDiscovery(group, new Map(Object.entries(resources)));
    expect('off' in plan ? 'off' : plan.apiVersion).toBe(expected);
  });
});
