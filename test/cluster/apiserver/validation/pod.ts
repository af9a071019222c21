/**
 * ValidatePodUpdate's rule (k8s.io/kubernetes pkg/apis/core/validation): after create, a pod's spec may change only
 * in container images, activeDeadlineSeconds, added tolerations, terminationGracePeriodSeconds and removed
 * scheduling gates. nodeName is set through pods/binding, not by an update.
 */
import type { FieldError } from '../errors.js';
import { deepEqual } from '../patch.js';
import { isRecord, type KubeObject } from '../types.js';

const MESSAGE =
  'pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)';

function withImagesFrom(list: unknown, from: unknown): unknown {
  if (!Array.isArray(list) || !Array.isArray(from)) return list;
  return list.map((c, i) => (isRecord(c) && isRecord(from[i]) ? { ...c, image: from[i].image } : c));
}

export function validatePodUpdate(
  obj: KubeObject,
  old: KubeObject | undefined,
  subresource: string | undefined,
): FieldError[] {
  if (!old || subresource) return [];
  const next = isRecord(obj.spec) ? { ...obj.spec } : {};
  const prev = isRecord(old.spec) ? old.spec : {};
  for (const k of ['containers', 'initContainers'])
    if (next[k] !== undefined) next[k] = withImagesFrom(next[k], prev[k]);
  for (const k of ['activeDeadlineSeconds', 'terminationGracePeriodSeconds', 'schedulingGates']) {
    if (prev[k] === undefined) delete next[k];
    else next[k] = prev[k];
  }
  const oldTolerations = Array.isArray(prev.tolerations) ? prev.tolerations : [];
  const newTolerations = Array.isArray(next.tolerations) ? next.tolerations : [];
  const tolerationsOk = oldTolerations.every((t) => newTolerations.some((n) => deepEqual(n, t)));
  if (tolerationsOk) {
    if (prev.tolerations === undefined) delete next.tolerations;
    else next.tolerations = prev.tolerations;
  }
  if (deepEqual(next, prev)) return [];
  return [{ type: 'FieldValueForbidden', field: 'spec', detail: MESSAGE }];
}
