/**
 * Structural validation against OpenAPI schemas (ajv): the official resource.k8s.io/v1 document for built-in kinds,
 * a CRD's openAPIV3Schema for custom resources. Unknown fields are found by walking the schema (the documents do
 * not say `additionalProperties: false`) and dropped, as the real decoder and CRD pruning do.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { FieldError } from '../errors.js';
import { isRecord } from '../types.js';

export type Schema = Record<string, unknown>;

/** `/spec/devices/0/name` → `spec.devices[0].name` (field.Path rendering). */
function fieldPath(pointer: string): string {
  let out = '';
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (/^\d+$/.test(seg)) out += `[${seg}]`;
    else out += out === '' ? seg : `.${seg}`;
  }
  return out;
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

export class SchemaSet {
  private readonly ajv: Ajv;
  private readonly compiled = new Map<string, ValidateFunction>();

  /**
   * `components`: a map of named schemas referenced as `#/components/schemas/<name>`; `useDefaults` applies schema
   * defaults (CRDs do; built-in kinds are defaulted by Go code instead).
   */
  constructor(
    private readonly schemas: Record<string, Schema>,
    useDefaults: boolean,
  ) {
    // code.optimize off: the LWS schema embeds two PodTemplateSpecs; unoptimised code compiles ~2.5× faster and
    // validates fast enough for a test server.
    this.ajv = new Ajv({
      strict: false,
      validateFormats: false,
      allErrors: true,
      useDefaults,
      validateSchema: false,
      code: { optimize: false },
    });
    this.ajv.addSchema({ $id: 'k8s', components: { schemas } }, 'k8s');
  }

  private resolve(s: unknown): Schema {
    let cur: unknown = s;
    for (let guard = 0; guard < 20 && isRecord(cur); guard++) {
      if (typeof cur.$ref === 'string') {
        cur = this.schemas[cur.$ref.replace('#/components/schemas/', '')];
        continue;
      }
      if (Array.isArray(cur.allOf) && cur.allOf.length === 1 && !cur.properties && !cur.type) {
        cur = cur.allOf[0];
        continue;
      }
      break;
    }
    return isRecord(cur) ? cur : {};
  }

  /** Drops fields the schema does not declare; returns their paths. Mutates `value`. */
  prune(value: unknown, schema: Schema, path = ''): string[] {
    const s = this.resolve(schema);
    if (s['x-kubernetes-preserve-unknown-fields'] === true || s['x-kubernetes-embedded-resource'] === true) {
      if (!isRecord(s.properties)) return [];
    }
    const unknown: string[] = [];
    if (Array.isArray(value)) {
      if (s.items)
        for (let i = 0; i < value.length; i++)
          unknown.push(...this.prune(value[i], s.items as Schema, `${path}[${i}]`));
      return unknown;
    }
    if (!isRecord(value)) return unknown;
    const props = isRecord(s.properties) ? s.properties : undefined;
    const additional = s.additionalProperties;
    for (const key of Object.keys(value)) {
      if (props && Object.hasOwn(props, key)) {
        unknown.push(...this.prune(value[key], props[key] as Schema, join(path, key)));
      } else if (isRecord(additional)) {
        unknown.push(...this.prune(value[key], additional, `${path}[${key}]`));
      } else if (additional === true || s['x-kubernetes-preserve-unknown-fields'] === true) {
        // kept as is
      } else if (props) {
        if (path === '' && (key === 'apiVersion' || key === 'kind')) continue;
        unknown.push(join(path, key));
        delete value[key];
      }
    }
    return unknown;
  }

  validator(name: string): ValidateFunction {
    let fn = this.compiled.get(name);
    if (!fn) {
      fn = this.ajv.compile({ $ref: `k8s#/components/schemas/${name}` });
      this.compiled.set(name, fn);
    }
    return fn;
  }

  /** ajv errors of `value` against the named schema (empty when valid). */
  errors(name: string, value: unknown): ErrorObject[] {
    const fn = this.validator(name);
    return fn(value) ? [] : [...(fn.errors ?? [])];
  }

  /** The schema for a name, for prune(). */
  named(name: string): Schema {
    return this.schemas[name] ?? {};
  }

  /**
   * Where a JSON pointer lands, in Go's terms, for encoding/json's "cannot unmarshal" message: the Go struct that
   * holds the field (the last named schema walked through), the field path from the root without list indexes or map
   * keys (as Go's decoder reports it), and the field's Go type.
   */
  goField(rootName: string, pointer: string): { struct: string; path: string; goType: string } {
    let struct = goName(rootName);
    let current: Schema = this.named(rootName);
    const fields: string[] = [];
    for (const raw of pointer.split('/').slice(1)) {
      const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
      const named = this.refName(current);
      if (named) struct = goName(named);
      const s = this.resolve(current);
      if (s.type === 'array' && isRecord(s.items)) {
        current = s.items;
        continue;
      }
      const props = isRecord(s.properties) ? s.properties : undefined;
      if (props && isRecord(props[seg])) {
        fields.push(seg);
        current = props[seg];
      } else if (isRecord(s.additionalProperties)) {
        current = s.additionalProperties;
      } else break;
    }
    return { struct, path: fields.join('.'), goType: this.goType(current) };
  }

  private refName(s: Schema): string | undefined {
    let cur: unknown = s;
    for (let guard = 0; guard < 5 && isRecord(cur); guard++) {
      if (typeof cur.$ref === 'string') return cur.$ref.replace('#/components/schemas/', '');
      if (Array.isArray(cur.allOf) && cur.allOf.length === 1) cur = cur.allOf[0];
      else return undefined;
    }
    return undefined;
  }

  /** A schema's Go type as Go prints it: `int32`, `[]v1.Container`, `map[string]string`, `v1.PodSpec`. */
  private goType(schema: Schema): string {
    const named = this.refName(schema);
    if (named) return goName(named, true);
    const s = this.resolve(schema);
    if (s.type === 'array') return `[]${isRecord(s.items) ? this.goType(s.items) : 'interface {}'}`;
    if (s.type === 'object')
      return `map[string]${isRecord(s.additionalProperties) ? this.goType(s.additionalProperties) : 'interface {}'}`;
    if (s.type === 'integer') return typeof s.format === 'string' ? s.format : 'int64';
    if (s.type === 'boolean') return 'bool';
    if (s.type === 'number') return 'float64';
    return 'string';
  }
}

/** `io.k8s.api.core.v1.PodSpec` → `PodSpec`, or with its package as Go prints a type: `v1.PodSpec`. */
function goName(schemaName: string, qualified = false): string {
  const parts = schemaName.split('.');
  const last = parts.at(-1) ?? schemaName;
  return qualified && parts.length > 1 ? `${parts.at(-2)}.${last}` : last;
}

/** Go's name for a JSON value's type, as encoding/json reports it in "cannot unmarshal X into …". */
function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (v === null) return 'null';
  if (typeof v === 'object') return 'object';
  return typeof v;
}

/** Go's name for a JSON value in encoding/json's "cannot unmarshal <value> into …". */
function goValueKind(v: unknown): string {
  if (typeof v === 'boolean') return 'bool';
  return jsonKind(v);
}

/**
 * Type errors of a built-in kind: the real server fails decoding with 400 before validation, with encoding/json's
 * message, e.g. `Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal number into Go struct field
 * Container.spec.containers.image of type string`.
 */
export function decodeErrorMessage(
  kind: string,
  version: string,
  field: { struct: string; path: string; goType: string },
  value: unknown,
): string {
  return `${kind} in version "${version}" cannot be handled as a ${kind}: json: cannot unmarshal ${goValueKind(value)} into Go struct field ${field.struct}.${field.path} of type ${field.goType}`;
}

/** CRD schema errors as apiextensions-apiserver renders them. */
export function crdFieldErrors(errors: ErrorObject[], root: unknown): FieldError[] {
  const out: FieldError[] = [];
  for (const e of errors) {
    const path = fieldPath(e.instancePath);
    const value = valueAt(root, e.instancePath);
    switch (e.keyword) {
      case 'required':
        out.push({ type: 'FieldValueRequired', field: join(path, String(e.params.missingProperty)), detail: '' });
        break;
      case 'type':
        out.push({
          type: 'FieldValueTypeInvalid',
          field: path,
          value,
          detail: `${path} in body must be of type ${String(e.params.type)}: "${jsonKind(value)}"`,
        });
        break;
      case 'enum':
        out.push({
          type: 'FieldValueNotSupported',
          field: path,
          value,
          detail: '',
          supported: (e.params.allowedValues as unknown[]).map(String),
        });
        break;
      case 'oneOf':
      case 'anyOf':
        break;
      default:
        out.push({
          type: 'FieldValueInvalid',
          field: path,
          value,
          detail: `${path} in body ${e.message ?? 'is invalid'}`,
        });
    }
  }
  return out;
}

function valueAt(root: unknown, pointer: string): unknown {
  let cur = root;
  for (const raw of pointer.split('/').slice(1)) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) cur = cur[Number(seg)];
    else if (isRecord(cur)) cur = cur[seg];
    else return undefined;
  }
  return cur;
}
