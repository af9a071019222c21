/**
 * Server-side apply and field ownership, as sigs.k8s.io/structured-merge-diff does it for the API server: every write
 * records which manager set which fields in `metadata.managedFields` (FieldsV1); an apply by one manager that would
 * change a field another manager owns is a 409 Conflict naming both, unless forced, in which case ownership moves;
 * fields an applier stops applying are removed when nobody else owns them.
 *
 * Simplifications, all on the side of "same answer for the objects the project writes": a `conditions` list whose
 * items all have a `type` is a map keyed by type (as every `+listType=map +listMapKey=type` conditions list is); any
 * other list whose items all have a `name` is a map keyed by name (containers, env, volumes, ports with names…); every
 * other list is atomic.
 *
 * Threats: a client sending its own managedFields (ignored on input, as a full replace of them is not offered);
 * appliers fighting over a field (409 with the other manager's name, never a silent overwrite); a manager name missing
 * on apply (400, as the real server).
 */
import { invalid, StatusError } from './errors.js';
import { isRecord, type KubeObject } from './types.js';

/** One path segment: `f:<field>` or `k:{"name":"x"}` (a keyed list item). */
type Segment = string;
type FieldPath = Segment[];

export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: Record<string, unknown>;
  subresource?: string;
}

const METADATA_TRACKED = new Set(['labels', 'annotations', 'finalizers', 'ownerReferences']);

/** The key field of a list held under `field` (`f:conditions`…), or undefined when the list is atomic. */
function listKey(list: unknown[], field: Segment | undefined): string | undefined {
  const key = field === 'f:conditions' ? 'type' : 'name';
  return list.length > 0 && list.every((item) => isRecord(item) && typeof item[key] === 'string') ? key : undefined;
}

function itemSegment(item: Record<string, unknown>, key: string): Segment {
  return `k:${JSON.stringify({ [key]: item[key] })}`;
}

/** The item a `k:{"type":"Ready"}` segment names. */
function matchesSegment(item: unknown, seg: Segment): boolean {
  const wanted = JSON.parse(seg.slice(2)) as Record<string, unknown>;
  return isRecord(item) && Object.entries(wanted).every(([k, v]) => item[k] === v);
}

/** The leaf paths an object sets (what its writer owns). `status` only for the status subresource. */
export function fieldSet(obj: Record<string, unknown>, part: 'main' | 'status', statusSeparate: boolean): Set<string> {
  const out = new Set<string>();
  const walk = (value: unknown, path: FieldPath) => {
    if (isRecord(value)) {
      const keys = Object.keys(value);
      if (keys.length === 0 && path.length > 0) out.add(JSON.stringify(path));
      for (const k of keys) walk(value[k], [...path, `f:${k}`]);
      return;
    }
    const key = Array.isArray(value) ? listKey(value, path[path.length - 1]) : undefined;
    if (Array.isArray(value) && key) {
      for (const item of value as Record<string, unknown>[]) {
        const itemPath = [...path, itemSegment(item, key)];
        out.add(JSON.stringify([...itemPath, '.']));
        for (const k of Object.keys(item)) walk(item[k], [...itemPath, `f:${k}`]);
      }
      return;
    }
    out.add(JSON.stringify(path));
  };
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'apiVersion' || k === 'kind') continue;
    if (k === 'metadata') {
      if (part === 'status' || !isRecord(v)) continue;
      for (const [mk, mv] of Object.entries(v)) if (METADATA_TRACKED.has(mk)) walk(mv, ['f:metadata', `f:${mk}`]);
      continue;
    }
    const isStatus = k === 'status';
    if (statusSeparate && (part === 'status') !== isStatus) continue;
    walk(v, [`f:${k}`]);
  }
  return out;
}

/** A set of paths as FieldsV1 JSON (`{"f:data":{"f:k":{}}}`). */
function toFieldsV1(paths: Iterable<string>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const p of paths) {
    let node = root;
    for (const seg of JSON.parse(p) as FieldPath) {
      node[seg] ??= {};
      node = node[seg] as Record<string, unknown>;
    }
  }
  return root;
}

function fromFieldsV1(fields: unknown): Set<string> {
  const out = new Set<string>();
  const walk = (node: unknown, path: FieldPath) => {
    if (!isRecord(node)) return;
    const keys = Object.keys(node);
    if (keys.length === 0 && path.length > 0) out.add(JSON.stringify(path));
    for (const k of keys) walk(node[k], [...path, k]);
  };
  walk(fields, []);
  return out;
}

/** The value at a path, or undefined. */
function valueAt(obj: unknown, path: FieldPath): unknown {
  let cur: unknown = obj;
  for (const seg of path) {
    if (seg === '.') return cur;
    if (seg.startsWith('f:')) {
      if (!isRecord(cur)) return undefined;
      cur = cur[seg.slice(2)];
    } else {
      if (!Array.isArray(cur)) return undefined;
      cur = cur.find((i) => matchesSegment(i, seg));
    }
  }
  return cur;
}

function removeAt(obj: Record<string, unknown>, path: FieldPath): void {
  const parentPath = path[path.length - 1] === '.' ? path.slice(0, -1) : path;
  if (parentPath.length === 0) return;
  const parent = valueAt(obj, parentPath.slice(0, -1));
  const last = parentPath[parentPath.length - 1];
  if (last.startsWith('f:') && isRecord(parent)) delete parent[last.slice(2)];
  else if (last.startsWith('k:') && Array.isArray(parent)) {
    const i = parent.findIndex((item) => matchesSegment(item, last));
    if (i >= 0) parent.splice(i, 1);
  }
}

/** Applied configuration merged over the live object: maps deep, keyed lists by their key, other lists replaced. */
function mergeApplied(live: unknown, applied: unknown, field?: Segment): unknown {
  if (isRecord(live) && isRecord(applied)) {
    const out: Record<string, unknown> = { ...live };
    for (const [k, v] of Object.entries(applied)) out[k] = v === null ? undefined : mergeApplied(live[k], v, `f:${k}`);
    for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
    return out;
  }
  const key = Array.isArray(applied) ? listKey(applied, field) : undefined;
  if (Array.isArray(live) && Array.isArray(applied) && key && listKey(live, field) === key) {
    const keyOf = (item: unknown) => (item as Record<string, unknown>)[key];
    const out = live.map((item) => {
      const match = applied.find((a) => keyOf(a) === keyOf(item));
      return match ? mergeApplied(item, match) : item;
    });
    for (const a of applied) if (!live.some((item) => keyOf(item) === keyOf(a))) out.push(a);
    return out;
  }
  return structuredClone(applied);
}

function entriesOf(obj: KubeObject): ManagedFieldsEntry[] {
  const list = obj.metadata.managedFields;
  return Array.isArray(list) ? (list.filter(isRecord) as unknown as ManagedFieldsEntry[]) : [];
}

function sameEntry(e: ManagedFieldsEntry, manager: string, operation: string, subresource?: string): boolean {
  return e.manager === manager && e.operation === operation && (e.subresource ?? '') === (subresource ?? '');
}

export interface OwnershipWrite {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  subresource?: string;
  time: string;
  statusSeparate: boolean;
}

/**
 * The managedFields after a write: the writer owns `owned` (for Update: what it changed or set; for Apply: what it
 * applied); those paths leave every other manager's set (forced or non-conflicting); empty entries are dropped.
 */
export function recordOwnership(
  before: ManagedFieldsEntry[],
  owned: Set<string>,
  w: OwnershipWrite,
  keepShared: Set<string> = new Set(),
): ManagedFieldsEntry[] {
  const out: ManagedFieldsEntry[] = [];
  let mine: Set<string> = w.operation === 'Apply' ? new Set() : new Set<string>();
  for (const e of before) {
    if (sameEntry(e, w.manager, w.operation, w.subresource)) {
      if (w.operation === 'Update') mine = fromFieldsV1(e.fieldsV1);
      continue;
    }
    const fields = fromFieldsV1(e.fieldsV1);
    for (const p of owned) if (!keepShared.has(p)) fields.delete(p);
    if (fields.size > 0) out.push({ ...e, fieldsV1: toFieldsV1(fields) });
  }
  for (const p of owned) mine.add(p);
  if (mine.size > 0)
    out.push({
      manager: w.manager,
      operation: w.operation,
      apiVersion: w.apiVersion,
      time: w.time,
      fieldsType: 'FieldsV1',
      fieldsV1: toFieldsV1(mine),
      ...(w.subresource ? { subresource: w.subresource } : {}),
    });
  return out;
}

/** The paths whose value differs between two objects (added, changed or removed), in the writer's part. */
export function changedFields(
  old: Record<string, unknown> | undefined,
  next: Record<string, unknown>,
  part: 'main' | 'status',
  statusSeparate: boolean,
): Set<string> {
  const nextSet = fieldSet(next, part, statusSeparate);
  if (!old) return nextSet;
  const out = new Set<string>();
  for (const p of nextSet) {
    const path = JSON.parse(p) as FieldPath;
    if (JSON.stringify(valueAt(old, path)) !== JSON.stringify(valueAt(next, path))) out.add(p);
  }
  return out;
}

/**
 * A manager as conflict messages name it (the apiserver's printManager): `"name"` for an applier, `"name" using v1 at
 * <time>` for an updater, ` with subresource "status"` when it wrote a subresource.
 */
function printManager(e: ManagedFieldsEntry): string {
  let out = JSON.stringify(e.manager);
  if (e.subresource) out += ` with subresource ${JSON.stringify(e.subresource)}`;
  if (e.operation === 'Update') out += e.time ? ` using ${e.apiVersion} at ${e.time}` : ` using ${e.apiVersion}`;
  return out;
}

/** A path as fieldpath.Path.String() renders it: `.data.k`, `.spec.containers[name="c"].image`. */
function render(path: FieldPath): string {
  return path
    .filter((s) => s !== '.')
    .map((s) =>
      s.startsWith('f:')
        ? `.${s.slice(2)}`
        : `[${Object.entries(JSON.parse(s.slice(2)) as Record<string, unknown>)
            .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
            .join(',')}]`,
    )
    .join('');
}

export interface ApplyOutcome {
  object: Record<string, unknown>;
  managedFields: ManagedFieldsEntry[];
}

/**
 * One server-side apply: conflicts with other managers (409 unless `force`), the merged object with the fields this
 * manager stopped applying removed, and the new managedFields.
 */
export function serverSideApply(
  live: KubeObject,
  applied: Record<string, unknown>,
  w: OwnershipWrite & { force: boolean; group: string; plural: string },
): ApplyOutcome {
  const part = w.subresource === 'status' ? 'status' : 'main';
  const appliedSet = fieldSet(applied, part, w.statusSeparate);
  const entries = entriesOf(live);
  const conflicts: { manager: string; path: FieldPath }[] = [];
  const shared = new Set<string>();
  for (const e of entries) {
    if (sameEntry(e, w.manager, 'Apply', w.subresource)) continue;
    for (const p of fromFieldsV1(e.fieldsV1)) {
      if (!appliedSet.has(p)) continue;
      const path = JSON.parse(p) as FieldPath;
      if (path[path.length - 1] === '.') continue;
      if (JSON.stringify(valueAt(live, path)) === JSON.stringify(valueAt(applied, path))) {
        shared.add(p);
        continue;
      }
      conflicts.push({ manager: printManager(e), path });
    }
  }
  if (conflicts.length > 0 && !w.force) {
    const n = conflicts.length;
    let message: string;
    if (n === 1)
      message = `Apply failed with 1 conflict: conflict with ${conflicts[0].manager}: ${render(conflicts[0].path)}`;
    else {
      const byManager = new Map<string, string[]>();
      for (const c of conflicts) byManager.set(c.manager, [...(byManager.get(c.manager) ?? []), render(c.path)]);
      const lines: string[] = [];
      for (const manager of [...byManager.keys()].sort()) {
        lines.push(`conflicts with ${manager}:`);
        for (const path of byManager.get(manager) ?? []) lines.push(`- ${path}`);
      }
      message = `Apply failed with ${n} conflicts: ${lines.join('\n')}`;
    }
    throw new StatusError(409, 'Conflict', message, {
      name: live.metadata.name,
      group: w.group || undefined,
      kind: w.plural,
      causes: conflicts.map((c) => ({
        reason: 'FieldManagerConflict',
        message: `conflict with ${c.manager}`,
        field: render(c.path),
      })),
    });
  }
  const merged = mergeApplied(live, applied) as Record<string, unknown>;
  // Fields this manager applied before and no longer does, that nobody else owns, go.
  const previous = entries.find((e) => sameEntry(e, w.manager, 'Apply', w.subresource));
  if (previous) {
    const others = new Set<string>();
    for (const e of entries) if (e !== previous) for (const p of fromFieldsV1(e.fieldsV1)) others.add(p);
    for (const p of fromFieldsV1(previous.fieldsV1))
      if (!appliedSet.has(p) && !others.has(p)) removeAt(merged, JSON.parse(p) as FieldPath);
  }
  const managedFields = recordOwnership(entries, appliedSet, w, shared);
  return { object: merged, managedFields };
}

/** ValidatePatchOptions: an apply names its manager; `force` is for applies only (422 PatchOptions). */
export function checkPatchOptions(apply: boolean, fieldManager: string | undefined, force: boolean | undefined): void {
  if (apply && !fieldManager)
    throw invalid('meta.k8s.io', 'PatchOptions', '', [
      { type: 'FieldValueRequired', field: 'fieldManager', detail: 'is required for apply patch' },
    ]);
  if (!apply && force !== undefined)
    throw invalid('meta.k8s.io', 'PatchOptions', '', [
      { type: 'FieldValueForbidden', field: 'force', detail: 'may not be specified for non-apply patch' },
    ]);
}

/** The manager of a write that names none: the User-Agent up to its first `/` (`kubectl`, `node-fetch`…). */
export function managerFromUserAgent(userAgent: string | undefined): string {
  return (userAgent ?? '').split('/')[0] || 'unknown';
}
