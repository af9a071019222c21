/**
 * Wires validation and admission plugins into a registry (kept apart so each plugin stays a small module).
 * Structural (schema) validation of resource.k8s.io/v1 and LeaderWorkerSet objects uses the official documents in
 * ../shared/k8s where they exist (they may not be copied into the project); where they are absent (a fresh clone), or
 * the server is told to ignore them, the authored schemas (openapi-schemas.ts, lws-crd.ts) check the same kinds, so
 * unknown fields are pruned or refused and wrong types refused either way. The semantic checks
 * (validation/resource.ts, object names) run on top of both.
 */
import type { ErrorObject } from 'ajv';
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
import { lwsSchemaFor, resourceOpenApi } from './openapi.js';
import {
  AUTHORED_SCHEMAS,
  authoredKindSchema,
  INT_OR_STRING_SCHEMA,
  withListAttributeFields,
} from './openapi-schemas.js';
import { nowTimestamp, type Registry, type ValidationResult } from './registry.js';
import { isRecord, type KubeObject } from './types.js';
import { validateObjectMeta } from './validation/names.js';
import { validatePodUpdate } from './validation/pod.js';
import {
  dropDeallocatedDeviceStatuses,
  prepareSliceListAttributes,
  prepareSliceTaints,
  validateClaimTemplate,
  validateDeviceClass,
  validateResourceClaim,
  validateResourceSlice,
} from './validation/resource.js';
import { crdFieldErrors, decodeErrorMessage, type Schema, SchemaSet } from './validation/schema.js';
import {
  validateJobSetUpdate,
  validateJobUpdate,
  validateLeaderWorkerSetUpdate,
  validateStatefulSetUpdate,
} from './validation/workloads.js';

export interface ValidationSettings {
  deviceTaints: boolean;
  /**
   * KEP-5491 list-typed attribute values: `fields`, whether the release's DeviceAttribute has them at all (1.36+;
   * otherwise the decoder prunes them as unknown fields); `gate`, DRAListTypeAttributes (off: dropped on write)
   */
  listAttributes: { fields: boolean; gate: boolean };
  /** the scheduling.k8s.io version served (GenericWorkload on), which decides the pod fields kept */
  workloads?: WorkloadApiVersion;
  /** check with the official documents of ../shared/k8s where they exist (false: the authored schemas only) */
  officialSchemas: boolean;
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

const resourceSchemas = new Map<boolean, SchemaSet>();
/**
 * The official resource.k8s.io/v1 document (1.34, without the list-typed attribute fields) as a schema set, with the
 * list fields added for a release that has them; built once each.
 */
function resourceSchemaSet(listFields: boolean): SchemaSet {
  let set = resourceSchemas.get(listFields);
  if (!set) {
    const doc = resourceOpenApi() as { components: { schemas: Record<string, Schema> } };
    set = new SchemaSet(withListAttributeFields(doc.components.schemas, listFields), false);
    resourceSchemas.set(listFields, set);
  }
  return set;
}

const lwsSchemas = new Map<boolean, SchemaSet>();
/** The LeaderWorkerSet schema set, official (where ../shared/k8s has it) or authored; built once each. */
function lwsSchemaSet(official: boolean): SchemaSet {
  let set = lwsSchemas.get(official);
  if (!set) {
    set = new SchemaSet({ LeaderWorkerSet: lwsSchemaFor(official) }, true);
    lwsSchemas.set(official, set);
  }
  return set;
}

const authoredSchemas = new Map<boolean, SchemaSet>();
/**
 * The authored schemas as the decoder checks them: IntOrString, which the documents describe as a string of format
 * int-or-string (clients read the format), accepts an integer or a string. DeviceAttribute has the list-typed fields
 * only for a release that has them.
 */
function authoredSchemaSet(listFields: boolean): SchemaSet {
  let set = authoredSchemas.get(listFields);
  if (!set) {
    set = new SchemaSet(
      withListAttributeFields(
        { ...AUTHORED_SCHEMAS, [INT_OR_STRING_SCHEMA]: { anyOf: [{ type: 'integer' }, { type: 'string' }] } },
        listFields,
      ),
      false,
    );
    authoredSchemas.set(listFields, set);
  }
  return set;
}

let jobSetSchemas: SchemaSet | undefined;
function jobSetSchemaSet(): SchemaSet {
  jobSetSchemas ??= new SchemaSet({ JobSet: JOBSET_SCHEMA }, true);
  return jobSetSchemas;
}

/**
 * Where a kind's structure is checked: the schema set and name; `crd` renders problems as apiextensions does, else
 * as the built-in decoder does (a type error is a 400 with encoding/json's message; `required` is Go validation's,
 * not the decoder's, so it is not reported from the schema).
 */
interface Structural {
  set: () => SchemaSet;
  name: string;
  crd: boolean;
}

/**
 * The decoder's first type error: a wrong JSON type for a field (inside IntOrString/Quantity, the union's own). A null
 * is never one: encoding/json leaves the field at its zero value.
 */
function decoderTypeError(problems: readonly ErrorObject[], obj: KubeObject): ErrorObject | undefined {
  return problems.find(
    (p) =>
      ((p.keyword === 'type' && !/\/(anyOf|oneOf)\//.test(p.schemaPath)) ||
        p.keyword === 'anyOf' ||
        p.keyword === 'oneOf') &&
      valueAtPointer(obj, p.instancePath) !== null,
  );
}

function makeValidator(
  spec: KindSpec,
  semantic: Semantic | undefined,
  structural: Structural | undefined,
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
        const typeErr = decoderTypeError(problems, obj);
        if (typeErr)
          decodeError = decodeErrorMessage(
            spec.kind,
            spec.version,
            set.goField(structural.name, typeErr.instancePath),
            valueAtPointer(obj, typeErr.instancePath),
          );
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
  const listFields = settings.listAttributes.fields;
  for (const spec of registry.kinds.all) {
    if (spec.virtual || spec.storedAs) continue;
    let semantic: Semantic | undefined;
    let structural: Structural | undefined;
    let prepare: ((obj: KubeObject, old: KubeObject | undefined) => void) | undefined;
    if (spec.group === 'resource.k8s.io') {
      // the official document describes v1 only; DeviceTaintRule (v1beta2) gets its semantic checks
      if (settings.officialSchemas && resourceOpenApi() !== undefined && spec.version === 'v1')
        structural = {
          set: () => resourceSchemaSet(listFields),
          name: `io.k8s.api.resource.v1.${spec.kind}`,
          crd: false,
        };
      switch (spec.kind) {
        case 'ResourceSlice':
          semantic = validateResourceSlice;
          prepare = (obj, old) => {
            prepareSliceTaints(obj, old, settings.deviceTaints, nowTimestamp());
            prepareSliceListAttributes(obj, old, settings.listAttributes.gate);
          };
          break;
        case 'ResourceClaim':
          semantic = validateResourceClaim;
          prepare = (obj) => dropDeallocatedDeviceStatuses(obj);
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
    }
    // immutable-field checks of the injected workloads; kept apart from the schema choice below, since the authored
    // apps/batch schemas would otherwise shadow them
    if (spec.kind === 'LeaderWorkerSet') semantic = validateLeaderWorkerSetUpdate;
    else if (spec.kind === 'JobSet') semantic = validateJobSetUpdate;
    else if (spec.group === 'apps' && spec.kind === 'StatefulSet') semantic = validateStatefulSetUpdate;
    else if (spec.group === 'batch' && spec.kind === 'Job') semantic = validateJobUpdate;
    const authored = authoredKindSchema(spec.group, spec.version, spec.kind);
    if (structural) {
      // the official resource.k8s.io/v1 document, chosen above
    } else if (authored) {
      structural = { set: () => authoredSchemaSet(listFields), name: authored, crd: false };
    } else if (spec.kind === 'LeaderWorkerSet') {
      const official = settings.officialSchemas;
      structural = { set: () => lwsSchemaSet(official), name: 'LeaderWorkerSet', crd: true };
    } else if (spec.kind === 'JobSet') {
      structural = { set: jobSetSchemaSet, name: 'JobSet', crd: true };
    }
    registry.validators.set(resourceKey(spec), makeValidator(spec, semantic, structural, prepare));
  }
}

export function installAdmission(registry: Registry): void {
  installPolicyAdmission(registry);
}
