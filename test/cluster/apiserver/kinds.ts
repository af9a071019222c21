/**
 * The kinds the server serves. Adding a kind is one entry in KINDS; everything else (routing, discovery, tables,
 * OpenAPI stubs, RBAC resource names) is derived from it.
 */
import { ageOf } from './age.js';
import type { KubeObject } from './types.js';
import { isRecord } from './types.js';

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete' | 'deletecollection';

export const ALL_VERBS: Verb[] = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

export interface Column {
  name: string;
  type: 'string' | 'integer' | 'date' | 'number' | 'boolean';
  format?: string;
  priority?: number;
  description: string;
  cell: (obj: KubeObject, now: number) => string | number | boolean;
}

export interface KindSpec {
  group: string;
  version: string;
  kind: string;
  plural: string;
  singular: string;
  namespaced: boolean;
  shortNames?: string[];
  categories?: string[];
  verbs?: Verb[];
  /** Subresources served: `status` (spec and status written separately), `token` (TokenRequest). */
  subresources?: ('status' | 'token' | 'binding')[];
  /** Field selectors beyond metadata.name / metadata.namespace, as the real registry's GetAttrs serves them. */
  fields?: Record<string, (obj: KubeObject) => string | undefined>;
  /** Columns of `kubectl get` (server-side printing); NAME and AGE when absent. */
  columns?: Column[];
  /** metadata.generation counts spec changes. */
  generation?: boolean;
  /** A custom resource (served from a CRD): strategic merge patch is refused, list items keep kind/apiVersion. */
  custom?: boolean;
  /** Never stored: a create returns the answer (TokenReview). */
  virtual?: boolean;
  /** Another kind's storage holds these objects (events.k8s.io Event is stored as core Event). */
  storedAs?: { resource: string; toStorage: (o: KubeObject) => KubeObject; fromStorage: (o: KubeObject) => KubeObject };
}

export function apiVersionOf(spec: Pick<KindSpec, 'group' | 'version'>): string {
  return spec.group === '' ? spec.version : `${spec.group}/${spec.version}`;
}

/** `pods`, `resourceslices.resource.k8s.io`: the key the store and RBAC use. */
export function resourceKey(spec: Pick<KindSpec, 'group' | 'plural'>): string {
  return spec.group === '' ? spec.plural : `${spec.plural}.${spec.group}`;
}

function path(obj: unknown, ...keys: string[]): unknown {
  let cur = obj;
  for (const k of keys) {
    if (!isRecord(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

function str(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  return typeof v === 'string' ? v : String(v);
}

const nameCol: Column = {
  name: 'Name',
  type: 'string',
  format: 'name',
  description: 'Name must be unique within a namespace.',
  cell: (o) => o.metadata.name ?? '',
};

const ageCol: Column = {
  name: 'Age',
  type: 'string',
  description: 'CreationTimestamp is a timestamp representing the server time when this object was created.',
  cell: (o, now) => ageOf(o.metadata.creationTimestamp, now),
};

function col(name: string, cell: Column['cell'], priority = 0, type: Column['type'] = 'string'): Column {
  return { name, type, priority, description: name, cell };
}

function none(v: string | undefined): string {
  return v === undefined || v === '' ? '<none>' : v;
}

function podReady(o: KubeObject): string {
  const statuses = path(o, 'status', 'containerStatuses');
  const containers = path(o, 'spec', 'containers');
  const total = Array.isArray(containers) ? containers.length : 0;
  const ready = Array.isArray(statuses) ? statuses.filter((s) => isRecord(s) && s.ready === true).length : 0;
  return `${ready}/${total}`;
}

function podRestarts(o: KubeObject): number {
  const statuses = path(o, 'status', 'containerStatuses');
  if (!Array.isArray(statuses)) return 0;
  return statuses.reduce(
    (n: number, s) => n + (isRecord(s) && typeof s.restartCount === 'number' ? s.restartCount : 0),
    0,
  );
}

function podStatus(o: KubeObject): string {
  if (o.metadata.deletionTimestamp) return 'Terminating';
  const reason = str(path(o, 'status', 'reason'));
  if (reason) return reason;
  const statuses = path(o, 'status', 'containerStatuses');
  if (Array.isArray(statuses)) {
    for (const s of statuses) {
      const waiting = str(path(s, 'state', 'waiting', 'reason'));
      if (waiting) return waiting;
      const terminated = str(path(s, 'state', 'terminated', 'reason'));
      if (terminated) return terminated;
    }
  }
  return str(path(o, 'status', 'phase')) ?? 'Pending';
}

function nodeStatus(o: KubeObject): string {
  const conditions = path(o, 'status', 'conditions');
  let status = 'Unknown';
  if (Array.isArray(conditions)) {
    for (const c of conditions) {
      if (isRecord(c) && c.type === 'Ready') status = c.status === 'True' ? 'Ready' : 'NotReady';
    }
  }
  if (path(o, 'spec', 'unschedulable') === true) status += ',SchedulingDisabled';
  return status;
}

function nodeRoles(o: KubeObject): string {
  const roles = Object.keys(o.metadata.labels ?? {})
    .filter((k) => k.startsWith('node-role.kubernetes.io/'))
    .map((k) => k.slice('node-role.kubernetes.io/'.length));
  return roles.length ? roles.join(',') : '<none>';
}

function eventFields(o: KubeObject): Record<string, string | undefined> {
  return {
    'involvedObject.kind': str(path(o, 'involvedObject', 'kind')),
    'involvedObject.namespace': str(path(o, 'involvedObject', 'namespace')),
    'involvedObject.name': str(path(o, 'involvedObject', 'name')),
    'involvedObject.uid': str(path(o, 'involvedObject', 'uid')),
    'involvedObject.apiVersion': str(path(o, 'involvedObject', 'apiVersion')),
    'involvedObject.resourceVersion': str(path(o, 'involvedObject', 'resourceVersion')),
    'involvedObject.fieldPath': str(path(o, 'involvedObject', 'fieldPath')),
    reason: str(o.reason),
    reportingComponent: str(o.reportingComponent),
    source: str(path(o, 'source', 'component')),
    type: str(o.type),
  };
}

const EVENT_FIELD_NAMES = Object.keys(eventFields({ metadata: {} }));

function fieldsFrom(names: string[], all: (o: KubeObject) => Record<string, string | undefined>) {
  const out: Record<string, (o: KubeObject) => string | undefined> = {};
  for (const n of names) out[n] = (o) => all(o)[n];
  return out;
}

/** events.k8s.io/v1 Event ⇄ core/v1 Event: one storage, two shapes (k8s.io/kubernetes pkg/apis/events/v1 conversion). */
const EVENTS_RENAMES: [string, string][] = [
  ['regarding', 'involvedObject'],
  ['note', 'message'],
  ['reportingController', 'reportingComponent'],
  ['deprecatedSource', 'source'],
  ['deprecatedFirstTimestamp', 'firstTimestamp'],
  ['deprecatedLastTimestamp', 'lastTimestamp'],
  ['deprecatedCount', 'count'],
];

function renameFields(o: KubeObject, pairs: [string, string][], apiVersion: string): KubeObject {
  const out: KubeObject = { ...o, apiVersion, kind: 'Event' };
  for (const [from, to] of pairs) {
    if (from in out) {
      out[to] = out[from];
      delete out[from];
    }
  }
  return out;
}

/** events.k8s.io/v1 field names → core/v1 ones, for printing with the core columns. */
function toCoreEvent(o: KubeObject): KubeObject {
  return renameFields(o, EVENTS_RENAMES, 'v1');
}

/** Age of a timestamp field, or undefined when the field is absent. */
function ageAt(v: unknown, now: number): string | undefined {
  const t = str(v);
  return t ? ageOf(t, now) : undefined;
}

/**
 * The event printer's columns (pkg/printers/internalversion eventColumnDefinitions): Last Seen (with "xN over M" for
 * repeated events), Type, Reason, Object, Message; Subobject, Source, First Seen, Count and Name with `-o wide`.
 */
const EVENT_COLUMNS: Column[] = [
  col('Last Seen', (o, now) => {
    const series = path(o, 'series');
    const count = isRecord(series) ? Number(series.count ?? 0) : Number(o.count ?? 0);
    const last =
      (isRecord(series) ? ageAt(series.lastObservedTime, now) : undefined) ??
      ageAt(o.lastTimestamp, now) ??
      ageAt(o.eventTime, now) ??
      ageAt(o.metadata.creationTimestamp, now) ??
      '<unknown>';
    const first = ageAt(o.firstTimestamp, now) ?? ageAt(o.eventTime, now);
    return count > 1 && first ? `${last} (x${count} over ${first})` : last;
  }),
  col('Type', (o) => str(o.type) ?? ''),
  col('Reason', (o) => str(o.reason) ?? ''),
  col(
    'Object',
    (o) =>
      `${(str(path(o, 'involvedObject', 'kind')) ?? '').toLowerCase()}/${str(path(o, 'involvedObject', 'name')) ?? ''}`,
  ),
  col('Subobject', (o) => str(path(o, 'involvedObject', 'fieldPath')) ?? '', 1),
  col(
    'Source',
    (o) => {
      const component = str(path(o, 'source', 'component')) ?? str(o.reportingComponent) ?? '';
      const host = str(path(o, 'source', 'host')) ?? str(o.reportingInstance) ?? '';
      return host ? `${component}, ${host}` : component;
    },
    1,
  ),
  col('Message', (o) => str(o.message) ?? ''),
  col('First Seen', (o, now) => ageAt(o.firstTimestamp, now) ?? ageAt(o.eventTime, now) ?? '<unknown>', 1),
  col('Count', (o) => String(isRecord(o.series) ? (o.series.count ?? 1) : (o.count ?? 1)), 1),
  { ...nameCol, priority: 1 },
];

export const KINDS: KindSpec[] = [
  {
    group: '',
    version: 'v1',
    kind: 'Namespace',
    plural: 'namespaces',
    singular: 'namespace',
    namespaced: false,
    shortNames: ['ns'],
    subresources: ['status'],
    fields: { 'status.phase': (o) => str(path(o, 'status', 'phase')) },
    columns: [nameCol, col('Status', (o) => str(path(o, 'status', 'phase')) ?? 'Active'), ageCol],
  },
  {
    group: '',
    version: 'v1',
    kind: 'Node',
    plural: 'nodes',
    singular: 'node',
    namespaced: false,
    shortNames: ['no'],
    subresources: ['status'],
    fields: { 'spec.unschedulable': (o) => String(path(o, 'spec', 'unschedulable') === true) },
    columns: [
      nameCol,
      col('Status', nodeStatus),
      col('Roles', nodeRoles),
      ageCol,
      col('Version', (o) => str(path(o, 'status', 'nodeInfo', 'kubeletVersion')) ?? ''),
    ],
  },
  {
    group: '',
    version: 'v1',
    kind: 'Pod',
    plural: 'pods',
    singular: 'pod',
    namespaced: true,
    shortNames: ['po'],
    categories: ['all'],
    subresources: ['status', 'binding'],
    fields: {
      'spec.nodeName': (o) => str(path(o, 'spec', 'nodeName')),
      'spec.restartPolicy': (o) => str(path(o, 'spec', 'restartPolicy')),
      'spec.schedulerName': (o) => str(path(o, 'spec', 'schedulerName')),
      'spec.serviceAccountName': (o) => str(path(o, 'spec', 'serviceAccountName')),
      'spec.hostNetwork': (o) => String(path(o, 'spec', 'hostNetwork') === true),
      'status.phase': (o) => str(path(o, 'status', 'phase')),
      'status.podIP': (o) => str(path(o, 'status', 'podIP')),
      'status.nominatedNodeName': (o) => str(path(o, 'status', 'nominatedNodeName')),
    },
    columns: [
      nameCol,
      col('Ready', podReady),
      col('Status', podStatus),
      col('Restarts', podRestarts, 0, 'string'),
      ageCol,
      col('IP', (o) => none(str(path(o, 'status', 'podIP'))), 1),
      col('Node', (o) => none(str(path(o, 'spec', 'nodeName'))), 1),
    ],
  },
  {
    group: '',
    version: 'v1',
    kind: 'Event',
    plural: 'events',
    singular: 'event',
    namespaced: true,
    shortNames: ['ev'],
    fields: fieldsFrom(EVENT_FIELD_NAMES, eventFields),
    columns: EVENT_COLUMNS,
  },
  {
    group: 'events.k8s.io',
    version: 'v1',
    kind: 'Event',
    plural: 'events',
    singular: 'event',
    namespaced: true,
    shortNames: ['ev'],
    fields: fieldsFrom(EVENT_FIELD_NAMES, eventFields),
    // The real server converts events.k8s.io Events to the internal Event and prints them with the same columns.
    columns: EVENT_COLUMNS.map((c) => ({ ...c, cell: (o: KubeObject, now: number) => c.cell(toCoreEvent(o), now) })),
    storedAs: {
      resource: 'events',
      toStorage: (o) => renameFields(o, EVENTS_RENAMES, 'v1'),
      fromStorage: (o) =>
        renameFields(
          o,
          EVENTS_RENAMES.map(([a, b]) => [b, a]),
          'events.k8s.io/v1',
        ),
    },
  },
  {
    group: 'coordination.k8s.io',
    version: 'v1',
    kind: 'Lease',
    plural: 'leases',
    singular: 'lease',
    namespaced: true,
    columns: [nameCol, col('Holder', (o) => str(path(o, 'spec', 'holderIdentity')) ?? ''), ageCol],
  },
  {
    group: '',
    version: 'v1',
    kind: 'ConfigMap',
    plural: 'configmaps',
    singular: 'configmap',
    namespaced: true,
    shortNames: ['cm'],
    columns: [nameCol, col('Data', (o) => Object.keys(isRecord(o.data) ? o.data : {}).length, 0, 'integer'), ageCol],
  },
  {
    group: '',
    version: 'v1',
    kind: 'Secret',
    plural: 'secrets',
    singular: 'secret',
    namespaced: true,
    fields: { type: (o) => str(o.type) },
    columns: [
      nameCol,
      col('Type', (o) => str(o.type) ?? 'Opaque'),
      col('Data', (o) => Object.keys(isRecord(o.data) ? o.data : {}).length, 0, 'integer'),
      ageCol,
    ],
  },
  {
    group: '',
    version: 'v1',
    kind: 'ServiceAccount',
    plural: 'serviceaccounts',
    singular: 'serviceaccount',
    namespaced: true,
    shortNames: ['sa'],
    subresources: ['token'],
    columns: [nameCol, col('Secrets', (o) => (Array.isArray(o.secrets) ? o.secrets.length : 0), 0, 'integer'), ageCol],
  },
  {
    group: '',
    version: 'v1',
    kind: 'Service',
    plural: 'services',
    singular: 'service',
    namespaced: true,
    shortNames: ['svc'],
    categories: ['all'],
    subresources: ['status'],
    columns: [
      nameCol,
      col('Type', (o) => str(path(o, 'spec', 'type')) ?? 'ClusterIP'),
      col('Cluster-IP', (o) => str(path(o, 'spec', 'clusterIP')) ?? '<none>'),
      ageCol,
    ],
  },
  ...(['StatefulSet', 'DaemonSet', 'Deployment'] as const).map(
    (kind): KindSpec => ({
      group: 'apps',
      version: 'v1',
      kind,
      plural: `${kind.toLowerCase()}s`,
      singular: kind.toLowerCase(),
      namespaced: true,
      shortNames: [{ StatefulSet: 'sts', DaemonSet: 'ds', Deployment: 'deploy' }[kind]],
      categories: ['all'],
      subresources: ['status'],
      generation: true,
    }),
  ),
  {
    group: 'batch',
    version: 'v1',
    kind: 'Job',
    plural: 'jobs',
    singular: 'job',
    namespaced: true,
    categories: ['all'],
    subresources: ['status'],
    generation: true,
  },
  {
    group: 'resource.k8s.io',
    version: 'v1',
    kind: 'ResourceSlice',
    plural: 'resourceslices',
    singular: 'resourceslice',
    namespaced: false,
    generation: true,
    fields: {
      'spec.nodeName': (o) => str(path(o, 'spec', 'nodeName')),
      'spec.driver': (o) => str(path(o, 'spec', 'driver')),
    },
    columns: [
      nameCol,
      col('Node', (o) => none(str(path(o, 'spec', 'nodeName')))),
      col('Driver', (o) => str(path(o, 'spec', 'driver')) ?? ''),
      col('Pool', (o) => str(path(o, 'spec', 'pool', 'name')) ?? ''),
      ageCol,
    ],
  },
  {
    group: 'resource.k8s.io',
    version: 'v1',
    kind: 'ResourceClaim',
    plural: 'resourceclaims',
    singular: 'resourceclaim',
    namespaced: true,
    subresources: ['status'],
    generation: true,
    columns: [
      nameCol,
      col('State', (o) => {
        const parts: string[] = [];
        parts.push(path(o, 'status', 'allocation') ? 'allocated' : 'pending');
        const reserved = path(o, 'status', 'reservedFor');
        if (Array.isArray(reserved) && reserved.length > 0) parts.push('reserved');
        if (o.metadata.deletionTimestamp) parts.push('deleted');
        return parts.join(',');
      }),
      ageCol,
    ],
  },
  {
    group: 'resource.k8s.io',
    version: 'v1',
    kind: 'ResourceClaimTemplate',
    plural: 'resourceclaimtemplates',
    singular: 'resourceclaimtemplate',
    namespaced: true,
    generation: true,
    columns: [nameCol, ageCol],
  },
  {
    group: 'resource.k8s.io',
    version: 'v1',
    kind: 'DeviceClass',
    plural: 'deviceclasses',
    singular: 'deviceclass',
    namespaced: false,
    generation: true,
    // the real printer's deviceClassColumnDefinitions: Name and Age (not the CRD default Name + Created At)
    columns: [nameCol, ageCol],
  },
  {
    group: 'authentication.k8s.io',
    version: 'v1',
    kind: 'TokenReview',
    plural: 'tokenreviews',
    singular: 'tokenreview',
    namespaced: false,
    verbs: ['create'],
    virtual: true,
  },
  {
    group: 'authentication.k8s.io',
    version: 'v1',
    kind: 'SelfSubjectReview',
    plural: 'selfsubjectreviews',
    singular: 'selfsubjectreview',
    namespaced: false,
    verbs: ['create'],
    virtual: true,
  },
  ...(['SelfSubjectAccessReview', 'SubjectAccessReview'] as const).map(
    (kind): KindSpec => ({
      group: 'authorization.k8s.io',
      version: 'v1',
      kind,
      plural: `${kind.toLowerCase()}s`,
      singular: kind.toLowerCase(),
      namespaced: false,
      verbs: ['create'],
      virtual: true,
    }),
  ),
  ...(['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding'] as const).map(
    (kind): KindSpec => ({
      group: 'rbac.authorization.k8s.io',
      version: 'v1',
      kind,
      plural: `${kind.toLowerCase()}s`,
      singular: kind.toLowerCase(),
      namespaced: !kind.startsWith('Cluster'),
    }),
  ),
  {
    group: 'admissionregistration.k8s.io',
    version: 'v1',
    kind: 'ValidatingAdmissionPolicy',
    plural: 'validatingadmissionpolicies',
    singular: 'validatingadmissionpolicy',
    namespaced: false,
    subresources: ['status'],
    generation: true,
  },
  {
    group: 'admissionregistration.k8s.io',
    version: 'v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    plural: 'validatingadmissionpolicybindings',
    singular: 'validatingadmissionpolicybinding',
    namespaced: false,
    generation: true,
  },
  {
    group: 'apiextensions.k8s.io',
    version: 'v1',
    kind: 'CustomResourceDefinition',
    plural: 'customresourcedefinitions',
    singular: 'customresourcedefinition',
    namespaced: false,
    shortNames: ['crd', 'crds'],
    subresources: ['status'],
    generation: true,
  },
  {
    group: 'leaderworkerset.x-k8s.io',
    version: 'v1',
    kind: 'LeaderWorkerSet',
    plural: 'leaderworkersets',
    singular: 'leaderworkerset',
    namespaced: true,
    shortNames: ['lws'],
    subresources: ['status'],
    generation: true,
    custom: true,
    // additionalPrinterColumns of the LWS v0.10.0 CRD.
    columns: [
      nameCol,
      col('Ready', (o) => Number(path(o, 'status', 'readyReplicas') ?? 0), 0, 'integer'),
      col('Desired', (o) => Number(path(o, 'spec', 'replicas') ?? 0), 0, 'integer'),
      col('Up-to-date', (o) => Number(path(o, 'status', 'updatedReplicas') ?? 0), 0, 'integer'),
      { ...ageCol, type: 'date', cell: (o) => o.metadata.creationTimestamp ?? '' },
    ],
  },
  {
    // schema: jobset-crd.ts (written from JobSet's API); pods come from controllers/jobset.ts and job.ts
    group: 'jobset.x-k8s.io',
    version: 'v1alpha2',
    kind: 'JobSet',
    plural: 'jobsets',
    singular: 'jobset',
    namespaced: true,
    subresources: ['status'],
    generation: true,
    custom: true,
  },
];

export class KindRegistry {
  private readonly byPath = new Map<string, KindSpec>();
  private readonly byKey = new Map<string, KindSpec>();
  readonly all: KindSpec[];

  constructor(kinds: KindSpec[]) {
    this.all = kinds;
    for (const k of kinds) {
      this.byPath.set(`${k.group}/${k.version}/${k.plural}`, k);
      if (!k.storedAs) this.byKey.set(resourceKey(k), k);
    }
  }

  lookup(group: string, version: string, plural: string): KindSpec | undefined {
    return this.byPath.get(`${group}/${version}/${plural}`);
  }

  /** The kind that owns a storage key (`pods`, `resourceslices.resource.k8s.io`). */
  byResource(key: string): KindSpec | undefined {
    return this.byKey.get(key);
  }

  byKind(apiVersion: string, kind: string): KindSpec | undefined {
    return this.all.find((k) => apiVersionOf(k) === apiVersion && k.kind === kind);
  }

  groupVersions(): { group: string; version: string }[] {
    const seen = new Map<string, { group: string; version: string }>();
    for (const k of this.all) seen.set(`${k.group}/${k.version}`, { group: k.group, version: k.version });
    return [...seen.values()];
  }
}
