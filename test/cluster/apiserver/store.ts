/**
 * In-memory storage with one global resourceVersion (like etcd's revision), a bounded event history for watches
 * (older resourceVersions answer 410 Expired, as after an etcd compaction) and per-resource watcher sets so a write
 * is fanned out only to the watchers of its resource.
 */
import type { KubeObject } from './types.js';

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface StoreEvent {
  rv: number;
  resource: string;
  type: EventType;
  object: KubeObject;
  /**
   * The object before a MODIFIED, so selector watches can tell "stopped matching" (→ DELETED) from a change; before a
   * DELETED, the object as stored (its own resourceVersion), so a list at an older revision can restore it.
   */
  prev?: KubeObject;
  /** Serialisations already made for this event, shared by every watcher that wants the same encoding. */
  encoded?: Map<string, string>;
}

export interface Watcher {
  namespace?: string;
  matches(obj: KubeObject): boolean;
  send(type: EventType, object: KubeObject, event: StoreEvent): void;
}

export class ExpiredError extends Error {
  constructor(
    readonly requested: number,
    readonly oldest: number,
  ) {
    super(`too old resource version: ${requested} (${oldest})`);
  }
}

interface Bucket {
  objects: Map<string, KubeObject>;
  sorted: string[] | null;
  watchers: Set<Watcher>;
  byNamespace: Map<string, Set<string>>;
}

function objectKey(namespace: string | undefined, name: string): string {
  return namespace ? `${namespace}/${name}` : name;
}

export class Store {
  private revision = 0;
  private readonly buckets = new Map<string, Bucket>();
  private readonly history: StoreEvent[] = [];
  private historyStart = 0;
  /** Events with rv ≤ compacted are gone; a watch from before that is 410. */
  private compacted = 0;
  private readonly ownerIndex = new Map<string, Set<string>>();

  constructor(private readonly historySize: number) {}

  get resourceVersion(): number {
    return this.revision;
  }

  get oldestWatchable(): number {
    return this.compacted;
  }

  private bucket(resource: string): Bucket {
    let b = this.buckets.get(resource);
    if (!b) {
      b = { objects: new Map(), sorted: null, watchers: new Set(), byNamespace: new Map() };
      this.buckets.set(resource, b);
    }
    return b;
  }

  get(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    return this.buckets.get(resource)?.objects.get(objectKey(namespace, name));
  }

  /** Objects in key order (namespace/name), so `limit`/`continue` can resume after a key. */
  list(resource: string, namespace?: string, afterKey?: string): KubeObject[] {
    const b = this.buckets.get(resource);
    if (!b) return [];
    if (!b.sorted) b.sorted = [...b.objects.keys()].sort();
    let keys = b.sorted;
    if (namespace !== undefined) {
      const inNs = b.byNamespace.get(namespace);
      if (!inNs) return [];
      keys = keys.length > inNs.size * 4 ? [...inNs].sort() : keys.filter((k) => inNs.has(k));
    }
    let start = 0;
    if (afterKey !== undefined) {
      let lo = 0;
      let hi = keys.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (keys[mid] <= afterKey) lo = mid + 1;
        else hi = mid;
      }
      start = lo;
    }
    const out: KubeObject[] = [];
    for (let i = start; i < keys.length; i++) {
      const o = b.objects.get(keys[i]);
      if (o) out.push(o);
    }
    return out;
  }

  count(resource: string): number {
    return this.buckets.get(resource)?.objects.size ?? 0;
  }

  /** Keys (`resource|key`) of the objects that name `uid` in their ownerReferences. */
  dependents(uid: string): { resource: string; namespace?: string; name: string }[] {
    const set = this.ownerIndex.get(uid);
    if (!set) return [];
    return [...set].map((entry) => {
      const [resource, key] = entry.split('|');
      const slash = key.indexOf('/');
      return slash < 0
        ? { resource, name: key }
        : { resource, namespace: key.slice(0, slash), name: key.slice(slash + 1) };
    });
  }

  /** Writes an object (create or replace). Sets metadata.resourceVersion; the caller passes a fresh object. */
  put(resource: string, obj: KubeObject): KubeObject {
    const b = this.bucket(resource);
    const key = objectKey(obj.metadata.namespace, obj.metadata.name ?? '');
    const prev = b.objects.get(key);
    this.revision++;
    obj.metadata.resourceVersion = String(this.revision);
    b.objects.set(key, obj);
    if (!prev) {
      b.sorted = null;
      const ns = obj.metadata.namespace ?? '';
      let set = b.byNamespace.get(ns);
      if (!set) {
        set = new Set();
        b.byNamespace.set(ns, set);
      }
      set.add(key);
    }
    this.reindexOwners(resource, key, prev, obj);
    this.emit(b, { rv: this.revision, resource, type: prev ? 'MODIFIED' : 'ADDED', object: obj, prev });
    return obj;
  }

  remove(resource: string, namespace: string | undefined, name: string): KubeObject | undefined {
    const b = this.buckets.get(resource);
    const key = objectKey(namespace, name);
    const prev = b?.objects.get(key);
    if (!b || !prev) return undefined;
    this.revision++;
    b.objects.delete(key);
    b.sorted = null;
    b.byNamespace.get(namespace ?? '')?.delete(key);
    this.reindexOwners(resource, key, prev, undefined);
    // The DELETED event carries the object's last state with the deletion's resourceVersion, as the real server does.
    const last: KubeObject = { ...prev, metadata: { ...prev.metadata, resourceVersion: String(this.revision) } };
    this.emit(b, { rv: this.revision, resource, type: 'DELETED', object: last, prev });
    return last;
  }

  private reindexOwners(resource: string, key: string, prev?: KubeObject, next?: KubeObject): void {
    const entry = `${resource}|${key}`;
    for (const ref of prev?.metadata.ownerReferences ?? []) {
      const set = this.ownerIndex.get(ref.uid);
      set?.delete(entry);
      if (set?.size === 0) this.ownerIndex.delete(ref.uid);
    }
    for (const ref of next?.metadata.ownerReferences ?? []) {
      let set = this.ownerIndex.get(ref.uid);
      if (!set) {
        set = new Set();
        this.ownerIndex.set(ref.uid, set);
      }
      set.add(entry);
    }
  }

  private emit(b: Bucket, ev: StoreEvent): void {
    this.history.push(ev);
    if (this.history.length - this.historyStart > this.historySize) {
      this.compacted = this.history[this.historyStart].rv;
      this.historyStart++;
      // Trim the array in chunks so the ring stays O(1) amortised.
      if (this.historyStart > 1024 && this.historyStart * 2 > this.history.length) {
        this.history.splice(0, this.historyStart);
        this.historyStart = 0;
      }
    }
    for (const w of b.watchers) deliver(w, ev);
  }

  /**
   * The objects of `resource` as they were at revision `rv` (a list with `resourceVersionMatch=Exact`), rebuilt by
   * undoing the history after it; in key order. Throws ExpiredError when the history no longer reaches back to `rv`.
   */
  listAt(resource: string, namespace: string | undefined, rv: number): KubeObject[] {
    if (rv < this.compacted) throw new ExpiredError(rv, this.compacted + 1);
    const objects = new Map<string, KubeObject>();
    for (const o of this.list(resource, namespace))
      objects.set(objectKey(o.metadata.namespace, o.metadata.name ?? ''), o);
    for (let i = this.history.length - 1; i >= this.historyStart; i--) {
      const ev = this.history[i];
      if (ev.rv <= rv) break;
      if (ev.resource !== resource) continue;
      if (namespace !== undefined && ev.object.metadata.namespace !== namespace) continue;
      const key = objectKey(ev.object.metadata.namespace, ev.object.metadata.name ?? '');
      if (ev.type === 'ADDED') objects.delete(key);
      else if (ev.prev) objects.set(key, ev.prev);
    }
    return [...objects.keys()].sort().map((k) => objects.get(k) as KubeObject);
  }

  /** Forgets all history up to now: every watch from an older resourceVersion is then 410. */
  compact(): void {
    this.compacted = this.revision;
    this.history.length = 0;
    this.historyStart = 0;
  }

  /**
   * Registers a watcher. With `fromRv` the events after it are replayed first (410 when they are gone); without it
   * the caller sends the current state itself. Returns the function that unregisters it.
   */
  watch(resource: string, watcher: Watcher, fromRv?: number): () => void {
    const b = this.bucket(resource);
    if (fromRv !== undefined) {
      if (fromRv < this.compacted) throw new ExpiredError(fromRv, this.compacted + 1);
      for (let i = this.historyStart; i < this.history.length; i++) {
        const ev = this.history[i];
        if (ev.rv > fromRv && ev.resource === resource) deliver(watcher, ev);
      }
    }
    b.watchers.add(watcher);
    return () => {
      b.watchers.delete(watcher);
    };
  }

  watcherCount(resource?: string): number {
    if (resource) return this.buckets.get(resource)?.watchers.size ?? 0;
    let n = 0;
    for (const b of this.buckets.values()) n += b.watchers.size;
    return n;
  }

  allWatchers(): Watcher[] {
    const out: Watcher[] = [];
    for (const b of this.buckets.values()) out.push(...b.watchers);
    return out;
  }
}

function deliver(w: Watcher, ev: StoreEvent): void {
  if (w.namespace !== undefined && ev.object.metadata.namespace !== w.namespace) return;
  const now = w.matches(ev.object);
  if (ev.type !== 'MODIFIED') {
    if (now) w.send(ev.type, ev.object, ev);
    return;
  }
  const before = ev.prev ? w.matches(ev.prev) : false;
  if (now && before) w.send('MODIFIED', ev.object, ev);
  else if (now) w.send('ADDED', ev.object, ev);
  else if (before && ev.prev)
    w.send('DELETED', { ...ev.prev, metadata: { ...ev.prev.metadata, resourceVersion: String(ev.rv) } }, ev);
}
