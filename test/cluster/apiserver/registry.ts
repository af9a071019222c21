/**
 * The API semantics on top of the store: names and generateName, uid, timestamps, generation, resourceVersion
 * preconditions (409), status subresources, finalizers, deletion with ownerReference garbage collection, selectors
 * and paging. The HTTP layer and the in-process test handle both go through here, so both see the same behaviour.
 */
import { randomUUID } from 'node:crypto';
import {
  alreadyExists,
  badRequest,
  conflict,
  type FieldError,
  gone,
  invalid,
  notFound,
  STALE_OBJECT,
  StatusError,
  tooLargeResourceVersion,
} from './errors.js';
import { apiVersionOf, type KindRegistry, type KindSpec, resourceKey } from './kinds.js';
import {
  changedFields,
  checkPatchOptions,
  fieldSet,
  type ManagedFieldsEntry,
  type OwnershipWrite,
  recordOwnership,
  serverSideApply,
} from './managed-fields.js';
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch, PatchError } from './patch.js';
import {
  type FieldRequirement,
  type LabelSelector,
  matchesFields,
  matchesLabels,
  parseFieldSelector,
  parseLabelSelector,
  SelectorError,
} from './selectors.js';
import { ExpiredError, type Store, type StoreEvent, type Watcher } from './store.js';
import { applyDefaults, prepareForCreate } from './strategy.js';
import { isRecord, type KubeObject, type UserInfo } from './types.js';

type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';

export interface AdmissionRequest {
  operation: Operation;
  spec: KindSpec;
  namespace?: string;
  name: string;
  subresource?: string;
  object?: KubeObject;
  oldObject?: KubeObject;
  user: UserInfo;
  dryRun: boolean;
  /** the request's verb for an UPDATE: `patch` (any patch, server-side apply included) or `update` (PUT) */
  verb?: 'update' | 'patch';
}

/** Validation of one kind: field errors fail with 422; `object` may come back pruned (unknown fields, gated fields). */
export interface ValidationResult {
  errors: FieldError[];
  warnings: string[];
  /** Unknown fields found; Strict field validation turns them into a 400. */
  unknownFields: string[];
  object: KubeObject;
  /** The body does not decode into the kind (a JSON type mismatch): 400 before any validation, as the real server. */
  decodeError?: string;
}

export type Validator = (
  obj: KubeObject,
  old: KubeObject | undefined,
  subresource: string | undefined,
) => ValidationResult;

export type AdmissionPlugin = (req: AdmissionRequest) => string[] | undefined;

export interface WriteOptions {
  user: UserInfo;
  dryRun?: boolean;
  fieldValidation?: 'Strict' | 'Warn' | 'Ignore';
  subresource?: string;
  /** Who owns the fields this write sets (managedFields); in-process writes default to `test-cluster`. */
  fieldManager?: string;
  /** A server-side apply creating the object: its fields are owned by an Apply entry. */
  applyCreate?: boolean;
  /** set by patch(): the verb admission sees */
  verb?: 'update' | 'patch';
}

export interface WriteResult {
  object: KubeObject;
  warnings: string[];
}

export interface ListOptions {
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  /** Absent, `0` or a revision: the list is at least that fresh, or exactly it with `resourceVersionMatch=Exact`. */
  resourceVersion?: string;
  resourceVersionMatch?: string;
}

export interface ListResult {
  items: KubeObject[];
  resourceVersion: string;
  continue?: string;
  remainingItemCount?: number;
}

export interface DeleteOptions extends WriteOptions {
  propagationPolicy?: 'Orphan' | 'Background' | 'Foreground';
  preconditions?: { uid?: string; resourceVersion?: string };
  gracePeriodSeconds?: number;
}

export type PatchType = 'json' | 'merge' | 'strategic' | 'apply';

export const SYSTEM_USER: UserInfo = { username: 'system:apiserver', groups: ['system:masters'] };

const NAME_CHARS = 'bcdfghjklmnpqrstvwxz2456789';

function randomSuffix(): string {
  let s = '';
  for (let i = 0; i < 5; i++) s += NAME_CHARS[Math.floor(Math.random() * NAME_CHARS.length)];
  return s;
}

/** RFC 3339 with seconds, as metav1.Time serialises. */
export function nowTimestamp(now = Date.now()): string {
  return `${new Date(now).toISOString().slice(0, 19)}Z`;
}

function specPart(o: KubeObject): string {
  const { metadata: _m, status: _s, ...rest } = o;
  return JSON.stringify(rest);
}

interface ContinueToken {
  rv: number;
  start: string;
}

function encodeContinue(t: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv: t.rv, start: t.start })).toString('base64');
}

function decodeContinue(token: string): ContinueToken {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
    if (isRecord(parsed) && typeof parsed.rv === 'number' && typeof parsed.start === 'string')
      return { rv: parsed.rv, start: parsed.start };
  } catch {
    // fall through to the error below
  }
  throw badRequest('continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)');
}

export interface CompiledSelectors {
  labels: LabelSelector;
  fields: FieldRequirement[];
}

export class Registry {
  readonly validators = new Map<string, Validator>();
  readonly admission: AdmissionPlugin[] = [];
  /** Pods bound to a node are deleted gracefully (deletionTimestamp first, the kubelet finishes), as on a real node. */
  podGracefulDeletion = true;

  constructor(
    readonly kinds: KindRegistry,
    readonly store: Store,
    private readonly clock: () => number = Date.now,
  ) {}

  storageKey(spec: KindSpec): string {
    return spec.storedAs ? spec.storedAs.resource : resourceKey(spec);
  }

  /** Objects in storage form → the shape of `spec` (events.k8s.io ⇄ core Event), with kind and apiVersion set. */
  present(spec: KindSpec, obj: KubeObject): KubeObject {
    if (spec.storedAs) return spec.storedAs.fromStorage(obj);
    return obj;
  }

  compileSelectors(spec: KindSpec, opts: { labelSelector?: string; fieldSelector?: string }): CompiledSelectors {
    try {
      const labels = parseLabelSelector(opts.labelSelector ?? '');
      const fields = parseFieldSelector(opts.fieldSelector ?? '');
      for (const f of fields) {
        if (f.field === 'metadata.name' || (f.field === 'metadata.namespace' && spec.namespaced)) continue;
        if (spec.fields && Object.hasOwn(spec.fields, f.field)) continue;
        if (spec.custom)
          throw badRequest(`"${f.field}" is not a known field selector: only "metadata.name", "metadata.namespace"`);
        throw badRequest(`field label not supported: ${f.field}`);
      }
      return { labels, fields };
    } catch (err) {
      if (err instanceof SelectorError) throw badRequest(err.message);
      throw err;
    }
  }

  matcher(spec: KindSpec, sel: CompiledSelectors): (o: KubeObject) => boolean {
    if (sel.labels.length === 0 && sel.fields.length === 0) return () => true;
    const fields = spec.fields ?? {};
    return (o) =>
      matchesLabels(sel.labels, o.metadata.labels) &&
      matchesFields(sel.fields, (name) => {
        if (name === 'metadata.name') return o.metadata.name;
        if (name === 'metadata.namespace') return o.metadata.namespace;
        return fields[name]?.(o);
      });
  }

  private checkNamespace(spec: KindSpec, namespace: string | undefined): void {
    if (!spec.namespaced) return;
    if (!namespace) throw badRequest('the server could not find the requested resource');
    if (!this.store.get('namespaces', undefined, namespace)) throw notFound('', 'namespaces', namespace);
  }

  get(spec: KindSpec, namespace: string | undefined, name: string): KubeObject {
    const obj = this.store.get(this.storageKey(spec), spec.namespaced ? namespace : undefined, name);
    if (!obj) throw notFound(spec.group, spec.plural, name);
    return this.present(spec, obj);
  }

  list(spec: KindSpec, namespace: string | undefined, opts: ListOptions = {}): ListResult {
    const sel = this.compileSelectors(spec, opts);
    const match = this.matcher(spec, sel);
    const current = this.store.resourceVersion;
    const requested = opts.resourceVersion;
    let listRv = current;
    let after: string | undefined;
    if (opts.continue) {
      // The storage layer's rule: a continue token carries its own revision.
      if (requested !== undefined && requested !== '' && requested !== '0')
        throw badRequest('specifying resource version is not allowed when using continue');
      const token = decodeContinue(opts.continue);
      if (token.rv < this.store.oldestWatchable)
        throw gone(
          'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.',
        );
      listRv = token.rv;
      after = token.start;
    } else if (requested !== undefined && requested !== '' && requested !== '0') {
      const rv = Number(requested);
      if (!/^[0-9]+$/.test(requested) || !Number.isSafeInteger(rv))
        throw badRequest(`invalid resource version: ${requested}`);
      if (rv > current) throw tooLargeResourceVersion(rv, current);
      if (opts.resourceVersionMatch === 'Exact') {
        if (rv < this.store.oldestWatchable) throw gone('The resourceVersion for the provided list is too old.');
        listRv = rv;
      }
    }
    const ns = spec.namespaced ? namespace : undefined;
    const storageKey = this.storageKey(spec);
    // A page (or an Exact list) at an older revision is served from that revision's snapshot, as etcd does.
    let all: KubeObject[];
    if (listRv === current) all = this.store.list(storageKey, ns, after);
    else {
      try {
        const snapshot = this.store.listAt(storageKey, ns, listRv);
        all = after === undefined ? snapshot : snapshot.filter((o) => keyOf(o) > after);
      } catch (err) {
        if (err instanceof ExpiredError) throw gone('The resourceVersion for the provided list is too old.');
        throw err;
      }
    }
    const limit = opts.limit && opts.limit > 0 ? opts.limit : undefined;
    const items: KubeObject[] = [];
    let next: string | undefined;
    let remaining: number | undefined;
    for (let i = 0; i < all.length; i++) {
      const o = all[i];
      if (!match(o)) continue;
      if (limit !== undefined && items.length === limit) {
        const lastItem = items[items.length - 1];
        next = encodeContinue({ rv: listRv, start: keyOf(lastItem) });
        if (sel.labels.length === 0 && sel.fields.length === 0) remaining = all.length - i;
        break;
      }
      items.push(this.present(spec, o));
    }
    return { items, resourceVersion: String(listRv), continue: next, remainingItemCount: remaining };
  }

  // ---------- writes ----------

  private runValidation(
    spec: KindSpec,
    obj: KubeObject,
    old: KubeObject | undefined,
    opts: WriteOptions,
  ): { object: KubeObject; warnings: string[] } {
    const validator = this.validators.get(resourceKey(spec));
    if (!validator) return { object: obj, warnings: [] };
    const result = validator(obj, old, opts.subresource);
    if (result.decodeError) throw badRequest(result.decodeError);
    if (result.unknownFields.length > 0 && opts.fieldValidation === 'Strict') {
      const list = result.unknownFields.map((f) => `unknown field "${f}"`).join(', ');
      throw badRequest(
        `${spec.kind} in version "${spec.version}" cannot be handled as a ${spec.kind}: strict decoding error: ${list}`,
      );
    }
    if (result.errors.length > 0) throw invalid(spec.group, spec.kind, obj.metadata.name ?? '', result.errors);
    const warnings = [...result.warnings];
    if (opts.fieldValidation !== 'Ignore') for (const f of result.unknownFields) warnings.push(`unknown field "${f}"`);
    return { object: result.object, warnings };
  }

  private admit(req: AdmissionRequest): string[] {
    const warnings: string[] = [];
    for (const plugin of this.admission) warnings.push(...(plugin(req) ?? []));
    return warnings;
  }

  create(spec: KindSpec, namespace: string | undefined, body: unknown, opts: WriteOptions): WriteResult {
    const input = this.decodeBody(spec, body);
    const meta = input.metadata;
    if (spec.namespaced) {
      if (meta.namespace && namespace && meta.namespace !== namespace)
        throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
      meta.namespace = namespace ?? meta.namespace;
    } else {
      delete meta.namespace;
    }
    if (!meta.name) {
      if (!meta.generateName)
        throw invalid(spec.group, spec.kind, '', [
          { type: 'FieldValueRequired', field: 'metadata.name', detail: 'name or generateName is required' },
        ]);
      meta.name = `${meta.generateName}${randomSuffix()}`;
    }
    this.checkNamespace(spec, meta.namespace);
    const key = this.storageKey(spec);
    if (this.store.get(key, meta.namespace, meta.name)) throw alreadyExists(spec.group, spec.plural, meta.name);
    if (meta.resourceVersion) {
      throw badRequest('resourceVersion should not be set on objects to be created');
    }
    meta.uid = randomUUID();
    meta.creationTimestamp = nowTimestamp(this.clock());
    delete meta.deletionTimestamp;
    delete meta.deletionGracePeriodSeconds;
    delete meta.managedFields;
    if (spec.generation) meta.generation = 1;
    else delete meta.generation;
    prepareForCreate(spec, input);
    applyDefaults(spec, input);
    const { object, warnings } = this.runValidation(spec, input, undefined, opts);
    warnings.push(
      ...this.admit({
        operation: 'CREATE',
        spec,
        namespace: meta.namespace,
        name: meta.name,
        object,
        user: opts.user,
        dryRun: !!opts.dryRun,
      }),
    );
    object.metadata.managedFields = recordOwnership([], fieldSet(object, 'main', statusSeparate(spec)), {
      ...this.ownership(spec, opts),
      operation: opts.applyCreate ? 'Apply' : 'Update',
    });
    const stored = this.toStorage(spec, object);
    if (opts.dryRun) return { object: this.present(spec, stored), warnings };
    const written = this.store.put(key, stored);
    if (spec.kind === 'Namespace') this.populateNamespace(written.metadata.name ?? '');
    return { object: this.present(spec, written), warnings };
  }

  /** What the serviceaccount controller does for every new namespace: a `default` ServiceAccount. */
  private populateNamespace(namespace: string): void {
    const sa = this.kinds.lookup('', 'v1', 'serviceaccounts');
    if (!sa || this.store.get('serviceaccounts', namespace, 'default')) return;
    this.create(sa, namespace, { metadata: { name: 'default' } }, { user: SYSTEM_USER });
  }

  update(spec: KindSpec, namespace: string | undefined, name: string, body: unknown, opts: WriteOptions): WriteResult {
    const input = this.decodeBody(spec, body);
    const ns = spec.namespaced ? namespace : undefined;
    if (input.metadata.name && input.metadata.name !== name)
      throw badRequest(`the name of the object (${input.metadata.name}) does not match the name on the URL (${name})`);
    if (spec.namespaced && input.metadata.namespace && input.metadata.namespace !== ns)
      throw badRequest('the namespace of the provided object does not match the namespace sent on the request');
    const key = this.storageKey(spec);
    const oldStored = this.store.get(key, ns, name);
    if (!oldStored) {
      // PUT creates when the object is absent, for the kinds that allow it (AllowCreateOnUpdate); those served here do not.
      throw notFound(spec.group, spec.plural, name);
    }
    const old = this.present(spec, oldStored);
    const rv = input.metadata.resourceVersion;
    if (rv && rv !== old.metadata.resourceVersion) throw conflict(spec.group, spec.plural, name, STALE_OBJECT);
    return this.writeUpdate(spec, old, input, opts);
  }

  patch(
    spec: KindSpec,
    namespace: string | undefined,
    name: string,
    type: PatchType,
    patch: unknown,
    opts: WriteOptions & { force?: boolean },
  ): WriteResult {
    const ns = spec.namespaced ? namespace : undefined;
    const oldStored = this.store.get(this.storageKey(spec), ns, name);
    checkPatchOptions(type === 'apply', opts.fieldManager, opts.force);
    if (type === 'apply' && !oldStored) {
      const body = isRecord(patch) ? { ...patch } : patch;
      return this.create(spec, namespace, body, { ...opts, applyCreate: true });
    }
    if (!oldStored) throw notFound(spec.group, spec.plural, name);
    const old = this.present(spec, oldStored);
    let patched: unknown;
    try {
      switch (type) {
        case 'json':
          patched = applyJsonPatch(structuredClone(old), patch);
          break;
        case 'merge':
          patched = applyMergePatch(structuredClone(old), patch);
          break;
        case 'strategic':
          if (spec.custom)
            throw new StatusError(
              415,
              'UnsupportedMediaType',
              'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml',
            );
          patched = applyStrategicMergePatch(structuredClone(old), patch);
          break;
        case 'apply': {
          if (!isRecord(patch)) throw badRequest('the applied configuration is not an object');
          const { object: applied, managedFields } = serverSideApply(old, this.decodeBody(spec, patch), {
            ...this.ownership(spec, opts),
            operation: 'Apply',
            force: opts.force === true,
            group: spec.group,
            plural: spec.plural,
          });
          const input = this.decodeBody(spec, applied);
          return this.writeUpdate(spec, old, input, { ...opts, verb: 'patch' }, managedFields);
        }
      }
    } catch (err) {
      if (err instanceof PatchError) throw new StatusError(422, 'Invalid', err.message);
      throw err;
    }
    if (!isRecord(patched)) throw badRequest('the patched object is not a JSON object');
    const input = this.decodeBody(spec, patched);
    if (input.metadata.name !== name) throw badRequest('metadata.name cannot be changed by a patch');
    const rv = input.metadata.resourceVersion;
    if (rv && rv !== old.metadata.resourceVersion) throw conflict(spec.group, spec.plural, name, STALE_OBJECT);
    return this.writeUpdate(spec, old, input, { ...opts, verb: 'patch' });
  }

  /** The ownership facts of a write: manager, API version, subresource, time. */
  private ownership(spec: KindSpec, opts: WriteOptions): OwnershipWrite {
    return {
      manager: opts.fieldManager ?? 'test-cluster',
      operation: 'Update',
      apiVersion: apiVersionOf(spec),
      subresource: opts.subresource === 'status' ? 'status' : undefined,
      time: nowTimestamp(this.clock()),
      statusSeparate: statusSeparate(spec),
    };
  }

  private writeUpdate(
    spec: KindSpec,
    old: KubeObject,
    input: KubeObject,
    opts: WriteOptions,
    applied?: ManagedFieldsEntry[],
  ): WriteResult {
    const sub = opts.subresource;
    let next: KubeObject;
    if (sub === 'status') {
      next = {
        ...old,
        status: input.status,
        metadata: { ...old.metadata },
      };
      if (input.status === undefined) delete next.status;
    } else {
      next = { ...input, metadata: { ...input.metadata } };
      if (spec.subresources?.includes('status')) {
        if (old.status === undefined) delete next.status;
        else next.status = old.status;
      }
    }
    const m = next.metadata;
    m.name = old.metadata.name;
    m.namespace = old.metadata.namespace;
    m.uid = old.metadata.uid;
    m.creationTimestamp = old.metadata.creationTimestamp;
    m.deletionTimestamp = old.metadata.deletionTimestamp;
    m.deletionGracePeriodSeconds = old.metadata.deletionGracePeriodSeconds;
    for (const k of ['deletionTimestamp', 'deletionGracePeriodSeconds'] as const) if (m[k] === undefined) delete m[k];
    delete m.managedFields;
    if (spec.generation) {
      m.generation = (old.metadata.generation ?? 1) + (sub !== 'status' && specPart(next) !== specPart(old) ? 1 : 0);
    }
    next.apiVersion = apiVersionOf(spec);
    next.kind = spec.kind;
    applyDefaults(spec, next);
    const { object, warnings } = this.runValidation(spec, next, old, opts);
    warnings.push(
      ...this.admit({
        operation: 'UPDATE',
        spec,
        namespace: m.namespace,
        name: m.name ?? '',
        subresource: sub,
        object,
        oldObject: old,
        user: opts.user,
        dryRun: !!opts.dryRun,
        verb: opts.verb ?? 'update',
      }),
    );
    const { managedFields: oldManaged, ...oldMeta } = old.metadata;
    const before = Array.isArray(oldManaged) ? (oldManaged as ManagedFieldsEntry[]) : [];
    const managed =
      applied ??
      recordOwnership(
        before,
        changedFields(old, object, opts.subresource === 'status' ? 'status' : 'main', statusSeparate(spec)),
        this.ownership(spec, opts),
      );
    const sameOwners = JSON.stringify(stripTimes(managed)) === JSON.stringify(stripTimes(before));
    if (JSON.stringify(object) === JSON.stringify({ ...old, metadata: oldMeta }) && (sameOwners || !applied)) {
      // A no-op update does not bump the resourceVersion or wake watchers, as with etcd's guaranteed update.
      return { object: old, warnings };
    }
    object.metadata.managedFields = managed;
    if (opts.dryRun) return { object, warnings };
    const key = this.storageKey(spec);
    const stored = this.toStorage(spec, object);
    if (stored.metadata.deletionTimestamp && (stored.metadata.finalizers ?? []).length === 0) {
      const last = this.store.remove(key, stored.metadata.namespace, stored.metadata.name ?? '');
      if (last) this.collectDependents(last, 'Background');
      return {
        object: this.present(spec, {
          ...stored,
          metadata: { ...stored.metadata, resourceVersion: last?.metadata.resourceVersion },
        }),
        warnings,
      };
    }
    return { object: this.present(spec, this.store.put(key, stored)), warnings };
  }

  delete(
    spec: KindSpec,
    namespace: string | undefined,
    name: string,
    opts: DeleteOptions,
  ): { object: KubeObject; deleted: boolean } {
    const ns = spec.namespaced ? namespace : undefined;
    const key = this.storageKey(spec);
    const stored = this.store.get(key, ns, name);
    if (!stored) throw notFound(spec.group, spec.plural, name);
    const pre = opts.preconditions;
    if (pre?.uid && pre.uid !== stored.metadata.uid)
      throw conflict(
        spec.group,
        spec.plural,
        name,
        `Precondition failed: UID in precondition: ${pre.uid}, UID in object meta: ${stored.metadata.uid}`,
      );
    if (pre?.resourceVersion && pre.resourceVersion !== stored.metadata.resourceVersion)
      throw conflict(
        spec.group,
        spec.plural,
        name,
        `Precondition failed: ResourceVersion in precondition: ${pre.resourceVersion}, ResourceVersion in object meta: ${stored.metadata.resourceVersion}`,
      );
    const old = this.present(spec, stored);
    this.admit({
      operation: 'DELETE',
      spec,
      namespace: ns,
      name,
      oldObject: old,
      user: opts.user,
      dryRun: !!opts.dryRun,
    });
    if (opts.dryRun) return { object: old, deleted: true };
    const finalizers = [...(stored.metadata.finalizers ?? [])];
    const policy = opts.propagationPolicy ?? (spec.kind === 'Namespace' ? 'Background' : 'Background');
    if (policy === 'Orphan') this.orphanDependents(stored);
    if (policy === 'Foreground') this.collectDependents(stored, 'Foreground');
    const graceful = this.podGracefulDeletion && spec.kind === 'Pod' && podNeedsGrace(stored, opts.gracePeriodSeconds);
    if (finalizers.length > 0 || graceful) {
      if (stored.metadata.deletionTimestamp) return { object: old, deleted: false };
      const grace = graceful
        ? (opts.gracePeriodSeconds ??
          (stored.spec as { terminationGracePeriodSeconds?: number }).terminationGracePeriodSeconds ??
          30)
        : 0;
      const marked: KubeObject = {
        ...stored,
        metadata: {
          ...stored.metadata,
          deletionTimestamp: nowTimestamp(this.clock() + grace * 1000),
          deletionGracePeriodSeconds: grace,
        },
      };
      return { object: this.present(spec, this.store.put(key, marked)), deleted: false };
    }
    if (spec.kind === 'Namespace') this.emptyNamespace(name);
    const last = this.store.remove(key, ns, name);
    if (!last) throw notFound(spec.group, spec.plural, name);
    if (policy === 'Background') this.collectDependents(last, 'Background');
    return { object: this.present(spec, last), deleted: true };
  }

  deleteCollection(
    spec: KindSpec,
    namespace: string | undefined,
    list: ListOptions,
    opts: DeleteOptions,
  ): KubeObject[] {
    const { items } = this.list(spec, namespace, {
      labelSelector: list.labelSelector,
      fieldSelector: list.fieldSelector,
    });
    const out: KubeObject[] = [];
    for (const o of items) {
      try {
        out.push(this.delete(spec, o.metadata.namespace, o.metadata.name ?? '', opts).object);
      } catch (err) {
        if (!(err instanceof StatusError && err.code === 404)) throw err;
      }
    }
    return out;
  }

  /** The garbage collector: an object whose every owner is gone is deleted (or orphaned on request). */
  private collectDependents(owner: KubeObject, policy: 'Background' | 'Foreground'): void {
    const uid = owner.metadata.uid;
    if (!uid) return;
    for (const dep of this.store.dependents(uid)) {
      const obj = this.store.get(dep.resource, dep.namespace, dep.name);
      if (!obj) continue;
      const others = (obj.metadata.ownerReferences ?? []).filter((r) => r.uid !== uid && this.ownerExists(r.uid, obj));
      const depSpec = this.kinds.byResource(dep.resource);
      if (!depSpec) continue;
      if (others.length > 0) {
        this.store.put(dep.resource, {
          ...obj,
          metadata: {
            ...obj.metadata,
            ownerReferences: (obj.metadata.ownerReferences ?? []).filter((r) => r.uid !== uid),
          },
        });
        continue;
      }
      try {
        this.delete(depSpec, dep.namespace, dep.name, { user: SYSTEM_USER, propagationPolicy: policy });
      } catch (err) {
        if (!(err instanceof StatusError && err.code === 404)) throw err;
      }
    }
  }

  private ownerExists(uid: string, dependent: KubeObject): boolean {
    const ref = dependent.metadata.ownerReferences?.find((r) => r.uid === uid);
    if (!ref) return false;
    const spec = this.kinds.byKind(ref.apiVersion, ref.kind);
    if (!spec) return false;
    const o = this.store.get(
      this.storageKey(spec),
      spec.namespaced ? dependent.metadata.namespace : undefined,
      ref.name,
    );
    return o?.metadata.uid === uid;
  }

  private orphanDependents(owner: KubeObject): void {
    const uid = owner.metadata.uid;
    if (!uid) return;
    for (const dep of this.store.dependents(uid)) {
      const obj = this.store.get(dep.resource, dep.namespace, dep.name);
      if (!obj) continue;
      const refs = (obj.metadata.ownerReferences ?? []).filter((r) => r.uid !== uid);
      const metadata: KubeObject['metadata'] = { ...obj.metadata, ownerReferences: refs };
      if (refs.length === 0) delete metadata.ownerReferences;
      this.store.put(dep.resource, { ...obj, metadata });
    }
  }

  /** The namespace controller's work, done at once: everything in the namespace goes with it. */
  private emptyNamespace(namespace: string): void {
    for (const spec of this.kinds.all) {
      if (!spec.namespaced || spec.storedAs || spec.virtual) continue;
      for (const o of this.store.list(resourceKey(spec), namespace)) {
        this.store.remove(resourceKey(spec), namespace, o.metadata.name ?? '');
        this.collectDependents(o, 'Background');
      }
    }
  }

  /** Watch registration; `fromRv` undefined means "send the current state first" (done by the caller). */
  watch(spec: KindSpec, watcher: Watcher, fromRv?: number): () => void {
    return this.store.watch(this.storageKey(spec), watcher, fromRv);
  }

  private toStorage(spec: KindSpec, obj: KubeObject): KubeObject {
    return spec.storedAs ? spec.storedAs.toStorage(obj) : obj;
  }

  /** A request body as an object of this kind: kind/apiVersion checked and set, metadata present. */
  decodeBody(spec: KindSpec, body: unknown): KubeObject {
    if (!isRecord(body)) throw badRequest('the body of the request must be a JSON object');
    const obj = structuredClone(body) as KubeObject;
    if (!isRecord(obj.metadata)) obj.metadata = {};
    const apiVersion = apiVersionOf(spec);
    if (obj.apiVersion !== undefined && obj.apiVersion !== apiVersion)
      throw badRequest(
        `the API version in the data (${String(obj.apiVersion)}) does not match the expected API version (${apiVersion})`,
      );
    if (obj.kind !== undefined && obj.kind !== spec.kind)
      throw badRequest(
        `${String(obj.kind)} in version "${spec.version}" cannot be handled as a ${spec.kind}: the kind does not match`,
      );
    obj.apiVersion = apiVersion;
    obj.kind = spec.kind;
    return obj;
  }

  /** Helper for the fault API and benchmarks: the events a watcher would have seen, for tests. */
  static eventObject(ev: StoreEvent): KubeObject {
    return ev.object;
  }
}

/**
 * The pod strategy's CheckGracefulDelete: a pod that never reached a node, or whose containers have all ended
 * (Succeeded/Failed), goes at once; one on a node waits for its kubelet unless the client asks for grace 0.
 */
function podNeedsGrace(pod: KubeObject, requestedGrace: number | undefined): boolean {
  const nodeName = (pod.spec as { nodeName?: unknown } | undefined)?.nodeName;
  if (typeof nodeName !== 'string' || nodeName === '') return false;
  const phase = (pod.status as { phase?: unknown } | undefined)?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return false;
  return (requestedGrace ?? 1) > 0;
}

/** Kinds whose status is written through /status: the main resource's managers do not own it. */
function statusSeparate(spec: KindSpec): boolean {
  return spec.subresources?.includes('status') ?? false;
}

/** managedFields without their timestamps, to tell whether a write changed who owns what. */
function stripTimes(entries: ManagedFieldsEntry[]): unknown {
  return entries.map(({ time: _time, ...rest }) => rest);
}

function keyOf(o: KubeObject): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : (o.metadata.name ?? '');
}
