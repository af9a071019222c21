/**
 * Protobuf request bodies of the kinds kubectl's typed clients create (`kubectl create namespace|configmap|secret|
 * serviceaccount|token|role|clusterrole|rolebinding|clusterrolebinding|deployment|job|service`), decoded into the JSON the same
 * object has on the wire. Message definitions are written from the field numbers of the API's generated.proto files
 * (k8s.io/api core/v1, apps/v1, batch/v1, rbac/v1, authentication/v1; k8s.io/apimachinery meta/v1, util/intstr, api/resource).
 *
 * The Go marshaller writes every non-pointer field, zero or not; JSON leaves zero values out (`omitempty`). So a zero
 * scalar of a non-pointer field is dropped here, while a pointer field (`keep`) is kept even when zero (`replicas: 0`,
 * `automountServiceAccountToken: false`). A field this table does not know is tolerated only when it holds the zero
 * value (an empty string, 0, an empty message); otherwise the body is refused with 415 naming the field, so a kind or
 * field the double cannot read fails loudly instead of losing data.
 *
 * Threats: truncated or malformed messages (length past the end, unknown wire types) → 400, never a crash; a
 * non-zero field the double does not know → 415; deeply nested bodies are bounded by the message tables (no recursion
 * through unknown fields).
 */
import { decodeFields } from './protobuf.js';

type Scalar = 'string' | 'bytes' | 'int32' | 'int64' | 'bool' | 'time' | 'quantity' | 'intOrString';

interface FieldDef {
  json: string;
  type: Scalar | { message: string } | { map: Scalar | { message: string } };
  repeated?: true;
  /** A pointer (or always-serialised) field in Go: its zero value is meaningful and kept. */
  keep?: true;
}

type MessageDef = Record<number, FieldDef>;

const str = (json: string, keep?: true): FieldDef => ({ json, type: 'string', ...(keep ? { keep } : {}) });
const strs = (json: string): FieldDef => ({ json, type: 'string', repeated: true });
const int32 = (json: string, keep?: true): FieldDef => ({ json, type: 'int32', ...(keep ? { keep } : {}) });
const int64 = (json: string, keep?: true): FieldDef => ({ json, type: 'int64', ...(keep ? { keep } : {}) });
const bool = (json: string, keep?: true): FieldDef => ({ json, type: 'bool', ...(keep ? { keep } : {}) });
const msg = (json: string, message: string): FieldDef => ({ json, type: { message } });
const msgs = (json: string, message: string): FieldDef => ({ json, type: { message }, repeated: true });
const stringMap = (json: string): FieldDef => ({ json, type: { map: 'string' } });

const MESSAGES: Record<string, MessageDef> = {
  // k8s.io/apimachinery/pkg/apis/meta/v1
  ObjectMeta: {
    1: str('name'),
    2: str('generateName'),
    3: str('namespace'),
    4: str('selfLink'),
    5: str('uid'),
    6: str('resourceVersion'),
    7: int64('generation'),
    8: { json: 'creationTimestamp', type: 'time' },
    9: { json: 'deletionTimestamp', type: 'time' },
    10: int64('deletionGracePeriodSeconds', true),
    11: stringMap('labels'),
    12: stringMap('annotations'),
    13: msgs('ownerReferences', 'OwnerReference'),
    14: strs('finalizers'),
  },
  OwnerReference: {
    1: str('kind'),
    3: str('name'),
    4: str('uid'),
    5: str('apiVersion'),
    6: bool('controller', true),
    7: bool('blockOwnerDeletion', true),
  },
  LabelSelector: { 1: stringMap('matchLabels'), 2: msgs('matchExpressions', 'LabelSelectorRequirement') },
  LabelSelectorRequirement: { 1: str('key'), 2: str('operator'), 3: strs('values') },
  // core/v1
  Namespace: { 1: msg('metadata', 'ObjectMeta'), 2: msg('spec', 'NamespaceSpec'), 3: msg('status', 'Empty') },
  NamespaceSpec: { 1: strs('finalizers') },
  ConfigMap: {
    1: msg('metadata', 'ObjectMeta'),
    2: stringMap('data'),
    3: { json: 'binaryData', type: { map: 'bytes' } },
    4: bool('immutable', true),
  },
  Secret: {
    1: msg('metadata', 'ObjectMeta'),
    2: { json: 'data', type: { map: 'bytes' } },
    3: str('type'),
    4: stringMap('stringData'),
    5: bool('immutable', true),
  },
  ServiceAccount: {
    1: msg('metadata', 'ObjectMeta'),
    2: msgs('secrets', 'ObjectReference'),
    3: msgs('imagePullSecrets', 'LocalObjectReference'),
    4: bool('automountServiceAccountToken', true),
  },
  ObjectReference: {
    1: str('kind'),
    2: str('namespace'),
    3: str('name'),
    4: str('uid'),
    5: str('apiVersion'),
    6: str('resourceVersion'),
    7: str('fieldPath'),
  },
  LocalObjectReference: { 1: str('name') },
  PodTemplateSpec: { 1: msg('metadata', 'ObjectMeta'), 2: msg('spec', 'PodSpec') },
  PodSpec: {
    2: msgs('containers', 'Container'),
    3: str('restartPolicy'),
    4: int64('terminationGracePeriodSeconds', true),
    6: str('dnsPolicy'),
    7: stringMap('nodeSelector'),
    8: str('serviceAccountName'),
    10: str('nodeName'),
    11: bool('hostNetwork'),
    15: msgs('imagePullSecrets', 'LocalObjectReference'),
    16: str('hostname'),
    17: str('subdomain'),
    19: str('schedulerName'),
    20: msgs('initContainers', 'Container'),
    21: bool('automountServiceAccountToken', true),
    24: str('priorityClassName'),
  },
  Container: {
    1: str('name'),
    2: str('image'),
    3: strs('command'),
    4: strs('args'),
    5: str('workingDir'),
    6: msgs('ports', 'ContainerPort'),
    7: msgs('env', 'EnvVar'),
    8: msg('resources', 'ResourceRequirements'),
    13: str('terminationMessagePath'),
    14: str('imagePullPolicy'),
    16: bool('stdin'),
    17: bool('stdinOnce'),
    18: bool('tty'),
    20: str('terminationMessagePolicy'),
  },
  ContainerPort: {
    1: str('name'),
    2: int32('hostPort'),
    3: int32('containerPort'),
    4: str('protocol'),
    5: str('hostIP'),
  },
  EnvVar: { 1: str('name'), 2: str('value') },
  ResourceRequirements: {
    1: { json: 'limits', type: { map: 'quantity' } },
    2: { json: 'requests', type: { map: 'quantity' } },
  },
  Service: { 1: msg('metadata', 'ObjectMeta'), 2: msg('spec', 'ServiceSpec'), 3: msg('status', 'Empty') },
  ServiceSpec: {
    1: msgs('ports', 'ServicePort'),
    2: stringMap('selector'),
    3: str('clusterIP'),
    4: str('type'),
    5: strs('externalIPs'),
    7: str('sessionAffinity'),
    11: str('externalName'),
    18: strs('clusterIPs'),
  },
  ServicePort: {
    1: str('name'),
    2: str('protocol'),
    3: int32('port'),
    4: { json: 'targetPort', type: 'intOrString' },
    5: int32('nodePort'),
  },
  // batch/v1
  Job: { 1: msg('metadata', 'ObjectMeta'), 2: msg('spec', 'JobSpec'), 3: msg('status', 'Empty') },
  JobSpec: {
    1: int32('parallelism', true),
    2: int32('completions', true),
    3: int64('activeDeadlineSeconds', true),
    4: msg('selector', 'LabelSelector'),
    5: bool('manualSelector', true),
    6: msg('template', 'PodTemplateSpec'),
    7: int32('backoffLimit', true),
    8: int32('ttlSecondsAfterFinished', true),
    9: str('completionMode', true),
    10: bool('suspend', true),
  },
  // apps/v1
  Deployment: { 1: msg('metadata', 'ObjectMeta'), 2: msg('spec', 'DeploymentSpec'), 3: msg('status', 'Empty') },
  DeploymentSpec: {
    1: int32('replicas', true),
    2: msg('selector', 'LabelSelector'),
    3: msg('template', 'PodTemplateSpec'),
    4: msg('strategy', 'DeploymentStrategy'),
    5: int32('minReadySeconds'),
    6: int32('revisionHistoryLimit', true),
    7: bool('paused'),
    9: int32('progressDeadlineSeconds', true),
  },
  DeploymentStrategy: { 1: str('type'), 2: msg('rollingUpdate', 'RollingUpdateDeployment') },
  RollingUpdateDeployment: {
    1: { json: 'maxUnavailable', type: 'intOrString', keep: true },
    2: { json: 'maxSurge', type: 'intOrString', keep: true },
  },
  // rbac/v1
  Role: { 1: msg('metadata', 'ObjectMeta'), 2: msgs('rules', 'PolicyRule') },
  ClusterRole: {
    1: msg('metadata', 'ObjectMeta'),
    2: msgs('rules', 'PolicyRule'),
    3: msg('aggregationRule', 'AggregationRule'),
  },
  AggregationRule: { 1: msgs('clusterRoleSelectors', 'LabelSelector') },
  PolicyRule: {
    1: strs('verbs'),
    2: strs('apiGroups'),
    3: strs('resources'),
    4: strs('resourceNames'),
    5: strs('nonResourceURLs'),
  },
  RoleBinding: { 1: msg('metadata', 'ObjectMeta'), 2: msgs('subjects', 'Subject'), 3: msg('roleRef', 'RoleRef') },
  ClusterRoleBinding: {
    1: msg('metadata', 'ObjectMeta'),
    2: msgs('subjects', 'Subject'),
    3: msg('roleRef', 'RoleRef'),
  },
  Subject: { 1: str('kind'), 2: str('apiGroup'), 3: str('name'), 4: str('namespace') },
  RoleRef: { 1: str('apiGroup'), 2: str('kind'), 3: str('name') },
  // authentication/v1
  TokenRequest: { 1: msg('metadata', 'ObjectMeta'), 2: msg('spec', 'TokenRequestSpec'), 3: msg('status', 'Empty') },
  TokenRequestSpec: {
    1: strs('audiences'),
    3: msg('boundObjectRef', 'BoundObjectReference'),
    4: int64('expirationSeconds', true),
  },
  BoundObjectReference: { 1: str('kind'), 2: str('apiVersion'), 3: str('name'), 4: str('uid') },
  /** A status the client leaves empty on create: every field it holds must be zero. */
  Empty: {},
};

/** The top-level message of each kind whose protobuf bodies are read. */
const KIND_MESSAGES = new Set([
  'Namespace',
  'Service',
  'Job',
  'ConfigMap',
  'Secret',
  'ServiceAccount',
  'Deployment',
  'Role',
  'ClusterRole',
  'RoleBinding',
  'ClusterRoleBinding',
  'TokenRequest',
]);

export class ProtobufDecodeError extends Error {
  constructor(
    message: string,
    /** 400: the bytes are not a valid message; 415: valid, but holding what the double cannot read. */
    readonly status: 400 | 415,
  ) {
    super(message);
  }
}

export function protobufKindSupported(kind: string): boolean {
  return KIND_MESSAGES.has(kind);
}

function isZero(v: Buffer | bigint): boolean {
  return typeof v === 'bigint' ? v === 0n : v.length === 0;
}

function varint(v: Buffer | bigint, path: string): bigint {
  if (typeof v !== 'bigint') throw new ProtobufDecodeError(`${path}: expected a varint`, 400);
  return v;
}

function bytes(v: Buffer | bigint, path: string): Buffer {
  if (typeof v === 'bigint') throw new ProtobufDecodeError(`${path}: expected length-delimited bytes`, 400);
  return v;
}

function fields(buf: Buffer, path: string): Map<number, (Buffer | bigint)[]> {
  try {
    return decodeFields(buf);
  } catch (err) {
    throw new ProtobufDecodeError(`${path}: ${(err as Error).message}`, 400);
  }
}

/** metav1.Time: {seconds, nanos} → RFC 3339 with seconds; the zero time is absent. */
function decodeTime(buf: Buffer, path: string): string | undefined {
  const f = fields(buf, path);
  const seconds = f.get(1)?.[0];
  if (seconds === undefined) return undefined;
  const s = BigInt.asIntN(64, varint(seconds, `${path}.seconds`));
  if (s === 0n) return undefined;
  return `${new Date(Number(s) * 1000).toISOString().slice(0, 19)}Z`;
}

function decodeIntOrString(buf: Buffer, path: string): number | string {
  const f = fields(buf, path);
  const type = f.get(1)?.[0];
  if (type !== undefined && varint(type, `${path}.type`) === 1n) {
    const s = f.get(3)?.[0];
    return s === undefined ? '' : bytes(s, `${path}.strVal`).toString('utf8');
  }
  const i = f.get(2)?.[0];
  return i === undefined ? 0 : Number(BigInt.asIntN(32, varint(i, `${path}.intVal`)));
}

function decodeScalar(type: Scalar, v: Buffer | bigint, path: string): unknown {
  switch (type) {
    case 'string':
      return bytes(v, path).toString('utf8');
    case 'bytes':
      return bytes(v, path).toString('base64');
    case 'int32':
      return Number(BigInt.asIntN(32, varint(v, path)));
    case 'int64':
      return Number(BigInt.asIntN(64, varint(v, path)));
    case 'bool':
      return varint(v, path) !== 0n;
    case 'time':
      return decodeTime(bytes(v, path), path);
    case 'quantity': {
      const s = fields(bytes(v, path), path).get(1)?.[0];
      return s === undefined ? '0' : bytes(s, path).toString('utf8');
    }
    case 'intOrString':
      return decodeIntOrString(bytes(v, path), path);
  }
}

function isZeroJson(value: unknown): boolean {
  return value === '' || value === 0 || value === false || value === undefined;
}

function decodeValue(type: FieldDef['type'], v: Buffer | bigint, path: string): unknown {
  if (typeof type === 'string') return decodeScalar(type, v, path);
  if ('message' in type) return decodeMessage(type.message, bytes(v, path), path);
  throw new ProtobufDecodeError(`${path}: a map inside a map`, 400);
}

function decodeMessage(name: string, buf: Buffer, path: string): Record<string, unknown> {
  const def = MESSAGES[name];
  const out: Record<string, unknown> = {};
  for (const [n, values] of fields(buf, path)) {
    const field = def[n];
    if (!field) {
      if (values.every(isZero)) continue;
      throw new ProtobufDecodeError(
        `protobuf field ${n} of ${name} (${path}) is not read by the test cluster; send JSON (-o json | kubectl apply -f -)`,
        415,
      );
    }
    const fieldPath = `${path}.${field.json}`;
    if (typeof field.type === 'object' && 'map' in field.type) {
      const map: Record<string, unknown> = {};
      for (const entry of values) {
        const e = fields(bytes(entry, fieldPath), fieldPath);
        const key = e.get(1)?.[0];
        const value = e.get(2)?.[0];
        const k = key === undefined ? '' : bytes(key, fieldPath).toString('utf8');
        map[k] =
          value === undefined
            ? field.type.map === 'bytes' || field.type.map === 'string'
              ? ''
              : {}
            : decodeValue(field.type.map, value, `${fieldPath}[${k}]`);
      }
      if (Object.keys(map).length > 0) out[field.json] = map;
      continue;
    }
    if (field.repeated) {
      const list = values.map((v, i) => decodeValue(field.type, v, `${fieldPath}[${i}]`));
      out[field.json] = [...((out[field.json] as unknown[] | undefined) ?? []), ...list];
      continue;
    }
    const value = decodeValue(field.type, values[values.length - 1], fieldPath);
    if (value === undefined) continue;
    if (!field.keep && isZeroJson(value)) continue;
    out[field.json] = value;
  }
  return out;
}

/**
 * A protobuf body (the raw message inside the `k8s\0` envelope) of `kind` as JSON, with apiVersion and kind set.
 * Throws ProtobufDecodeError (400 malformed, 415 unreadable).
 */
export function decodeKindBody(apiVersion: string, kind: string, raw: Buffer): Record<string, unknown> {
  if (!KIND_MESSAGES.has(kind)) throw new ProtobufDecodeError(`protobuf bodies of kind ${kind} are not read`, 415);
  return { apiVersion, kind, ...decodeMessage(kind, raw, kind) };
}
