import { describe, expect, it } from 'vitest';
import type { KubeObject } from './types.js';
import {
  validateJobSetUpdate,
  validateJobUpdate,
  validateLeaderWorkerSetUpdate,
  validateStatefulSetUpdate,
} from './validation/workloads.js';

const object = (spec: Record<string, unknown>): KubeObject => ({ metadata: { name: 'x', namespace: 'ml' }, spec });
const stsSpec = {
  replicas: 2,
  serviceName: 'x',
  podManagementPolicy: 'OrderedReady',
  selector: { matchLabels: { app: 'x' } },
  template: { spec: { containers: [{ name: 'c', image: 'i' }] } },
};

describe('immutable fields of existing workloads (update decisions)', () => {
  it.each([
    ['replicas', { replicas: 5 }, false],
    ['template', { template: { spec: { containers: [{ name: 'c', image: 'j' }] } } }, false],
    ['updateStrategy', { updateStrategy: { type: 'OnDelete' } }, false],
    ['minReadySeconds', { minReadySeconds: 3 }, false],
    ['podManagementPolicy', { podManagementPolicy: 'Parallel' }, true],
    ['serviceName', { serviceName: 'y' }, true],
    ['selector', { selector: { matchLabels: { app: 'y' } } }, true],
    ['volumeClaimTemplates added', { volumeClaimTemplates: [{ metadata: { name: 'd' } }] }, true],
  ] as const)('StatefulSet %s', (_field, change, refused) => {
    const errors = validateStatefulSetUpdate(object({ ...stsSpec, ...change }), object(stsSpec), undefined);
    expect(errors.map((e) => `${e.field} ${e.type}`)).toEqual(refused ? ['spec FieldValueForbidden'] : []);
  });

  it('StatefulSet: created, or its status written, is never refused', () => {
    const changed = object({ ...stsSpec, podManagementPolicy: 'Parallel' });
    expect(validateStatefulSetUpdate(changed, undefined, undefined)).toEqual([]);
    expect(validateStatefulSetUpdate(changed, object(stsSpec), 'status')).toEqual([]);
  });

  const jobSpec = { completionMode: 'Indexed', completions: 2, parallelism: 2, template: { spec: { containers: [] } } };
  it.each([
    ['parallelism alone', { parallelism: 1 }, []],
    ['completions and parallelism together (elastic indexed)', { completions: 3, parallelism: 3 }, []],
    ['completions alone', { completions: 3 }, ['spec.completions']],
    ['template', { template: { spec: { containers: [{ name: 'c' }] } } }, ['spec.template']],
    ['selector', { selector: { matchLabels: { a: 'b' } } }, ['spec.selector']],
    ['completionMode', { completionMode: 'NonIndexed' }, ['spec.completionMode']],
  ] as const)('Job %s', (_what, change, fields) => {
    const errors = validateJobUpdate(object({ ...jobSpec, ...change }), object(jobSpec), undefined);
    expect(errors.map((e) => e.field)).toEqual(fields);
    for (const e of errors) expect(e.detail).toBe('field is immutable');
  });

  it.each([
    ['running JobSet, replicatedJobs changed', { replicatedJobs: [{ name: 'b' }] }, ['spec.replicatedJobs']],
    ['suspended JobSet, replicatedJobs changed', { suspend: true, replicatedJobs: [{ name: 'b' }] }, []],
    ['running JobSet, other field changed', { ttlSecondsAfterFinished: 5 }, []],
  ] as const)('%s', (_what, change, fields) => {
    const before = { replicatedJobs: [{ name: 'a' }] };
    expect(
      validateJobSetUpdate(object({ ...before, ...change }), object(before), undefined).map((e) => e.field),
    ).toEqual(fields);
  });

  it.each([
    ['size changed', 3, ['spec.leaderWorkerTemplate.size']],
    ['size kept', 2, []],
  ] as const)('LeaderWorkerSet %s', (_what, size, fields) => {
    const lws = (n: number) => object({ leaderWorkerTemplate: { size: n } });
    expect(validateLeaderWorkerSetUpdate(lws(size), lws(2), undefined).map((e) => e.field)).toEqual(fields);
  });
});
