/**
 * Group identity is per workload instance: every LeaderWorkerSet replica, every JobSet child Job is its own group,
 * whatever the shared template's lockstep.dev/group label says; the coordinator, admission and the kubectl plugin all
 * read it through groupOfPod, so these cases decide what each of them sees.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { groupOfPod, JOBSET } from '../../src/contract/group-identity.js';
import { LABEL_GROUP, LWS } from '../../src/contract/names.js';

type Owner = { kind: string; name: string; controller?: boolean };
const pod = (labels: Record<string, string>, owners: Owner[] = []) => ({
  metadata: { labels, ownerReferences: owners },
});

/** Labels the LWS controller and its pod webhook put on a pod of replica `g`, worker `w` (0 = the leader). */
const lwsPod = (name: string, g: number, w: number, group: string | undefined = name) =>
  pod({
    ...(group === undefined ? {} : { [LABEL_GROUP]: group }),
    [LWS.labelName]: name,
    [LWS.labelGroupIndex]: String(g),
    [LWS.labelWorkerIndex]: String(w),
    [LWS.labelGroupKey]: `hash-${g}`,
  });

/** Labels the JobSet controller puts on the pods of child Job `<js>-<rj>-<j>`. */
const jobSetPod = (js: string, rj: string, j: number, group: string | undefined = js) =>
  pod({
    ...(group === undefined ? {} : { [LABEL_GROUP]: group }),
    [JOBSET.labelName]: js,
    [JOBSET.labelReplicatedJob]: rj,
    [JOBSET.labelJobIndex]: String(j),
    'batch.kubernetes.io/job-name': `${js}-${rj}-${j}`,
  });

describe('groupOfPod', () => {
  const cases: [string, ReturnType<typeof pod>, string | undefined][] = [
    ['LWS leader of replica 0', lwsPod('vllm', 0, 0), 'vllm-0'],
    ['LWS worker of replica 2', lwsPod('vllm', 2, 3), 'vllm-2'],
    ['LWS pod lockstep did not inject', lwsPod('vllm', 1, 1, undefined), 'vllm-1'],
    ['LWS pod whose label names the group set otherwise', lwsPod('vllm', 1, 0, 'llama'), 'llama-1'],
    ['JobSet child Job workers-1', jobSetPod('train', 'workers', 1), 'train-workers-1'],
    ['JobSet pod lockstep did not inject', jobSetPod('train', 'driver', 0, undefined), 'train-driver-0'],
    ['StatefulSet pod (label)', pod({ [LABEL_GROUP]: 'web' }, [{ kind: 'StatefulSet', name: 'web' }]), 'web'],
    ['StatefulSet pod without label', pod({}, [{ kind: 'StatefulSet', name: 'web', controller: true }]), 'web'],
    ['indexed Job pod (label)', pod({ [LABEL_GROUP]: 'jax', 'batch.kubernetes.io/job-name': 'jax' }), 'jax'],
    ['indexed Job pod without label', pod({ 'job-name': 'jax' }), 'jax'],
    ['a pod of no workload', pod({ app: 'x' }), undefined],
    ['a label that is no name', pod({ [LABEL_GROUP]: 'a/b' }, [{ kind: 'StatefulSet', name: 'web' }]), undefined],
    ['an empty label', pod({ [LABEL_GROUP]: '' }), undefined],
  ];
  it.each(cases)('%s', (_what, input, want) => {
    expect(groupOfPod(input)).toBe(want);
  });

  it('a group index that is not a plain number gives no instance: the label alone names the group', () => {
    expect(groupOfPod(pod({ [LABEL_GROUP]: 'vllm', [LWS.labelName]: 'vllm', [LWS.labelGroupIndex]: '01' }))).toBe(
      'vllm',
    );
  });

  it('an LWS with replicas 3 is 3 groups of its size (leader + workers each)', () => {
    const size = 4;
    const pods = [0, 1, 2].flatMap((g) => Array.from({ length: size }, (_, w) => lwsPod('vllm', g, w)));
    const groups = new Map<string, number>();
    for (const p of pods) groups.set(groupOfPod(p)!, (groups.get(groupOfPod(p)!) ?? 0) + 1);
    expect([...groups]).toEqual([
      ['vllm-0', size],
      ['vllm-1', size],
      ['vllm-2', size],
    ]);
  });

  it('a JobSet with 2 replicated jobs × 2 replicas is 4 groups, each named after its child Job', () => {
    const pods = ['driver', 'workers'].flatMap((rj) =>
      [0, 1].flatMap((j) => [0, 1].map(() => jobSetPod('train', rj, j))),
    );
    const groups = [...new Set(pods.map(groupOfPod))];
    expect(groups).toEqual(['train-driver-0', 'train-driver-1', 'train-workers-0', 'train-workers-1']);
    for (const p of pods) expect(groupOfPod(p)).toBe(p.metadata.labels['batch.kubernetes.io/job-name']);
  });

  it('pods of two different LWS replicas are never one group', () => {
    const name = fc.stringMatching(/^[a-z][a-z0-9]{0,10}$/);
    fc.assert(
      fc.property(name, fc.nat(50), fc.nat(50), fc.nat(8), fc.nat(8), (lws, a, b, wa, wb) => {
        fc.pre(a !== b);
        expect(groupOfPod(lwsPod(lws, a, wa))).not.toBe(groupOfPod(lwsPod(lws, b, wb)));
      }),
    );
  });
});
