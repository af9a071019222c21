/** Where a group's epoch outlives its pods: the workload that owns them, under a key naming the group. */
import { describe, expect, it } from 'vitest';
import { epochFromWorkload, epochKey, epochStore } from '../../../leader/coordinator/workload.js';
import type { Pod } from '../../../src/kube/types.js';

const pod = (labels: Record<string, string>, owner?: { kind: string; name: string }): Pod =>
  ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'p-0',
      namespace: 'ml',
      labels,
      ownerReferences: owner
        ? [{ apiVersion: 'x', kind: owner.kind, name: owner.name, uid: 'u', controller: true }]
        : [],
    },
  }) as Pod;

describe('epoch store', () => {
  it.each([
    // LWS: the LeaderWorkerSet, not the leader StatefulSet it owns (shared by every replica group)
    [
      pod({ 'leaderworkerset.sigs.k8s.io/name': 'llm' }, { kind: 'StatefulSet', name: 'llm' }),
      '/apis/leaderworkerset.x-k8s.io/v1/namespaces/ml/leaderworkersets/llm',
    ],
    [
      pod({ 'jobset.sigs.k8s.io/jobset-name': 'train' }, { kind: 'Job', name: 'train-w-0' }),
      '/apis/jobset.x-k8s.io/v1alpha2/namespaces/ml/jobsets/train',
    ],
    [pod({}, { kind: 'StatefulSet', name: 'web' }), '/apis/apps/v1/namespaces/ml/statefulsets/web'],
    [pod({}, { kind: 'Job', name: 'batch' }), '/apis/batch/v1/namespaces/ml/jobs/batch'],
    [pod({}), undefined],
  ])('%#: %s', (p, path) => {
    expect(epochStore(p, 'ml', 'llm-0')?.path).toBe(path);
  });

  it('keys name the group and are valid annotation keys for any group name', () => {
    expect(epochKey('llm-0')).toBe('epoch.lockstep.dev/llm-0');
    const long = epochKey(`${'x'.repeat(80)}-3`);
    expect(long).toMatch(/^epoch\.lockstep\.dev\/x{50}-[0-9a-f]{10}$/);
    expect(epochKey('a/b c')).toMatch(/^epoch\.lockstep\.dev\/a-b-c-[0-9a-f]{10}$/);
    expect(epochKey('llm-0')).not.toBe(epochKey('llm-1'));
  });

  it('reads only a number', () => {
    const key = epochKey('g');
    expect(epochFromWorkload({ metadata: { annotations: { [key]: '12' } } }, key)).toBe(12);
    expect(epochFromWorkload({ metadata: { annotations: { [key]: '-1' } } }, key)).toBeUndefined();
    expect(epochFromWorkload({ metadata: { annotations: { [key]: '1e9' } } }, key)).toBeUndefined();
    expect(epochFromWorkload({}, key)).toBeUndefined();
  });
});
