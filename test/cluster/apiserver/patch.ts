/**
 * The three patch types of the API server: JSON patch (RFC 6902), JSON merge patch (RFC 7386) and strategic merge
 * patch (k8s.io/apimachinery/pkg/util/strategicpatch) with the list merge keys of the core types the project writes,
 * and the directives kubectl's client-side apply sends (`$patch`, `$setElementOrder/…`, `$retainKeys`,
 * `$deleteFromPrimitiveList/…`).
 */
import { isRecord } from './types.js';

export class PatchError extends Error {}

// ---------- RFC 6902 ----------

function unescapePointer(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

function parsePointer(pointer: string): string[] {
  if (pointer === '') return [];
  if (!pointer.startsWith('/')) throw new PatchError(`invalid JSON pointer "${pointer}"`);
  return pointer.slice(1).split('/').map(unescapePointer);
}

function getAt(doc: unknown, tokens: string[]): unknown {
  let cur = doc;
  for (const t of tokens) {
    if (Array.isArray(cur)) cur = cur[Number(t)];
    else if (isRecord(cur)) cur = cur[t];
    else return undefined;
  }
  return cur;
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  if (isRecord(a) && isRecord(b)) {
    const ka = Object.keys(a);
    if (ka.length !== Object.keys(b).length) return false;
    return ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

export function applyJsonPatch(target: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new PatchError('json patch must be an array of operations');
  let doc = structuredClone(target);
  for (const raw of ops) {
    if (!isRecord(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string')
      throw new PatchError('each json patch operation needs "op" and "path"');
    const tokens = parsePointer(raw.path);
    switch (raw.op) {
      case 'add':
        doc = setAt(doc, tokens, structuredClone(raw.value), 'add', raw.path);
        break;
      case 'replace':
        if (getAt(doc, tokens) === undefined)
          throw new PatchError(`replace operation does not apply: doc is missing key: ${raw.path}`);
        doc = setAt(doc, tokens, structuredClone(raw.value), 'replace', raw.path);
        break;
      case 'remove':
        doc = removeAt(doc, tokens, raw.path);
        break;
      case 'move':
      case 'copy': {
        if (typeof raw.from !== 'string') throw new PatchError(`${raw.op} operation needs "from"`);
        const fromTokens = parsePointer(raw.from);
        const value = getAt(doc, fromTokens);
        if (value === undefined)
          throw new PatchError(`${raw.op} operation does not apply: doc is missing from path: ${raw.from}`);
        if (raw.op === 'move') doc = removeAt(doc, fromTokens, raw.from);
        doc = setAt(doc, tokens, structuredClone(value), 'add', raw.path);
        break;
      }
      case 'test':
        if (!deepEqual(getAt(doc, tokens), raw.value)) throw new PatchError(`testing value ${raw.path} failed`);
        break;
      default:
        throw new PatchError(`Unexpected kind: ${raw.op}`);
    }
  }
  return doc;
}

function setAt(doc: unknown, tokens: string[], value: unknown, mode: 'add' | 'replace', where: string): unknown {
  if (tokens.length === 0) return value;
  const parent = getAt(doc, tokens.slice(0, -1));
  const last = tokens[tokens.length - 1];
  if (Array.isArray(parent)) {
    const index = last === '-' ? parent.length : Number(last);
    if (!Number.isInteger(index) || index < 0 || index > parent.length)
      throw new PatchError(`${mode} operation does not apply: index out of range: ${where}`);
    if (mode === 'add') parent.splice(index, 0, value);
    else parent[index] = value;
  } else if (isRecord(parent)) {
    parent[last] = value;
  } else {
    throw new PatchError(`${mode} operation does not apply: doc is missing path: ${where}`);
  }
  return doc;
}

function removeAt(doc: unknown, tokens: string[], where: string): unknown {
  const parent = getAt(doc, tokens.slice(0, -1));
  const last = tokens[tokens.length - 1];
  if (Array.isArray(parent)) {
    const index = Number(last);
    if (!Number.isInteger(index) || index < 0 || index >= parent.length)
      throw new PatchError(`remove operation does not apply: doc is missing path: ${where}`);
    parent.splice(index, 1);
  } else if (isRecord(parent) && Object.hasOwn(parent, last)) {
    delete parent[last];
  } else {
    throw new PatchError(`remove operation does not apply: doc is missing path: ${where}`);
  }
  return doc;
}

// ---------- RFC 7386 ----------

export function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isRecord(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = applyMergePatch(out[k], v);
  }
  return out;
}

// ---------- strategic merge patch ----------

/**
 * patchMergeKey of list fields, by field name (the same name means the same type in the kinds served here):
 * k8s.io/api core/v1 and meta/v1 `patchStrategy:"merge" patchMergeKey:"…"` tags.
 */
const MERGE_KEYS: Record<string, string> = {
  containers: 'name',
  initContainers: 'name',
  ephemeralContainers: 'name',
  env: 'name',
  volumes: 'name',
  volumeMounts: 'mountPath',
  volumeDevices: 'devicePath',
  imagePullSecrets: 'name',
  resourceClaims: 'name',
  conditions: 'type',
  ownerReferences: 'uid',
  taints: 'key',
  addresses: 'type',
  hostAliases: 'ip',
  topologySpreadConstraints: 'topologyKey',
  readinessGates: 'conditionType',
  schedulingGates: 'name',
  podIPs: 'ip',
  hostIPs: 'ip',
};

/** Lists of scalars merged as sets (`patchStrategy:"merge"` on []string). */
const MERGED_SCALAR_LISTS = new Set(['finalizers']);

function mergeKeyFor(field: string, parentPath: string[]): string | undefined {
  // container ports merge on containerPort; Service ports on port.
  if (field === 'ports')
    return parentPath.includes('containers') || parentPath.includes('initContainers') ? 'containerPort' : 'port';
  return MERGE_KEYS[field];
}

export function applyStrategicMergePatch(target: unknown, patch: unknown): unknown {
  if (!isRecord(patch)) throw new PatchError('strategic merge patch must be a JSON object');
  return smpMap(isRecord(target) ? target : {}, patch, []);
}

function smpMap(
  target: Record<string, unknown>,
  patch: Record<string, unknown>,
  at: string[],
): Record<string, unknown> {
  if (patch.$patch === 'replace') {
    const { $patch: _drop, ...rest } = patch;
    return stripDirectives(rest) as Record<string, unknown>;
  }
  if (patch.$patch === 'delete') return {};
  let out: Record<string, unknown> = { ...target };
  const retain = patch.$retainKeys;
  const orders: Record<string, unknown[]> = {};
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch' || k === '$retainKeys') continue;
    if (k.startsWith('$setElementOrder/')) {
      if (Array.isArray(v)) orders[k.slice('$setElementOrder/'.length)] = v;
      continue;
    }
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const field = k.slice('$deleteFromPrimitiveList/'.length);
      const cur = out[field];
      if (Array.isArray(cur) && Array.isArray(v)) out[field] = cur.filter((x) => !v.some((d) => deepEqual(d, x)));
      continue;
    }
    if (v === null) {
      delete out[k];
      continue;
    }
    const cur = out[k];
    if (isRecord(v)) {
      out[k] = smpMap(isRecord(cur) ? cur : {}, v, [...at, k]);
    } else if (Array.isArray(v)) {
      out[k] = smpList(Array.isArray(cur) ? cur : [], v, k, at);
    } else {
      out[k] = v;
    }
  }
  for (const [field, order] of Object.entries(orders)) {
    const cur = out[field];
    if (Array.isArray(cur)) out[field] = reorder(cur, order, mergeKeyFor(field, at));
  }
  if (Array.isArray(retain)) {
    const keep = new Set(retain.map(String));
    out = Object.fromEntries(Object.entries(out).filter(([k]) => keep.has(k)));
  }
  return out;
}

function stripDirectives(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(stripDirectives);
  if (!isRecord(v)) return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) if (!k.startsWith('$')) out[k] = stripDirectives(x);
  return out;
}

function smpList(target: unknown[], patch: unknown[], field: string, at: string[]): unknown[] {
  const key = mergeKeyFor(field, at);
  if (MERGED_SCALAR_LISTS.has(field)) {
    const out = [...target];
    for (const v of patch) if (!out.some((x) => deepEqual(x, v))) out.push(v);
    return out;
  }
  if (!key) return stripDirectives(patch) as unknown[];
  if (patch.some((p) => isRecord(p) && p.$patch === 'replace')) {
    return stripDirectives(patch.filter((p) => !(isRecord(p) && p.$patch === 'replace'))) as unknown[];
  }
  const out = [...target];
  for (const p of patch) {
    if (!isRecord(p)) throw new PatchError(`unable to merge list "${field}": element is not an object`);
    const idx = out.findIndex((x) => isRecord(x) && deepEqual(x[key], p[key]));
    if (p.$patch === 'delete') {
      if (idx >= 0) out.splice(idx, 1);
      continue;
    }
    if (idx >= 0) out[idx] = smpMap(out[idx] as Record<string, unknown>, p, [...at, field]);
    else out.push(stripDirectives(p));
  }
  return out;
}

function reorder(list: unknown[], order: unknown[], key: string | undefined): unknown[] {
  const idOf = (x: unknown): unknown => (key && isRecord(x) ? x[key] : x);
  const orderIds = order.map((o) => (key && isRecord(o) ? o[key] : o));
  const ranked = list.map((item, i) => {
    const pos = orderIds.findIndex((id) => deepEqual(id, idOf(item)));
    return { item, rank: pos >= 0 ? pos : orderIds.length + i };
  });
  ranked.sort((a, b) => a.rank - b.rank);
  return ranked.map((r) => r.item);
}
