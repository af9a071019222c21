/**
 * How inject pairs the items of a list before and after a rewrite (src/inject/yaml-merge.ts): each new item continues
 * the earliest unused old item with the same JSON text, then one with the same name. The pairing decides which item
 * keeps its comments, so it is checked against a plain reference that prints every item: on chosen lists, on generated
 * ones full of look-alikes (same kind and name, keys in another order, numbers JSON writes alike), and on a list
 * built so that the quick comparison gives up.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Json } from '../../src/inject/json.js';
import { pairItems } from '../../src/inject/yaml-merge.js';

/** The pairing written the obvious way: every item's JSON text, then every named item's identity. */
function reference(before: readonly Json[], after: readonly Json[]): number[] {
  const used = new Set<number>();
  const earliest = (matches: (i: number) => boolean): number => {
    const i = before.findIndex((_, k) => !used.has(k) && matches(k));
    if (i >= 0) used.add(i);
    return i;
  };
  const exact = after.map((value) => earliest((i) => JSON.stringify(before[i]) === JSON.stringify(value)));
  const identity = (item: Json | undefined): string | undefined =>
    item !== null && typeof item === 'object' && !Array.isArray(item) && typeof item.name === 'string'
      ? JSON.stringify([item.name, item.mountPath ?? null])
      : undefined;
  return after.map((value, j) => {
    if (exact[j]! >= 0) return exact[j]!;
    const key = identity(value);
    return key === undefined ? -1 : earliest((i) => identity(before[i]) === key);
  });
}

const sts = (name: string, replicas: number): Json => ({
  apiVersion: 'apps/v1',
  kind: 'StatefulSet',
  metadata: { name },
  spec: { replicas },
});

describe('pairItems', () => {
  const cases: [string, Json[], Json[], number[]][] = [
    ['a rewritten workload pairs with nothing', [sts('a', 1)], [sts('a', 2)], [-1]],
    ['unchanged items pair in place', [sts('a', 1), sts('b', 1)], [sts('a', 1), sts('b', 1)], [0, 1]],
    [
      'a rewrite that equals a later old item takes it',
      [sts('a', 1), sts('a', 2)],
      [sts('a', 2), sts('a', 2)],
      [1, -1],
    ],
    ['equal items take the earliest first', [sts('a', 1), sts('a', 1)], [sts('a', 1), sts('a', 1)], [0, 1]],
    ['keys in another order are another text', [{ a: 1, b: 2 }], [{ b: 2, a: 1 }], [-1]],
    ['NaN, Infinity and null are all written null', [null, Number.NaN], [Number.POSITIVE_INFINITY, null], [0, 1]],
    ['-0 is written 0', [0], [-0], [0]],
    ['a named item keeps its name', [{ name: 'x', value: '1' }], [{ name: 'x', value: '2' }], [0]],
    ['a volume mount is its name and path', [{ name: 'v', mountPath: '/a' }], [{ name: 'v', mountPath: '/b' }], [-1]],
  ];
  for (const [what, before, after, expected] of cases) {
    it(what, () => {
      expect(reference(before, after)).toEqual(expected);
      expect(pairItems(before, after)).toEqual(expected);
    });
  }

  const item: fc.Arbitrary<Json> = fc.oneof(
    fc.constantFrom<Json>(null, 0, -0, 1, Number.NaN, Number.POSITIVE_INFINITY, 'a', '', true, [], {}, [1], [null]),
    fc.constantFrom<Json>({ a: 1, b: 2 }, { b: 2, a: 1 }, { name: 'x' }, { name: 'x', mountPath: '/m' }),
    fc
      .tuple(fc.constantFrom('a', 'b'), fc.constantFrom(1, 2, Number.NaN))
      .map(([name, replicas]) => sts(name, replicas)),
    fc
      .tuple(fc.constantFrom('a', 'b'), fc.constantFrom(undefined, 'ns'), fc.constantFrom(1, 2))
      .map(([name, namespace, n]): Json => ({ kind: 'Pod', metadata: namespace ? { name, namespace } : { name }, n })),
  );

  it('pairs generated lists of look-alikes as the reference does', () => {
    fc.assert(
      fc.property(fc.array(item, { maxLength: 12 }), fc.array(item, { maxLength: 12 }), (before, after) => {
        expect(pairItems(before, after)).toEqual(reference(before, after));
      }),
      { numRuns: 500 },
    );
  });

  it('pairs as the reference where every item has the same kind and name and differs only at its end', () => {
    const long = (i: number): Json => ({ kind: 'X', metadata: { name: 'same' }, data: [...Array(300).fill(0), i] });
    const before = Array.from({ length: 400 }, (_, i) => long(i));
    const after = Array.from({ length: 400 }, (_, i) => long(399 - i + (i % 7 === 0 ? 1000 : 0)));
    expect(pairItems(before, after)).toEqual(reference(before, after));
  });
});
