/** The plain-data helpers inject rewrites manifests with (src/inject/json.ts). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cloneJson, type Json } from '../../src/inject/json.js';

/** Whether two values share an object (a copy must share none with its source). */
function shares(a: Json, b: Json): boolean {
  if (a === null || typeof a !== 'object' || b === null || typeof b !== 'object') return false;
  if (a === b) return true;
  const children = (v: Json) => (Array.isArray(v) ? v : Object.values(v as object)) as Json[];
  const bs = children(b);
  return children(a).some((child, i) => shares(child, bs[i]!));
}

describe('cloneJson', () => {
  it('copies what structuredClone copies, keys in order, sharing nothing', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const copy = cloneJson(value as Json);
        expect(copy).toStrictEqual(structuredClone(value));
        expect(JSON.stringify(copy)).toBe(JSON.stringify(value));
        expect(shares(copy, value as Json)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('keeps a __proto__ key as data and copies what is no plain object with structuredClone', () => {
    const parsed = JSON.parse('{"__proto__": {"a": 1}, "b": [1, {"__proto__": null}]}') as Json;
    const copy = cloneJson(parsed);
    expect(Object.keys(copy as object)).toEqual(['__proto__', 'b']);
    expect(Object.getPrototypeOf(copy)).toBe(Object.prototype);
    expect(JSON.stringify(copy)).toBe(JSON.stringify(parsed));
    const bytes = { data: new Uint8Array([1, 2]) } as unknown as Json;
    expect(cloneJson(bytes)).toStrictEqual(structuredClone(bytes));
  });
});
