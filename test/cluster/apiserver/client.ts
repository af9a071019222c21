/**
 * The in-process handle tests use to seed and inspect the server without HTTP. It goes through the same registry
 * (validation, admission, GC, watches) as HTTP requests, as the given user (the server itself by default).
 */
import { parseAllDocuments } from 'yaml';
import { StatusError } from './errors.js';
import { type KindSpec, resourceKey } from './kinds.js';
import { type DeleteOptions, type ListOptions, type PatchType, type Registry, SYSTEM_USER } from './registry.js';
import type { EventType, StoreEvent } from './store.js';
import { isRecord, type KubeObject, type UserInfo } from './types.js';

export interface Target {
  namespace?: string;
  user?: UserInfo;
  subresource?: string;
}

/** Any object with metadata: the in-process client takes the shapes of src/kube/types.ts or plain JSON alike. */
export interface ObjectInput {
  metadata?: { name?: string; namespace?: string };
}

export class InProcessClient {
  constructor(private readonly registry: Registry) {}

  /** `pods`, `resourceslices`, `resourceslices.resource.k8s.io`, `ResourceSlice`, `leaderworkersets`… */
  kind(resource: string): KindSpec {
    const all = this.registry.kinds.all;
    const found =
      all.find((k) => resourceKey(k) === resource) ??
      all.find((k) => k.plural === resource && !k.storedAs) ??
      all.find((k) => k.kind === resource && !k.storedAs) ??
      all.find((k) => k.plural === resource || k.kind === resource);
    if (!found) throw new Error(`unknown resource "${resource}"`);
    return found;
  }

  /** Namespaced kinds default to `default`, as kubectl does. */
  private ns(spec: KindSpec, namespace: string | undefined): string | undefined {
    return spec.namespaced ? (namespace ?? 'default') : undefined;
  }

  get(resource: string, name: string, namespace?: string): KubeObject {
    const spec = this.kind(resource);
    return this.registry.get(spec, this.ns(spec, namespace), name);
  }

  /** The object, or undefined when absent. */
  find(resource: string, name: string, namespace?: string): KubeObject | undefined {
    try {
      return this.get(resource, name, namespace);
    } catch (err) {
      if (err instanceof StatusError && err.code === 404) return undefined;
      throw err;
    }
  }

  list(resource: string, opts: ListOptions & { namespace?: string } = {}): KubeObject[] {
    return this.registry.list(this.kind(resource), opts.namespace, opts).items;
  }

  create(resource: string, obj: unknown, t: Target = {}): KubeObject {
    const spec = this.kind(resource);
    const ns =
      t.namespace ??
      (isRecord(obj) && isRecord(obj.metadata) ? (obj.metadata.namespace as string | undefined) : undefined);
    return this.registry.create(spec, ns ?? (spec.namespaced ? 'default' : undefined), obj, {
      user: t.user ?? SYSTEM_USER,
      subresource: t.subresource,
    }).object;
  }

  update(resource: string, obj: ObjectInput, t: Target = {}): KubeObject {
    const spec = this.kind(resource);
    return this.registry.update(
      spec,
      this.ns(spec, t.namespace ?? obj.metadata?.namespace),
      obj.metadata?.name ?? '',
      obj,
      {
        user: t.user ?? SYSTEM_USER,
        subresource: t.subresource,
      },
    ).object;
  }

  updateStatus(resource: string, obj: ObjectInput, t: Target = {}): KubeObject {
    return this.update(resource, obj, { ...t, subresource: 'status' });
  }

  patch(resource: string, name: string, patch: unknown, type: PatchType = 'merge', t: Target = {}): KubeObject {
    const spec = this.kind(resource);
    return this.registry.patch(spec, this.ns(spec, t.namespace), name, type, patch, {
      user: t.user ?? SYSTEM_USER,
      subresource: t.subresource,
    }).object;
  }

  delete(resource: string, name: string, namespace?: string, opts: Partial<DeleteOptions> = {}): KubeObject {
    const spec = this.kind(resource);
    return this.registry.delete(spec, this.ns(spec, namespace), name, { user: SYSTEM_USER, ...opts }).object;
  }

  /**
   * Creates or replaces every object of a multi-document YAML text or list of objects (like `kubectl apply` without
   * the three-way merge). Kinds the server does not serve are skipped and returned in `skipped`.
   */
  apply(input: string | unknown[]): {
    applied: KubeObject[];
    skipped: { apiVersion: string; kind: string; name: string }[];
  } {
    const docs =
      typeof input === 'string'
        ? parseAllDocuments(input)
            .map((d) => d.toJSON() as unknown)
            .filter((d) => d !== null && d !== undefined)
        : input;
    const applied: KubeObject[] = [];
    const skipped: { apiVersion: string; kind: string; name: string }[] = [];
    for (const doc of docs) {
      if (!isRecord(doc)) continue;
      const items = doc.kind === 'List' && Array.isArray(doc.items) ? doc.items : [doc];
      for (const item of items) {
        if (!isRecord(item)) continue;
        const spec = this.registry.kinds.byKind(String(item.apiVersion), String(item.kind));
        const meta = isRecord(item.metadata) ? item.metadata : {};
        if (!spec) {
          skipped.push({ apiVersion: String(item.apiVersion), kind: String(item.kind), name: String(meta.name ?? '') });
          continue;
        }
        const ns = spec.namespaced ? String(meta.namespace ?? 'default') : undefined;
        const existing =
          typeof meta.name === 'string'
            ? this.registry.store.get(this.registry.storageKey(spec), ns, meta.name)
            : undefined;
        if (existing) {
          const next = { ...item, metadata: { ...meta, resourceVersion: existing.metadata.resourceVersion } };
          applied.push(this.registry.update(spec, ns, String(meta.name), next, { user: SYSTEM_USER }).object);
        } else {
          if (spec.namespaced && ns && !this.registry.store.get('namespaces', undefined, ns))
            this.registry.create(this.kind('namespaces'), undefined, { metadata: { name: ns } }, { user: SYSTEM_USER });
          applied.push(this.registry.create(spec, ns, item, { user: SYSTEM_USER }).object);
        }
      }
    }
    return { applied, skipped };
  }

  /** Calls `onEvent` for every later change of the resource; returns the function that stops it. */
  subscribe(resource: string, onEvent: (type: EventType, obj: KubeObject) => void): () => void {
    const spec = this.kind(resource);
    return this.registry.watch(spec, {
      matches: () => true,
      send: (type: EventType, obj: KubeObject, _ev: StoreEvent) => onEvent(type, this.registry.present(spec, obj)),
    });
  }

  get resourceVersion(): number {
    return this.registry.store.resourceVersion;
  }
}
