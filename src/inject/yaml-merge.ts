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
    const olds = node.items;
    const pairing = pairItems(before, after);
    const quoted = node.flow
      ? (olds.find((item) => isScalar(item) && item.type !== Scalar.PLAIN) as Scalar | undefined)
      : undefined;
    node.items = after.map((value, j) => {
      const i = pairing[j]!;
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

/**
 * For each item of `after`, the index of the `before` item it continues, or -1 for a new item: equal items first
 * (each old item used once, earliest first), then items with the same identity (see `identityKey`).
 *
 * Linear in the size of the lists: items are looked up by their JSON text and by their identity in maps, never by
 * comparing every new item with every old one (that was quadratic: a 10 MB `kind: List` took minutes).
 */
export function pairItems(before: readonly Json[], after: readonly Json[]): number[] {
  const used = new Set<number>();
  const byText = indexBy(before, (item) => JSON.stringify(item));
  const take = (queue: Queue | undefined): number => {
    while (queue && queue.next < queue.indices.length) {
      const i = queue.indices[queue.next++]!;
      if (!used.has(i)) {
        used.add(i);
        return i;
      }
    }
    return -1;
  };
  const exact = after.map((value) => take(byText.get(JSON.stringify(value))));
  const byIdentity = indexBy(before, identityKey);
  return after.map((value, j) => {
    if (exact[j]! >= 0) return exact[j]!;
    const key = identityKey(value);
    return key === undefined ? -1 : take(byIdentity.get(key));
  });
}

/** Indices of items with one key, in order, and how many of them were taken. */
interface Queue {
  indices: number[];
  next: number;
}

/** Indices of `items` by key; items without a key are left out. */
function indexBy(items: readonly Json[], key: (item: Json) => string | undefined): Map<string, Queue> {
  const map = new Map<string, Queue>();
  items.forEach((item, i) => {
    const k = key(item);
    if (k === undefined) return;
    const queue = map.get(k);
    if (queue) queue.indices.push(i);
    else map.set(k, { indices: [i], next: 0 });
  });
  return map;
}

/** Items with a `name` are the same item when the names (and mount paths, for volume mounts) agree. */
function identityKey(item: Json): string | undefined {
  if (!isObject(item) || typeof item.name !== 'string') return undefined;
  return JSON.stringify([item.name, item.mountPath ?? null]);
}
