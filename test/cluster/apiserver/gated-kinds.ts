/**
 * Kinds a real API server serves only where a feature gate (and the release) says so, and the pod fields that come
 * with them. What differs between the releases lockstep supports (FACTS.md §11):
 *
 * | release | scheduling.k8s.io (gate GenericWorkload, off by default)                 | pod field                      |
 * | ------- | ------------------------------------------------------------------------- | ------------------------------ |
 * | 1.35    | v1alpha1 Workload (`spec.podGroups[].policy.gang.minCount`)               | `spec.workloadRef`             |
 * | 1.36    | v1alpha2 Workload (`spec.podGroupTemplates`) + PodGroup                   | `spec.schedulingGroup`         |
 * | 1.37    | v1beta1, the v1alpha2 shape (beta)                                        | `spec.schedulingGroup`         |
 *
 * and resource.k8s.io/v1beta2 DeviceTaintRule (gate DRADeviceTaintRules): an admin's taint on the devices its selector
 * picks (driver, pool, device; an empty selector picks every device, none picks none).
 *
 * Shapes follow k8s.io/api scheduling/v1alpha2/types.go (PodGroupSpec.schedulingPolicy.gang.minCount ≥ 1, union of
 * basic|gang, immutable) and resource/v1beta2 DeviceTaintRuleSpec; validation keeps the rules clients run into.
 * Without the gate the server drops the pod field silently, as a real one drops fields of disabled gates.
 */
import type { FieldError } from './errors.js';
import type { KindSpec } from './kinds.js';
import { isRecord, type KubeObject } from './types.js';
import { invalidEach, isDns1123Label, isDns1123Subdomain } from './validation/names.js';
import { validateTaint } from './validation/resource.js';

/** The scheduling.k8s.io version a release serves for Workload/PodGroup, when GenericWorkload is on. */
export type WorkloadApiVersion = 'v1alpha1' | 'v1alpha2' | 'v1beta1';

export interface GatedApis {
  /** scheduling.k8s.io Workload (+ PodGroup from v1alpha2): the GenericWorkload gate, at this release's version */
  workloads?: WorkloadApiVersion;
  /** resource.k8s.io/v1beta2 DeviceTaintRule: the DRADeviceTaintRules gate */
  deviceTaintRules?: boolean;
}

const WORKLOAD_GROUP = 'scheduling.k8s.io';

/** Kinds served for these gates; none when every gate is off. */
export function gatedKinds(apis: GatedApis): KindSpec[] {
  const kinds: KindSpec[] = [];
  if (apis.workloads) {
    kinds.push({
      group: WORKLOAD_GROUP,
      version: apis.workloads,
      kind: 'Workload',
      plural: 'workloads',
      singular: 'workload',
      namespaced: true,
      generation: true,
    });
    if (apis.workloads !== 'v1alpha1') {
      kinds.push({
        group: WORKLOAD_GROUP,
        version: apis.workloads,
        kind: 'PodGroup',
        plural: 'podgroups',
        singular: 'podgroup',
        namespaced: true,
        subresources: ['status'],
        generation: true,
      });
    }
  }
  if (apis.deviceTaintRules) {
    kinds.push({
      group: 'resource.k8s.io',
      version: 'v1beta2',
      kind: 'DeviceTaintRule',
      plural: 'devicetaintrules',
      singular: 'devicetaintrule',
      namespaced: false,
      subresources: ['status'],
      generation: true,
    });
  }
  return kinds;
}

type Errs = FieldError[];

function rec(v: unknown): Record<string, unknown> {
  return isRecord(v) ? v : {};
}

/** PodGroupSchedulingPolicy: exactly one of basic and gang; gang.minCount a positive integer. */
function validatePolicy(policy: unknown, field: string): Errs {
  const p = rec(policy);
  const set = ['basic', 'gang'].filter((k) => p[k] !== undefined && p[k] !== null);
  if (set.length !== 1) {
    return [
      {
        type: 'FieldValueInvalid',
        field,
        value: '',
        detail:
          set.length === 0 ? 'must specify one of: `basic`, `gang`' : 'exactly one of `basic`, `gang` is required',
      },
    ];
  }
  if (set[0] !== 'gang') return [];
  const minCount = rec(p.gang).minCount;
  if (minCount === undefined) return [{ type: 'FieldValueRequired', field: `${field}.gang.minCount`, detail: '' }];
  if (typeof minCount !== 'number' || !Number.isInteger(minCount) || minCount < 1) {
    return [
      {
        type: 'FieldValueInvalid',
        field: `${field}.gang.minCount`,
        value: minCount,
        detail: 'must be greater than or equal to 1',
      },
    ];
  }
  return [];
}

function validateGroupNames(list: unknown[], field: string, policyKey: 'policy' | 'schedulingPolicy'): Errs {
  const errs: Errs = [];
  if (list.length === 0) errs.push({ type: 'FieldValueRequired', field, detail: '' });
  if (list.length > 8)
    errs.push({ type: 'FieldValueTooMany', field, value: list.length, detail: 'must have at most 8 items' });
  const seen = new Set<string>();
  list.forEach((item, i) => {
    const entry = rec(item);
    const name = typeof entry.name === 'string' ? entry.name : '';
    if (name === '') errs.push({ type: 'FieldValueRequired', field: `${field}[${i}].name`, detail: '' });
    else errs.push(...invalidEach(`${field}[${i}].name`, name, isDns1123Label(name)));
    if (seen.has(name))
      errs.push({ type: 'FieldValueDuplicate', field: `${field}[${i}].name`, value: name, detail: '' });
    seen.add(name);
    errs.push(...validatePolicy(entry[policyKey], `${field}[${i}].${policyKey}`));
  });
  return errs;
}

function immutable(obj: KubeObject, old: KubeObject | undefined, field: string, key: string): Errs {
  if (!old) return [];
  const now = JSON.stringify(rec(obj.spec)[key] ?? null);
  const before = JSON.stringify(rec(old.spec)[key] ?? null);
  return now === before
    ? []
    : [{ type: 'FieldValueInvalid', field, value: rec(obj.spec)[key], detail: 'field is immutable' }];
}

export function validateWorkload(obj: KubeObject, old: KubeObject | undefined, version: WorkloadApiVersion): Errs {
  const spec = rec(obj.spec);
  if (version === 'v1alpha1') {
    const groups = Array.isArray(spec.podGroups) ? spec.podGroups : [];
    return [
      ...validateGroupNames(groups, 'spec.podGroups', 'policy'),
      ...immutable(obj, old, 'spec.podGroups', 'podGroups'),
    ];
  }
  const templates = Array.isArray(spec.podGroupTemplates) ? spec.podGroupTemplates : [];
  return [
    ...validateGroupNames(templates, 'spec.podGroupTemplates', 'schedulingPolicy'),
    ...immutable(obj, old, 'spec.podGroupTemplates', 'podGroupTemplates'),
  ];
}

export function validatePodGroup(obj: KubeObject, old: KubeObject | undefined, subresource: string | undefined): Errs {
  if (subresource === 'status') return [];
  return [
    ...validatePolicy(rec(obj.spec).schedulingPolicy, 'spec.schedulingPolicy'),
    ...immutable(obj, old, 'spec.schedulingPolicy', 'schedulingPolicy'),
  ];
}

export function validateDeviceTaintRule(obj: KubeObject, _old: KubeObject | undefined, sub: string | undefined): Errs {
  if (sub === 'status') return [];
  const spec = rec(obj.spec);
  const errs: Errs = [];
  const selector = spec.deviceSelector;
  if (selector !== undefined && selector !== null) {
    const s = rec(selector);
    for (const key of ['driver', 'pool', 'device']) {
      const v = s[key];
      if (v === undefined) continue;
      if (typeof v !== 'string' || v === '')
        errs.push({ type: 'FieldValueInvalid', field: `spec.deviceSelector.${key}`, value: v, detail: 'must be set' });
      else if (key !== 'pool') {
        const check = key === 'driver' ? isDns1123Subdomain : isDns1123Label;
        errs.push(...invalidEach(`spec.deviceSelector.${key}`, v, check(v)));
      }
    }
  }
  if (!isRecord(spec.taint)) errs.push({ type: 'FieldValueRequired', field: 'spec.taint', detail: '' });
  else errs.push(...validateTaint(spec.taint, 'spec.taint'));
  return errs;
}

/** Defaulting on create: the taint's `timeAdded`, as the real strategy sets it. */
export function prepareDeviceTaintRule(obj: KubeObject, now: string): void {
  const taint = rec(obj.spec).taint;
  if (isRecord(taint) && taint.timeAdded === undefined) taint.timeAdded = now;
}

/**
 * Pod fields of the gate: `spec.workloadRef` exists only in 1.35 (v1alpha1), `spec.schedulingGroup` from 1.36. A
 * server without the gate, or of a release without the field, drops it silently on create (an update keeps what the
 * stored pod had, as dropDisabledFields does).
 */
export function preparePodSchedulingFields(
  obj: KubeObject,
  old: KubeObject | undefined,
  workloads: WorkloadApiVersion | undefined,
): void {
  if (!isRecord(obj.spec)) return;
  const spec = obj.spec;
  const oldSpec = old && isRecord(old.spec) ? old.spec : {};
  const keep = (field: string) =>
    field === 'workloadRef' ? workloads === 'v1alpha1' : workloads !== undefined && workloads !== 'v1alpha1';
  for (const field of ['workloadRef', 'schedulingGroup']) {
    if (spec[field] !== undefined && !keep(field) && oldSpec[field] === undefined) delete spec[field];
  }
}

/** The pod's group reference, for errors: `spec.schedulingGroup.podGroupName` must be a DNS subdomain. */
export function validatePodSchedulingFields(obj: KubeObject): Errs {
  const spec = rec(obj.spec);
  const errs: Errs = [];
  if (spec.schedulingGroup !== undefined) {
    const name = rec(spec.schedulingGroup).podGroupName;
    if (typeof name !== 'string' || name === '')
      errs.push({ type: 'FieldValueRequired', field: 'spec.schedulingGroup.podGroupName', detail: '' });
    else errs.push(...invalidEach('spec.schedulingGroup.podGroupName', name, isDns1123Subdomain(name)));
  }
  if (spec.workloadRef !== undefined) {
    const ref = rec(spec.workloadRef);
    for (const key of ['name', 'podGroup']) {
      const v = ref[key];
      if (typeof v !== 'string' || v === '')
        errs.push({ type: 'FieldValueRequired', field: `spec.workloadRef.${key}`, detail: '' });
    }
  }
  return errs;
}
