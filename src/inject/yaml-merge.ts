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
 * (each old item used once, earliest first), then items with the same identity (see `identityKey`). Equal means equal
 * JSON text (the same keys in the same order).
 *
 * Linear in the size of the lists: items are looked up in maps, never by comparing every new item with every old one
 * (that was quadratic: a 10 MB `kind: List` took minutes).
 */
export function pairItems(before: readonly Json[], after: readonly Json[]): number[] {
  const equal = new EqualItems(before, after.length);
  const exact = after.map((value) => equal.take(value));
  const byIdentity = indexBy(before, identityKey);
  return after.map((value, j) => {
    if (exact[j]! >= 0) return exact[j]!;
    const key = identityKey(value);
    return key === undefined ? -1 : take(byIdentity.get(key), equal.used);
  });
}

/** The first index of `queue` not yet `used` (then used), or -1. */
function take(queue: Queue | undefined, used: Set<number>): number {
  while (queue && queue.next < queue.indices.length) {
    const i = queue.indices[queue.next++]!;
    if (!used.has(i)) {
      used.add(i);
      return i;
    }
  }
  return -1;
}

/**
 * The first step of `pairItems`, one new item at a time in order: the earliest unused old item with the same JSON
 * text. Old items are filed under a label (`label`: kind, name and namespace, or a scalar's text; equal text, equal
 * label) and compared with a new item by `sameText`, which stops at the first difference: a List's rewritten workload
 * has one old item under its label, itself before the rewrite, and differs from it within a few keys. Where labels
 * are shared by many items (a hostile or odd list) the comparisons could add up: past a budget linear in the lists'
 * lengths every item's JSON text is printed once and looked up instead (what pairing cost before, most of the time a
 * List of thousands of workloads took). Either way the answer is the same.
 */
export class EqualItems {
  /** old items taken */
  readonly used = new Set<number>();
  private readonly byLabel: Map<string, Queue>;
  private readonly budget: { left: number };
  private byText: Map<string, Queue> | undefined;

  constructor(
    private readonly before: readonly Json[],
    afterLength: number,
  ) {
    this.byLabel = indexBy(before, label);
    this.budget = { left: 1024 * (before.length + afterLength) + 65_536 };
  }

  take(value: Json): number {
    if (this.byText === undefined) {
      const found = this.byLabelTake(value);
      if (found !== undefined) return found;
      this.byText = indexBy(this.before, (item) => JSON.stringify(item));
    }
    return take(this.byText.get(JSON.stringify(value)), this.used);
  }

  /** `take` by label; undefined where the budget ran out before the answer was known. */
  private byLabelTake(value: Json): number | undefined {
    const queue = this.byLabel.get(label(value));
    if (!queue) return -1;
    while (queue.next < queue.indices.length && this.used.has(queue.indices[queue.next]!)) queue.next++;
    for (let k = queue.next; k < queue.indices.length; k++) {
      const i = queue.indices[k]!;
      const equal = !this.used.has(i) && sameText(this.before[i]!, value, this.budget);
      if (this.budget.left < 0) return undefined;
      if (equal) {
        this.used.add(i);
        return i;
      }
    }
    return -1;
  }
}

/** What `EqualItems` files an item under; a function of the item's JSON text. */
function label(item: Json): string {
  if (Array.isArray(item)) return '[]';
  if (!isObject(item)) return JSON.stringify(item);
  const metadata = isObject(item.metadata) ? item.metadata : undefined;
  return JSON.stringify([item.kind, metadata?.name, metadata?.namespace]);
}

/**
 * Whether two values have the same JSON text, visiting at most `budget.left` values (it is decreased; below zero the
 * answer is false and the caller gives up). JSON writes -0 as 0 and NaN and ±Infinity as null.
 */
function sameText(a: Json, b: Json, budget: { left: number }): boolean {
  if (--budget.left < 0) return false;
  if (a === b) return true;
  if (typeof a === 'number' || typeof b === 'number') return writtenAsNull(a) && writtenAsNull(b);
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameText(a[i]!, b[i]!, budget)) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  for (let i = 0; i < keysA.length; i++) {
    const key = keysA[i]!;
    if (key !== keysB[i] || !sameText(a[key]!, b[key]!, budget)) return false;
  }
  return true;
}

/** Whether JSON writes a value as `null`: null itself, NaN and the infinities. */
function writtenAsNull(value: Json): boolean {
  return value === null || (typeof value === 'number' && !Number.isFinite(value));
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
export function identityKey(item: Json): string | undefined {
  if (!isObject(item) || typeof item.name !== 'string') return undefined;
  return JSON.stringify([item.name, item.mountPath ?? null]);
}
