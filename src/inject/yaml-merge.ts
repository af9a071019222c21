import { type Document, isMap, isScalar, isSeq, type Node, Scalar } from 'yaml';
import { deepEqual, isObject, type Json } from './json.js';

/**
 * Carries the difference between two plain values into a parsed YAML node, touching only what changed: untouched
 * keys and items keep their comments, quoting and order; new keys go where the new value puts them; list items are
 * matched to the old ones (equal first, then by name) so inserting a container does not shift comments onto the
 * wrong item.
 */
export function mergeInto(doc: Document, node: unknown, before: Json, after: Json): Node {
  if (deepEqual(before, after) && node) return node as Node;
  if (isObject(before) && isObject(after) && isMap(node)) {
    const pairs = new Map<string, (typeof node.items)[number]>();
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      pairs.set(key, pair);
    }
    node.items = Object.keys(after).map((key) => {
      const pair = pairs.get(key);
      if (pair && Object.hasOwn(before, key)) {
        pair.value = mergeInto(doc, pair.value, before[key]!, after[key]!);
        return pair;
      }
      return doc.createPair(key, after[key], { aliasDuplicateObjects: false });
    });
    return node;
  }
  if (Array.isArray(before) && Array.isArray(after) && isSeq(node)) {
    const used = new Set<number>();
    const olds = node.items;
    const match = (test: (old: Json) => boolean): number => {
      const i = before.findIndex((old, j) => !used.has(j) && test(old));
      if (i >= 0) used.add(i);
      return i;
    };
    const exact = after.map((value) => match((old) => deepEqual(old, value)));
    const quoted = node.flow
      ? (olds.find((item) => isScalar(item) && item.type !== Scalar.PLAIN) as Scalar | undefined)
      : undefined;
    node.items = after.map((value, j) => {
      let i = exact[j]!;
      if (i < 0) i = match((old) => sameIdentity(old, value));
      if (i >= 0) return mergeInto(doc, olds[i], before[i]!, value);
      const created = doc.createNode(value, { aliasDuplicateObjects: false });
      // new words in a quoted list (`command: ["sh", "-c", …]`) are quoted the same way
      if (isScalar(created) && typeof value === 'string' && quoted?.type) created.type = quoted.type;
      return created;
    });
    return node;
  }
  const created = doc.createNode(after, { aliasDuplicateObjects: false }) as Node;
  if (node && typeof node === 'object' && 'comment' in node) {
    const old = node as Node;
    created.comment = old.comment;
    created.commentBefore = old.commentBefore;
  }
  return created;
}

/** Items with a `name` are the same item when the names (and mount paths, for volume mounts) agree. */
function sameIdentity(a: Json, b: Json): boolean {
  if (!isObject(a) || !isObject(b) || typeof a.name !== 'string') return false;
  return a.name === b.name && a.mountPath === b.mountPath;
}
