/**
 * /openapi/v3: the root index and one document per group-version. resource.k8s.io/v1 is served from the official
 * document in ../shared/k8s where it exists and the server is allowed to use it (a fresh clone has none: then it gets
 * a generated document too); the others are generated: per kind, the operations with the PATCH `fieldValidation`
 * parameter (what kubectl reads to decide that the server validates fields itself), and `components.schemas` with the
 * kind's field schema — authored for the core, apps, batch and resource.k8s.io kinds (openapi-schemas.ts), JobSet's
 * (jobset-crd.ts), and LeaderWorkerSet's (the official CRD schema from ../shared/k8s where it exists and is allowed,
 * else the authored lws-crd.ts) — so `kubectl explain` shows fields. Kinds without a schema (RBAC, Events, Leases, …)
 * get operations only: explain names the kind and shows no fields.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { RECORDED_K8S } from '../../support/recorded.js';
import { JOBSET_SCHEMA } from './jobset-crd.js';
import { apiVersionOf, type KindRegistry, type KindSpec } from './kinds.js';
import { LWS_SCHEMA } from './lws-crd.js';
import { AUTHORED_SCHEMAS, authoredKindSchema, closure, withListAttributeFields } from './openapi-schemas.js';
import type { Schema } from './validation/schema.js';

/** ../shared/k8s (official schemas; may not be copied into the project). */
const SHARED_K8S_DIR = pathToFileURL(`${RECORDED_K8S}/`);

/** Whether ../shared/k8s holds `name`. */
function hasSharedK8s(name: string): boolean {
  return existsSync(new URL(name, SHARED_K8S_DIR));
}

const RESOURCE_DOC = 'apis__resource.k8s.io__v1_openapi.json';
let resourceDoc: unknown;
/** The official resource.k8s.io/v1 OpenAPI document, or undefined where ../shared/k8s is absent. */
export function resourceOpenApi(): unknown {
  if (!hasSharedK8s(RESOURCE_DOC)) return undefined;
  resourceDoc ??= JSON.parse(readFileSync(new URL(RESOURCE_DOC, SHARED_K8S_DIR), 'utf8'));
  return resourceDoc;
}

const LWS_CRD = 'leaderworkerset.x-k8s.io_leaderworkersets.yaml';

let lwsSchema: Schema | undefined;
/** The LeaderWorkerSet CRD's v1 schema from ../shared/k8s (kubernetes-sigs/lws v0.10.0); read once. */
export function loadLwsSchema(): Schema {
  if (lwsSchema) return lwsSchema;
  const crd = parseYaml(readFileSync(new URL(LWS_CRD, SHARED_K8S_DIR), 'utf8')) as {
    spec: { versions: { name: string; schema: { openAPIV3Schema: Schema } }[] };
  };
  const v1 = crd.spec.versions.find((v) => v.name === 'v1');
  if (!v1) throw new Error('LeaderWorkerSet CRD has no v1 version');
  lwsSchema = v1.schema.openAPIV3Schema;
  return lwsSchema;
}

/**
 * The LeaderWorkerSet schema the server uses: the official CRD's when `official` allows it and ../shared/k8s holds it,
 * else the authored one.
 */
export function lwsSchemaFor(official: boolean): Schema {
  return official && hasSharedK8s(LWS_CRD) ? loadLwsSchema() : LWS_SCHEMA;
}

/** Custom kinds' schemas, as a real server publishes a CRD's: named by the reversed group, with their GVK. */
function customKindSchema(k: KindSpec, official: boolean): { name: string; schema: Schema } | undefined {
  let schema: Schema | undefined;
  if (k.kind === 'JobSet') schema = JOBSET_SCHEMA;
  else if (k.kind === 'LeaderWorkerSet') schema = lwsSchemaFor(official);
  if (!schema) return undefined;
  const name = `${k.group.split('.').reverse().join('.')}.${k.version}.${k.kind}`;
  const properties = (schema.properties ?? {}) as Record<string, Schema>;
  return {
    name,
    schema: {
      ...schema,
      properties: {
        apiVersion: { type: 'string', description: 'The versioned schema of this object (group/version).' },
        kind: { type: 'string', description: 'The REST resource this object represents.' },
        ...properties,
        metadata: {
          description: 'Standard object metadata.',
          allOf: [{ $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' }],
        },
      },
      'x-kubernetes-group-version-kind': [{ group: k.group, version: k.version, kind: k.kind }],
    },
  };
}

/** `components.schemas` of a generated document: the kinds' schemas and everything they reference. */
function kindSchemas(kinds: KindSpec[], official: boolean, listAttributeFields: boolean): Record<string, Schema> {
  const pool: Record<string, Schema> = withListAttributeFields({ ...AUTHORED_SCHEMAS }, listAttributeFields);
  const roots: string[] = [];
  for (const k of kinds) {
    const authored = authoredKindSchema(k.group, k.version, k.kind);
    if (authored) roots.push(authored);
    const custom = customKindSchema(k, official);
    if (custom) {
      pool[custom.name] = custom.schema;
      roots.push(custom.name);
    }
  }
  return closure(roots, pool);
}

function gvPath(group: string, version: string): string {
  return group === '' ? `api/${version}` : `apis/${group}/${version}`;
}

function stubDoc(
  kinds: KindSpec[],
  group: string,
  version: string,
  official: boolean,
  listAttributeFields: boolean,
): unknown {
  const paths: Record<string, unknown> = {};
  for (const k of kinds) {
    const base = `/${gvPath(group, version)}${k.namespaced ? '/namespaces/{namespace}' : ''}/${k.plural}`;
    const gvk = { group, version, kind: k.kind };
    const params = [
      { name: 'dryRun', in: 'query', schema: { type: 'string', uniqueItems: true } },
      { name: 'fieldManager', in: 'query', schema: { type: 'string', uniqueItems: true } },
      { name: 'fieldValidation', in: 'query', schema: { type: 'string', uniqueItems: true } },
    ];
    const content = Object.fromEntries(
      ['application/json-patch+json', 'application/merge-patch+json', 'application/apply-patch+yaml'].map((t) => [
        t,
        { schema: { type: 'object' } },
      ]),
    );
    paths[`${base}/{name}`] = {
      get: { operationId: `read${k.kind}`, 'x-kubernetes-action': 'get', 'x-kubernetes-group-version-kind': gvk },
      put: {
        operationId: `replace${k.kind}`,
        parameters: params,
        'x-kubernetes-action': 'put',
        'x-kubernetes-group-version-kind': gvk,
      },
      patch: {
        operationId: `patch${k.kind}`,
        parameters: params,
        requestBody: { content, required: true },
        'x-kubernetes-action': 'patch',
        'x-kubernetes-group-version-kind': gvk,
      },
    };
    paths[base] = {
      post: {
        operationId: `create${k.kind}`,
        parameters: params,
        'x-kubernetes-action': 'post',
        'x-kubernetes-group-version-kind': gvk,
      },
    };
  }
  return {
    openapi: '3.0.0',
    info: { title: 'Kubernetes', version: 'v1.34.0' },
    paths,
    components: { schemas: kindSchemas(kinds, official, listAttributeFields) },
  };
}

/** The official resource.k8s.io/v1 document, its DeviceAttribute with or without the list-typed fields. */
function officialResourceDoc(listAttributeFields: boolean): unknown {
  const doc = resourceOpenApi() as { components: { schemas: Record<string, Schema> } } | undefined;
  if (!doc || !listAttributeFields) return doc;
  return { ...doc, components: { ...doc.components, schemas: withListAttributeFields(doc.components.schemas, true) } };
}

export class OpenApi {
  private readonly docs = new Map<string, { doc: unknown; hash: string }>();

  /**
   * `official`: serve the official documents of ../shared/k8s where they exist (false: the authored schemas only).
   * `listAttributeFields`: DeviceAttribute shows the list-typed fields of 1.36+ (added to the official 1.34 document).
   */
  constructor(kinds: KindRegistry, official: boolean, listAttributeFields = false) {
    for (const gv of kinds.groupVersions()) {
      const list = kinds.all.filter((k) => k.group === gv.group && k.version === gv.version && !k.virtual);
      const officialDoc =
        official && apiVersionOf(gv) === 'resource.k8s.io/v1' ? officialResourceDoc(listAttributeFields) : undefined;
      const doc = officialDoc ?? stubDoc(list, gv.group, gv.version, official, listAttributeFields);
      const hash = createHash('sha512').update(JSON.stringify(doc)).digest('hex').slice(0, 128).toUpperCase();
      this.docs.set(gvPath(gv.group, gv.version), { doc, hash });
    }
  }

  /**
   * /openapi/v2: kubectl reads it (protobuf, gnostic openapi_v2.Document) to validate a `List` and files for
   * `kubectl replace`/`create` client-side. It declares no definitions, so kubectl skips client-side checks of each
   * item (kubectl's SchemaValidation does for a kind it finds no model of) and the server validates with
   * `fieldValidation=Strict`, which the v3 documents declare.
   */
  v2(accept: string | undefined): { body: Buffer; contentType: string } {
    const title = 'Kubernetes';
    const version = 'v1.34.0';
    if (accept?.includes('protobuf')) {
      const str = (field: number, value: string) => {
        const bytes = Buffer.from(value);
        return Buffer.concat([Buffer.from([(field << 3) | 2, bytes.length]), bytes]);
      };
      const info = Buffer.concat([str(1, title), str(2, version)]);
      const body = Buffer.concat([str(1, '2.0'), Buffer.from([(2 << 3) | 2, info.length]), info]);
      return { body, contentType: 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf' };
    }
    const json = { swagger: '2.0', info: { title, version }, paths: {}, definitions: {} };
    return { body: Buffer.from(JSON.stringify(json)), contentType: 'application/json' };
  }

  /** The answer for /openapi/<segments>; undefined → 404. */
  serve(segments: string[], _query: URLSearchParams): unknown {
    if (segments[0] !== 'v3') return undefined;
    if (segments.length === 1) {
      const paths: Record<string, unknown> = {};
      for (const [path, { hash }] of this.docs) paths[path] = { serverRelativeURL: `/openapi/v3/${path}?hash=${hash}` };
      return { paths };
    }
    return this.docs.get(segments.slice(1).join('/'))?.doc;
  }
}
