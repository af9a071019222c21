/**
 * Immutable fields of the workloads lockstep injects, refused on update as the real API server (and the LWS and
 * JobSet webhooks) refuse them, so a test that re-applies an injected manifest over an existing object meets what a
 * user meets:
 * - StatefulSet (apps/v1 ValidateStatefulSetUpdate): everything in spec but replicas, ordinals, template,
 *   updateStrategy, revisionHistoryLimit, persistentVolumeClaimRetentionPolicy and minReadySeconds: one `Forbidden`
 *   on `spec` (podManagementPolicy, selector, serviceName, volumeClaimTemplates);
 * - Job (batch/v1 ValidateJobSpecUpdate): selector, template, completionMode; completions unless an Indexed Job
 *   changes completions and parallelism together (elastic indexed Jobs): `Invalid … field is immutable`. Not
 *   emulated: the scheduling directives a suspended Job that never started may change;
 * - JobSet (its webhook): replicatedJobs, unless the JobSet is suspended;
 * - LeaderWorkerSet (its webhook): leaderWorkerTemplate.size.
 * Status updates are not checked.
 */
import type { FieldError } from '../errors.js';
import type { KubeObject } from '../types.js';

type Spec = Record<string, unknown>;

const STATEFULSET_MUTABLE = new Set([
  'replicas',
  'ordinals',
  'template',
  'updateStrategy',
  'revisionHistoryLimit',
  'persistentVolumeClaimRetentionPolicy',
  'minReadySeconds',
]);

const specOf = (o: KubeObject): Spec => (o.spec && typeof o.spec === 'object' ? (o.spec as Spec) : {});
const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

function immutable(field: string, now: unknown, before: unknown): FieldError[] {
  return same(now, before) ? [] : [{ type: 'FieldValueInvalid', field, value: now, detail: 'field is immutable' }];
}

export function validateStatefulSetUpdate(obj: KubeObject, old: KubeObject | undefined, sub?: string): FieldError[] {
  if (!old || sub) return [];
  const [now, before] = [specOf(obj), specOf(old)];
  const keys = new Set([...Object.keys(now), ...Object.keys(before)].filter((k) => !STATEFULSET_MUTABLE.has(k)));
  if ([...keys].every((k) => same(now[k], before[k]))) return [];
  return [
    {
      type: 'FieldValueForbidden',
      field: 'spec',
      detail:
        "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden",
    },
  ];
}

export function validateJobUpdate(obj: KubeObject, old: KubeObject | undefined, sub?: string): FieldError[] {
  if (!old || sub) return [];
  const [now, before] = [specOf(obj), specOf(old)];
  const elastic =
    now.completionMode === 'Indexed' &&
    now.completions === now.parallelism &&
    before.completions === before.parallelism;
  return [
    ...immutable('spec.selector', now.selector, before.selector),
    ...immutable('spec.template', now.template, before.template),
    ...immutable('spec.completionMode', now.completionMode, before.completionMode),
    ...(elastic ? [] : immutable('spec.completions', now.completions, before.completions)),
  ];
}

export function validateJobSetUpdate(obj: KubeObject, old: KubeObject | undefined, sub?: string): FieldError[] {
  if (!old || sub) return [];
  const [now, before] = [specOf(obj), specOf(old)];
  if (now.suspend === true) return [];
  return immutable('spec.replicatedJobs', now.replicatedJobs, before.replicatedJobs);
}

export function validateLeaderWorkerSetUpdate(
  obj: KubeObject,
  old: KubeObject | undefined,
  sub?: string,
): FieldError[] {
  if (!old || sub) return [];
  const size = (o: KubeObject) => (specOf(o).leaderWorkerTemplate as Spec | undefined)?.size;
  return immutable('spec.leaderWorkerTemplate.size', size(obj), size(old));
}
