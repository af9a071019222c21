/** Plain JSON values: what a manifest is once parsed, whatever its text format was. */
export type Json = null | boolean | number | string | Json[] | JsonObject;
export interface JsonObject {
  [key: string]: Json;
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const ka = Object.keys(a);
    const kb = Object.keys(b);
    return ka.length === kb.length && ka.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k]));
  }
  return false;
}

/**
 * A deep copy of a plain value: what structuredClone gives for JSON data, at a fraction of its cost (inject copies
 * every workload it rewrites; a List holds thousands). Anything that is no plain object or array (the YAML library can
 * give other kinds of object) is left to structuredClone.
 */
export function cloneJson<T extends Json>(value: T): T {
  return copyValue(value) as T;
}

function copyValue(value: Json): Json {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) return structuredClone(value);
    const copy: Json[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) copy[i] = copyValue(value[i]!);
    return copy;
  }
  const prototype = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) return structuredClone(value);
  const copy: JsonObject = {};
  for (const key of Object.keys(value)) {
    // an own `__proto__` key is data: assigned, it would set the copy's prototype instead
    if (key === '__proto__')
      Object.defineProperty(copy, key, {
        value: copyValue(value[key]!),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    else copy[key] = copyValue(value[key]!);
  }
  return copy;
}

/**
 * Sets `key` on `target`, placing a new key before the first of `before` that exists so the output reads the way
 * people write manifests (initContainers above containers); an existing key keeps its place.
 */
export function setKey(target: JsonObject, key: string, value: Json, before: readonly string[] = []): void {
  if (Object.hasOwn(target, key) || !before.some((b) => Object.hasOwn(target, b))) {
    target[key] = value;
    return;
  }
  const anchor = Object.keys(target).find((k) => before.includes(k));
  const entries = Object.entries(target);
  for (const k of Object.keys(target)) delete target[k];
  for (const [k, v] of entries) {
    if (k === anchor) target[key] = value;
    target[k] = v;
  }
}

/** The object at `target[key]`, created (and placed per `before`) when missing. */
export function childObject(target: JsonObject, key: string, before: readonly string[] = []): JsonObject {
  const existing = target[key];
  if (isObject(existing)) return existing;
  const created: JsonObject = {};
  setKey(target, key, created, before);
  return created;
}

/** The array at `target[key]`, created (and placed per `before`) when missing. */
export function childArray(target: JsonObject, key: string, before: readonly string[] = []): Json[] {
  const existing = target[key];
  if (Array.isArray(existing)) return existing;
  const created: Json[] = [];
  setKey(target, key, created, before);
  return created;
}

export function stringAt(target: JsonObject | undefined, key: string): string | undefined {
  const value = target?.[key];
  return typeof value === 'string' ? value : undefined;
}

export function objectAt(target: JsonObject | undefined, key: string): JsonObject | undefined {
  const value = target?.[key];
  return isObject(value) ? value : undefined;
}

export function arrayAt(target: JsonObject | undefined, key: string): Json[] | undefined {
  const value = target?.[key];
  return Array.isArray(value) ? value : undefined;
}

export function stringArray(value: Json | undefined): string[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return value.every((v) => typeof v === 'string') ? (value as string[]) : undefined;
}
