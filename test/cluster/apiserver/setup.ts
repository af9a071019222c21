/**
 * Wires validation and admission plugins into a registry (kept apart so each plugin stays a small module).
 * Structural (schema) validation of resource.k8s.io/v1 and LeaderWorkerSet objects uses the official documents in
 * ../shared/k8s, which may not be copied into the project: where they are absent (a fresh clone) those kinds get no
 * schema check (no type errors, no pruning of unknown fields), while the semantic checks (validation/resource.ts,
 * object names) still run. Tests of the schema checks are declared with test/support/recorded.ts.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { installPolicyAdmission } from './admission.js';
import type { FieldError } from './errors.js';
import {
  prepareDeviceTaintRule,
  preparePodSchedulingFields,
  validateDeviceTaintRule,
  validatePodGroup,
  validatePodSchedulingFields,
  validateWorkload,
  type WorkloadApiVersion,
} from './gated-kinds.js';
import { JOBSET_SCHEMA } from './jobset-crd.js';
import { type KindSpec, resourceKey } from './kinds.js';
import { hasSharedK8s, resourceOpenApi, SHARED_K8S_DIR } from './openapi.js';
import { nowTimestamp, type Registry, type ValidationResult } from './registry.js';
import { isRecord, type KubeObject } from './types.js';
import { validateObjectMeta } from './validation/names.js';
import { validatePodUpdate } from './validation/pod.js';
import {
  prepareSliceTaints,
  validateClaimTemplate,
  validateDeviceClass,
  validateResourceClaim,
  validateResourceSlice,
} from './validation/resource.js';
import { crdFieldErrors, decodeErrorMessage, type Schema, SchemaSet } from './validation/schema.js';

export interface ValidationSettings {
  deviceTaints: boolean;
  /** the scheduling.k8s.io version served (GenericWorkload on), which decides the pod fields kept */
  workloads?: WorkloadApiVersion;
}

type Semantic = (obj: KubeObject, old: KubeObject | undefined, subresource: string | undefined) => FieldError[];

const NAME_RULES: Record<string, 'label' | 'subdomain' | 'path'> = {
  Namespace: 'label',
  Service: 'label',
  Role: 'path',
  ClusterRole: 'path',
  RoleBinding: 'path',
  ClusterRoleBinding: 'path',
};

let resourceSchemas: SchemaSet | undefined;
function resourceSchemaSet(): SchemaSet {
  const doc = resourceOpenApi() as { components: { schemas: Record<string, Schema> } };
  resourceSchemas ??= new SchemaSet(doc.components.schemas, false);
  return resourceSchemas;
}

const LWS_CRD = 'leaderworkerset.x-k8s.io_leaderworkersets.yaml';

/** The LeaderWorkerSet CRD's v1 schema from ../shared/k8s (kubernetes-sigs/lws v0.10.0). */
function loadLwsSchema(): Schema {
  const crd = parseYaml(readFileSync(new URL(LWS_CRD, SHARED_K8S_DIR), 'utf8')) as {
    spec: { versions: { name: string; schema: { openAPIV3Schema: Schema } }[] };
  };
  const v1 = crd.spec.versions.find((v) => v.name === 'v1');
  if (!v1) throw new Error('LeaderWorkerSet CRD has no v1 version');
  return v1.schema.openAPIV3Schema;
}

let lwsSchemas: SchemaSet | undefined;
function lwsSchemaSet(): SchemaSet {
  lwsSchemas ??= new SchemaSet({ LeaderWorkerSet: loadLwsSchema() }, true);
  return lwsSchemas;
}

let jobSetSchemas: SchemaSet | undefined;
function jobSetSchemaSet(): SchemaSet {
  jobSetSchemas ??= new SchemaSet({ JobSet: JOBSET_SCHEMA }, true);
  return jobSetSchemas;
}

function makeValidator(
  spec: KindSpec,
  semantic: Semantic | undefined,
  structural: { set: () => SchemaSet; name: string; crd: boolean } | undefined,
  prepare?: (obj: KubeObject, old: KubeObject | undefined) => void,
) {
  return (input: KubeObject, old: KubeObject | undefined, subresource: string | undefined): ValidationResult => {
    const obj = input;
    const errors: FieldError[] = [];
    const unknownFields: string[] = [];
    let decodeError: string | undefined;
    if (structural) {
      const set = structural.set();
      const schema = set.named(structural.name);
      unknownFields.push(...set.prune(obj, schema));
      const problems = set.errors(structural.name, obj);
      if (structural.crd) errors.push(...crdFieldErrors(problems, obj));
      else {
        const typeErr = problems.find((p) => p.keyword === 'type');
        if (typeErr)
          decodeError = decodeErrorMessage(spec.kind, spec.version, typeErr, valueAtPointer(obj, typeErr.instancePath));
      }
    }
    if (!decodeError) {
      prepare?.(obj, old);
      if (subresource !== 'status' && !old)
        errors.push(...validateObjectMeta(obj.metadata, NAME_RULES[spec.kind] ?? 'subdomain'));
      if (semantic) errors.push(...semantic(obj, old, subresource));
    }
    return { errors, warnings: [], unknownFields, object: obj, decodeError };
  };
}

function valueAtPointer(root: unknown, pointer: string): unknown {
  let cur = root;
  for (const seg of pointer.split('/').slice(1)) {
    if (Array.isArray(cur)) cur = cur[Number(seg)];
    else if (isRecord(cur)) cur = cur[seg];
    else return undefined;
  }
  return cur;
}

export function installValidation(registry: Registry, settings: ValidationSettings): void {
  for (const spec of registry.kinds.all) {
    if (spec.virtual || spec.storedAs) continue;
    let semantic: Semantic | undefined;
    let structural: { set: () => SchemaSet; name: string; crd: boolean } | undefined;
    let prepare: ((obj: KubeObject, old: KubeObject | undefined) => void) | undefined;
    if (spec.group === 'resource.k8s.io') {
      // the official document describes v1 only; DeviceTaintRule (v1beta2) gets its semantic checks
      if (resourceOpenApi() !== undefined && spec.version === 'v1')
        structural = { set: resourceSchemaSet, name: `io.k8s.api.resource.v1.${spec.kind}`, crd: false };
      switch (spec.kind) {
        case 'ResourceSlice':
          semantic = validateResourceSlice;
          prepare = (obj, old) => prepareSliceTaints(obj, old, settings.deviceTaints, nowTimestamp());
          break;
        case 'ResourceClaim':
          semantic = validateResourceClaim;
          break;
        case 'ResourceClaimTemplate':
          semantic = validateClaimTemplate;
          break;
        case 'DeviceClass':
          semantic = validateDeviceClass;
          break;
        case 'DeviceTaintRule':
          semantic = validateDeviceTaintRule;
          prepare = (obj, old) => {
            if (!old) prepareDeviceTaintRule(obj, nowTimestamp());
          };
          break;
      }
    } else if (spec.kind === 'Pod') {
      semantic = (obj, old, sub) => [
        ...validatePodUpdate(obj, old, sub),
        ...(sub ? [] : validatePodSchedulingFields(obj)),
      ];
      prepare = (obj, old) => preparePodSchedulingFields(obj, old, settings.workloads);
    } else if (spec.group === 'scheduling.k8s.io' && spec.kind === 'Workload') {
      const version = spec.version as WorkloadApiVersion;
      semantic = (obj, old) => validateWorkload(obj, old, version);
    } else if (spec.group === 'scheduling.k8s.io' && spec.kind === 'PodGroup') {
      semantic = validatePodGroup;
    } else if (spec.kind === 'LeaderWorkerSet' && hasSharedK8s(LWS_CRD)) {
      structural = { set: lwsSchemaSet, name: 'LeaderWorkerSet', crd: true };
    } else if (spec.kind === 'JobSet') {
      structural = { set: jobSetSchemaSet, name: 'JobSet', crd: true };
    }
    registry.validators.set(resourceKey(spec), makeValidator(spec, semantic, structural, prepare));
  }
}

export function installAdmission(registry: Registry): void {
  installPolicyAdmission(registry);
}
