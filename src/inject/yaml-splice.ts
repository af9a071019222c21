/**
 * inject's fast path for YAML documents in the plain block style kubectl, Helm and people write: one pass over the
 * lines reads the document into plain data and the line span of every map entry and list item, and a rewritten
 * document is printed by copying the spans inject left alone and printing only what it changed — the same text the
 * YAML library gives when it parses the whole document, merges the change (yaml-merge.ts) and re-prints it, at a
 * fraction of the cost (the library's node tree for a 1 MB `kind: List` took seconds). A block the library prints anew
 * (a rewritten List item: it no longer pairs with its old self, see yaml-merge.ts) is still copied where its source
 * lines are exactly that new print — no comments, quotes or flow lists the library would drop — so a List costs about
 * what a bundle of the same workloads costs.
 *
 * The reader takes only what it can show is canonical — text the library would print back unchanged: two-space
 * block indentation, list items indented as the document's other lists, `key: value` with plain keys, plain scalars
 * that are strings, decimal integers, booleans or null, one-line quoted strings of printable ASCII, one-line flow
 * lists of scalars, `{}`, comment lines before an entry at its indent, single blank lines. Anything else — anchors,
 * aliases, tags, block scalars, multi-line scalars, trailing comments, odd spacing, duplicate keys, merge keys, deep
 * nesting — returns undefined, and the caller takes the library's full parse, so every refusal (alias bombs, invalid
 * YAML, deep nesting) keeps its message and odd formatting is normalised exactly as before.
 *
 * Threats: input is the user's manifest. Hostile shapes (alias bombs, deep nesting, huge scalars) either fall outside
 * the subset (undefined: the library path with its limits handles them) or cost one linear pass; recursion is bounded
 * by MAX_DEPTH; no regex here runs on more than one line.
 */
import { stringify } from 'yaml';
import { deepEqual, isObject, type Json, type JsonObject } from './json.js';
import { EqualItems, identityKey, pairItems } from './yaml-merge.js';

/** Deepest block nesting this reader follows; deeper documents take the library path (and its nesting check). */
const MAX_DEPTH = 100;

interface ScalarNode {
  kind: 'scalar';
  /** a comment follows the value on its line (`"8" # GPUs`): kept where the value is, lost where it changes */
  comment?: boolean;
}

/** A one-line flow list of scalars (`[a, "b"]`), each item's source text kept. */
interface FlowNode {
  kind: 'flow';
  items: { text: string; quote: '' | '"' | "'" }[];
}

/** `{}` */
interface EmptyMapNode {
  kind: 'empty-map';
}

interface MapNode {
  kind: 'map';
  entries: Map<string, Span>;
  /** whether its lines are what the library prints for its value as a created node (see Printer.canonical) */
  canonical?: boolean;
}

interface SeqNode {
  kind: 'seq';
  items: Span[];
  /** as MapNode.canonical */
  canonical?: boolean;
}

type BlockNode = ScalarNode | FlowNode | EmptyMapNode | MapNode | SeqNode;

/** Scalars hold nothing of their own: every one shares one of these (a List has tens of thousands). */
const SCALAR: ScalarNode = { kind: 'scalar' };
const SCALAR_WITH_COMMENT: ScalarNode = { kind: 'scalar', comment: true };
const EMPTY_MAP: EmptyMapNode = { kind: 'empty-map' };

/**
 * Lines [start, end) of an entry or item: its blank line and comments (from `start`), the line with its key or dash
 * (`head`), and its value's lines.
 */
interface Span {
  start: number;
  head: number;
  end: number;
  node: BlockNode;
}

/** A document read by `readDocument`. */
export interface ReadDocument {
  value: JsonObject;
  /** Source lines (the chunk split on `\n`). */
  lines: string[];
  /** Per line, how many columns the library's print moves it; undefined where it moves none. */
  shift: Int32Array | undefined;
  /** Lines printed otherwise than written (see Reader.replaced); undefined where none. */
  replaced: Map<number, string | null> | undefined;
  /** Lines before the root map (`---`, leading comments). */
  headEnd: number;
  root: MapNode;
  /** First line after the root map (only blank lines follow). */
  rootEnd: number;
  indentSeq: boolean;
  flowPadding: boolean;
}

class Unsupported extends Error {}

const bail = (): never => {
  throw new Unsupported();
};

const ENTRY = /^([A-Za-z0-9_][A-Za-z0-9_./-]*):(?: (.*))?$/;
/** ENTRY matched from `lastIndex` (a line's indentation), so the line is not copied to be matched. */
const ENTRY_AT = /([A-Za-z0-9_][A-Za-z0-9_./-]*):(?: (.*))?$/y;

/** The YAML core schema's number forms other than decimal integers (floats, exponents, .inf, .nan, octal, hex). */
const OTHER_NUMBERS = [
  /^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/,
  /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)[eE][-+]?[0-9]+$/,
  /^[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*)$/,
  /^0o[0-7]+$/,
  /^0x[0-9a-fA-F]+$/,
];

/**
 * Plain text as the YAML core schema reads it: a string, or a decimal integer / boolean / null; undefined for the
 * other number forms and integers not written the way the library prints them back (`007`, `+1`).
 */
function resolvePlain(text: string): Json | undefined {
  const first = text.charCodeAt(0);
  const letter = (first >= 65 && first <= 90) || (first >= 97 && first <= 122);
  if (letter) {
    if (text.length > 5 || !'nNtTfF'.includes(text[0]!)) return text;
    if (/^(?:[Nn]ull|NULL)$/.test(text)) return null;
    if (/^(?:[Tt]rue|TRUE)$/.test(text)) return true;
    if (/^(?:[Ff]alse|FALSE)$/.test(text)) return false;
    return text;
  }
  if (text === '~' || text === '') return null;
  if (/^[-+]?[0-9]+$/.test(text)) {
    const n = Number(text);
    return Number.isSafeInteger(n) && String(n) === text ? n : undefined;
  }
  return OTHER_NUMBERS.some((form) => form.test(text)) ? undefined : text;
}

const INDICATOR = /^[\n\t ,[\]{}#&*!|>'"%@`]|^[?-]$|^[?-][ \t]|[\n:][ \t]|[ \t]\n|[\n\t ]#|[\n\t :]$/;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the characters the library prints double-quoted
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u{D800}-\u{DFFF}]/u;

/** Whether the library prints this string plain, as it is, in a block value. */
function printsPlain(text: string): boolean {
  return (
    text !== '' &&
    !text.includes('\n') &&
    !CONTROL.test(text) &&
    !INDICATOR.test(text) &&
    !/^(%|---|\.\.\.)/.test(text) &&
    typeof resolvePlain(text) === 'string'
  );
}

/** Strings already rendered: the same keys and values recur in every workload inject rewrites. */
const rendered = new Map<string, string | undefined>();

/**
 * A new string as the library prints it in a block value: one line, or a block scalar's header and content lines
 * indented two columns (see `indented`).
 */
function renderString(text: string): string | undefined {
  const known = rendered.get(text);
  if (known !== undefined || rendered.has(text)) return known;
  // a block scalar comes back with its content indented two columns under the key: `indented` moves it
  const line = printsPlain(text) ? text : stringify({ k: text }, { lineWidth: 0 }).slice(3, -1);
  if (rendered.size > 10_000) rendered.clear();
  rendered.set(text, line);
  return line;
}

/** A rendered value placed under a key or dash at column `indent` (block scalar content lines moved along). */
function indented(text: string, indent: number): string {
  if (!text.includes('\n') || indent === 0) return text;
  return text
    .split('\n')
    .map((line, i) => (i === 0 || line === '' ? line : `${spaces(indent)}${line}`))
    .join('\n');
}

function renderScalar(value: Json | undefined): string {
  if (value === null) return 'null';
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'number') return Number.isSafeInteger(value) ? String(value) : bail();
  if (typeof value === 'string') return renderString(value) ?? bail();
  return bail();
}

const PRINTABLE = /^[\x20-\x7e]*$/;

/** A one-line scalar or flow value as written after `key: ` or `- `. */
function readInline(text: string, flowPadding: boolean): { value: Json; node: BlockNode } {
  if (text.endsWith(' ')) bail();
  const first = text[0];
  if (first === '"' || first === "'") {
    const close = text.indexOf(first, 1);
    if (close > 0 && close < text.length - 1) {
      // a comment after the value: the library prints it back after one space
      if (!text.startsWith(' #', close + 1)) bail();
      return { value: quoted(text.slice(0, close + 1)), node: SCALAR_WITH_COMMENT };
    }
    return { value: quoted(text), node: SCALAR };
  }
  const hash = text.indexOf(' #');
  if (hash > 0 && first !== '[' && first !== '{') {
    const { value, node } = readInline(text.slice(0, hash), flowPadding);
    if (node.kind !== 'scalar') bail();
    return { value, node: SCALAR_WITH_COMMENT };
  }
  if (text === '{}') return { value: {}, node: EMPTY_MAP };
  if (first === '[') return readFlow(text, flowPadding);
  if (/^[&*!|>%@`{\]},#?]/.test(text) || /^[-:](?: |$)/.test(text)) bail();
  if (text.includes(' #') || text.includes(': ') || text.endsWith(':') || text.includes('\t')) bail();
  const value = resolvePlain(text);
  if (value === undefined) bail();
  return { value: value as Json, node: SCALAR };
}

/** The content of a one-line quoted scalar of printable ASCII with nothing to escape (so it prints back the same). */
function quoted(text: string): string {
  const quote = text[0]!;
  if (text.length < 2 || !text.endsWith(quote)) bail();
  const inner = text.slice(1, -1);
  if (!PRINTABLE.test(inner) || inner.includes(quote) || (quote === '"' && inner.includes('\\'))) bail();
  return inner;
}

function readFlow(text: string, flowPadding: boolean): { value: Json; node: BlockNode } {
  if (text === '[]') return { value: [], node: { kind: 'flow', items: [] } };
  const pad = flowPadding ? ' ' : '';
  if (!text.startsWith(`[${pad}`) || !text.endsWith(`${pad}]`)) bail();
  const body = text.slice(1 + pad.length, -1 - pad.length);
  const items: FlowNode['items'] = [];
  const values: Json[] = [];
  let at = 0;
  while (at <= body.length) {
    let itemText: string;
    if (body[at] === '"' || body[at] === "'") {
      const close = body.indexOf(body[at]!, at + 1);
      if (close < 0) bail();
      itemText = body.slice(at, close + 1);
      values.push(quoted(itemText));
    } else {
      const comma = body.indexOf(',', at);
      itemText = body.slice(at, comma < 0 ? body.length : comma);
      if (itemText === '' || /[[\]{}#\t"']|:$/.test(itemText) || itemText.trim() !== itemText) bail();
      const value = resolvePlain(itemText);
      if (value === undefined || (typeof value === 'string' && !printsPlain(value))) bail();
      values.push(value as Json);
    }
    items.push({ text: itemText, quote: itemText[0] === '"' ? '"' : itemText[0] === "'" ? "'" : '' });
    at += itemText.length;
    if (at === body.length) break;
    if (!body.startsWith(', ', at)) bail();
    at += 2;
  }
  return { value: values, node: { kind: 'flow', items } };
}

/** Line-by-line reader; every method throws Unsupported where the text leaves the canonical subset. */
class Reader {
  readonly indents: number[];
  /** Per line, how many columns the library moves it (negative: to the left). */
  readonly shift: Int32Array;
  /** Lines the library prints differently: a folded quoted scalar's first line on one line, null for the rest. */
  readonly replaced = new Map<number, string | null>();
  constructor(
    readonly lines: string[],
    readonly indentSeq: boolean,
    readonly flowPadding: boolean,
  ) {
    this.indents = lines.map((line) => {
      if (line === '') return -1;
      let i = 0;
      while (line.charCodeAt(i) === 32) i++;
      if (i === line.length || line.endsWith(' ') || line.includes('\r') || line.charCodeAt(i) === 9) bail();
      return i;
    });
    this.shift = new Int32Array(lines.length);
  }

  isComment(i: number): boolean {
    return this.lines[i]!.charCodeAt(this.indents[i]!) === 35;
  }

  /**
   * Blank and comment lines from `i` that belong to an entry or item at `indent` (at most one blank line first, then
   * comments at that very indent); the index of the line after them, or -1 when they are not followed by one at
   * `indent` (the block ends there).
   */
  prefixEnd(i: number, indent: number): number {
    let rest = i;
    while (rest < this.lines.length && this.indents[rest] === -1) rest++;
    if (rest === this.lines.length) return -1;
    let at = i;
    if (at < this.lines.length && this.indents[at] === -1) at++;
    while (at < this.lines.length && this.indents[at] === indent && this.isComment(at)) at++;
    if (at < this.lines.length && (this.indents[at] === -1 || this.isComment(at))) {
      // a second blank line, or a comment at another indent: only the library knows where it goes
      if (at > i || this.indents[at] === -1) bail();
      return -1;
    }
    return at < this.lines.length && this.indents[at] === indent ? at : -1;
  }

  /**
   * The value after `key:` on line `i` (the key at source column `indent`, printed at `out`) with nothing after the
   * colon: a nested map or list, at whatever indentation the source uses.
   */
  readNested(i: number, indent: number, out: number, depth: number): { value: Json; node: BlockNode; end: number } {
    const next = i + 1;
    if (next >= this.lines.length || this.indents[next] === -1 || this.isComment(next)) bail();
    const at = this.indents[next]!;
    if (at >= indent && this.lines[next]!.startsWith('- ', at)) {
      return this.readSeq(next, at, this.indentSeq ? out + 2 : out, depth + 1);
    }
    if (at > indent) return this.readMap(next, at, out + 2, false, depth + 1);
    return bail();
  }

  /** Records how far the library moves lines [from, to) (it prints every block at its own indentation). */
  shiftLines(from: number, to: number, by: number): void {
    if (by !== 0) for (let k = from; k < to; k++) this.shift[k] = by;
  }

  /**
   * A block map whose entries sit at source column `indent` and print at `out`, from line `i`; `dashed`: line `i` is
   * a list item's dash line whose content is the map's first entry.
   */
  readMap(
    i: number,
    indent: number,
    out: number,
    dashed: boolean,
    depth: number,
  ): { value: JsonObject; node: MapNode; end: number } {
    if (depth > MAX_DEPTH) bail();
    const value: JsonObject = {};
    const entries = new Map<string, Span>();
    let at = i;
    let first = true;
    while (at < this.lines.length) {
      const head = first ? at : this.prefixEnd(at, indent);
      if (head < 0) break;
      const line = this.lines[head]!;
      if (!(first && dashed) && this.indents[head] !== indent) bail();
      ENTRY_AT.lastIndex = indent;
      const m = ENTRY_AT.exec(line);
      if (!m) {
        if (first && !dashed) bail();
        break;
      }
      const key = m[1]!;
      if (entries.has(key) || key === '__proto__' || !printsPlain(key)) bail();
      if (!(first && dashed)) this.shiftLines(at, head + 1, out - indent);
      let child: { value: Json; node: BlockNode; end: number };
      if (m[2] === undefined) child = this.readNested(head, indent, out, depth);
      else if (m[2] === '|' || m[2] === '|-') child = this.readLiteral(head, indent, out + 2, m[2]);
      else {
        child = this.opensQuote(m[2])
          ? this.readQuotedLines(head, indent, line.length - m[2].length)
          : { ...readInline(m[2], this.flowPadding), end: head + 1 };
        if (child.end < this.lines.length && this.indents[child.end]! > indent) bail();
      }
      value[key] = child.value;
      entries.set(key, { start: at, head, end: child.end, node: child.node });
      at = child.end;
      first = false;
    }
    return { value, node: { kind: 'map', entries }, end: at };
  }

  /**
   * A literal block scalar (`|` or `|-`) whose header ends line `i` (its key or dash at source column `indent`), its
   * content printed at column `out`. Only the shapes the library prints back line for line: content lines more
   * indented than the key, no blank line first or last, no explicit indentation, no folding (`>`), no `|+`.
   */
  readLiteral(i: number, indent: number, out: number, header: string): { value: Json; node: BlockNode; end: number } {
    const first = i + 1;
    const column = this.indents[first] ?? -1;
    if (column <= indent) bail();
    let end = first;
    while (end < this.lines.length && (this.indents[end] === -1 || this.indents[end]! > indent)) {
      if (this.indents[end] !== -1 && this.indents[end]! < column) bail();
      end++;
    }
    while (end > first && this.indents[end - 1] === -1) end--;
    // a blank line after the content: whose it is depends on chomping; the chunk's own last line end is no blank line
    if (end < this.lines.length - 1 && this.indents[end] === -1) bail();
    const content = this.lines.slice(first, end).map((line) => line.slice(column));
    this.shiftLines(first, end, out - column);
    return { value: `${content.join('\n')}${header === '|' ? '\n' : ''}`, node: SCALAR, end };
  }

  /** Whether a value opens a double-quoted scalar it does not close on its line. */
  opensQuote(text: string): boolean {
    return text.startsWith('"') && text.indexOf('"', 1) < 0;
  }

  /**
   * A double-quoted scalar over several lines (line breaks fold to spaces) starting at `at` on line `i`, its key or
   * dash at source column `indent`. The library prints it back on one line: the reader records that line in place of
   * the first and drops the others.
   */
  readQuotedLines(i: number, indent: number, at: number): { value: Json; node: BlockNode; end: number } {
    const pieces = [this.lines[i]!.slice(at + 1)];
    let end = i + 1;
    for (;;) {
      if (end >= this.lines.length || this.indents[end] === -1 || this.indents[end]! <= indent) bail();
      const text = this.lines[end]!.slice(this.indents[end]);
      end++;
      const close = text.indexOf('"');
      if (close < 0) pieces.push(text);
      else if (close === text.length - 1) {
        pieces.push(text.slice(0, -1));
        break;
      } else bail();
    }
    for (const piece of pieces) if (piece === '' || !PRINTABLE.test(piece) || piece.includes('\\')) bail();
    const value = pieces.join(' ');
    this.replaced.set(i, `${this.lines[i]!.slice(0, at)}"${value}"`);
    for (let k = i + 1; k < end; k++) this.replaced.set(k, null);
    if (end < this.lines.length && this.indents[end]! > indent) bail();
    return { value, node: SCALAR, end };
  }

  /** A block list whose dashes sit at source column `indent` and print at `out`, from line `i`. */
  readSeq(i: number, indent: number, out: number, depth: number): { value: Json[]; node: SeqNode; end: number } {
    if (depth > MAX_DEPTH) bail();
    const value: Json[] = [];
    const items: Span[] = [];
    let at = i;
    let first = true;
    while (at < this.lines.length) {
      const head = first ? at : this.prefixEnd(at, indent);
      if (head < 0 || !this.lines[head]!.startsWith('- ', indent)) break;
      this.shiftLines(at, head + 1, out - indent);
      const rest = this.lines[head]!.slice(indent + 2);
      let child: { value: Json; node: BlockNode; end: number };
      if (ENTRY.test(rest)) child = this.readMap(head, indent + 2, out + 2, true, depth + 1);
      else if (rest === '|' || rest === '|-') child = this.readLiteral(head, indent, out + 2, rest);
      else {
        if (/^-(?: |$)/.test(rest) || rest.startsWith(' ')) bail();
        child = this.opensQuote(rest)
          ? this.readQuotedLines(head, indent, indent + 2)
          : { ...readInline(rest, this.flowPadding), end: head + 1 };
        if (child.node.kind === 'flow' && (child.value as Json[]).length > 0) bail();
        if (child.end < this.lines.length && this.indents[child.end]! > indent) bail();
      }
      value.push(child.value);
      items.push({ start: at, head, end: child.end, node: child.node });
      at = child.end;
      first = false;
    }
    return { value, node: { kind: 'seq', items }, end: at };
  }
}

/**
 * Reads one document chunk (`---` line, leading comments, a block map at column 0, trailing blank lines), or returns
 * undefined where it is not in the canonical subset. `indentSeq` and `flowPadding` are the document's style as the
 * caller reads it from the source (text.ts).
 */
export function readDocument(chunk: string, indentSeq: boolean, flowPadding: boolean): ReadDocument | undefined {
  try {
    const lines = chunk.split('\n');
    const reader = new Reader(lines, indentSeq, flowPadding);
    let at = 0;
    if (lines[0] === '---') at++;
    while (at < lines.length && reader.indents[at] === 0 && reader.isComment(at)) at++;
    if (at >= lines.length || reader.indents[at] !== 0) return undefined;
    const { value, node, end } = reader.readMap(at, 0, 0, false, 0);
    for (let i = end; i < lines.length; i++) if (lines[i] !== '') return undefined;
    const shift = reader.shift.some((by) => by !== 0) ? reader.shift : undefined;
    const replaced = reader.replaced.size > 0 ? reader.replaced : undefined;
    return { value, lines, shift, replaced, headEnd: at, root: node, rootEnd: end, indentSeq, flowPadding };
  } catch (err) {
    if (err instanceof Unsupported) return undefined;
    throw err;
  }
}

/** Prints the document with `after` in place of its value, as the library would after merging; undefined to bail. */
export function printDocument(doc: ReadDocument, after: JsonObject): string | undefined {
  try {
    const printer = new Printer(doc);
    const out = doc.lines.slice(0, doc.headEnd);
    printer.map(doc.root, doc.value, after, 0, out);
    for (let i = doc.rootEnd; i < doc.lines.length; i++) out.push(doc.lines[i]!);
    return out.join('\n');
  } catch (err) {
    if (err instanceof Unsupported) return undefined;
    throw err;
  }
}

/**
 * Prints a List document (its `items` a block list) whose items `rewrite` gives one at a time, each printed before the
 * next is asked for, so a rewritten item's data lives only while it is printed: what `printDocument` prints for the
 * document with every item rewritten, or `unchanged` where `rewrite` changed none. Undefined where only the whole
 * document can be printed (by `printDocument`, or the library): the items `rewrite` was given so far are then to be
 * rewritten again.
 */
export function printList(doc: ReadDocument, rewrite: (item: Json) => Json): string | typeof unchanged | undefined {
  const items = doc.root.entries.get('items');
  const before = doc.value.items;
  if (items?.node.kind !== 'seq' || !Array.isArray(before)) return undefined;
  try {
    const printer = new Printer(doc);
    const out = doc.lines.slice(0, doc.headEnd);
    let changed = false;
    for (const [key, entry] of doc.root.entries) {
      if (key !== 'items') {
        printer.copy(entry.start, entry.end, out);
        continue;
      }
      printer.copy(entry.start, entry.head, out);
      out.push(printer.line(entry.head));
      changed = printer.seqRewritten(items.node, before, rewrite, printer.seqIndent(0), out);
    }
    if (!changed) return unchanged;
    for (let i = doc.rootEnd; i < doc.lines.length; i++) out.push(doc.lines[i]!);
    return out.join('\n');
  } catch (err) {
    if (err instanceof Unsupported) return undefined;
    throw err;
  }
}

/** `printList`'s answer for a List none of whose items changed. */
export const unchanged: unique symbol = Symbol('unchanged');

const SPACES = Array.from({ length: 64 }, (_, n) => ' '.repeat(n));
const spaces = (n: number): string => SPACES[n] ?? ' '.repeat(n);

class Printer {
  constructor(readonly doc: ReadDocument) {}

  /** Source line `i` as the library prints it (moved to the indentation it gives the line's block). */
  line(i: number): string {
    const text = this.doc.replaced?.get(i) ?? this.doc.lines[i]!;
    const by = this.doc.shift?.[i] ?? 0;
    if (by === 0 || text === '') return text;
    return by > 0 ? `${spaces(by)}${text}` : text.slice(-by);
  }

  copy(from: number, to: number, out: string[]): void {
    for (let i = from; i < to; i++) if (this.doc.replaced?.get(i) !== null) out.push(this.line(i));
  }

  seqIndent(indent: number): number {
    return this.doc.indentSeq ? indent + 2 : indent;
  }

  map(node: MapNode, before: JsonObject, after: JsonObject, indent: number, out: string[]): void {
    for (const key of Object.keys(after)) {
      const value = after[key];
      const entry = node.entries.get(key);
      if (!entry || !Object.hasOwn(before, key)) {
        this.createdPair(key, value, indent, out);
        continue;
      }
      const old = before[key]!;
      if (deepEqual(old, value)) {
        this.copy(entry.start, entry.end, out);
        continue;
      }
      this.copy(entry.start, entry.head, out);
      const child = entry.node;
      if (child.kind === 'scalar' && child.comment) bail();
      if (child.kind === 'map' && isObject(old) && isObject(value)) {
        out.push(this.line(entry.head));
        this.map(child, old, value, indent + 2, out);
      } else if (child.kind === 'seq' && Array.isArray(old) && Array.isArray(value)) {
        out.push(this.line(entry.head));
        this.seq(child, old, value, this.seqIndent(indent), out);
      } else if (child.kind === 'flow' && Array.isArray(old) && Array.isArray(value)) {
        out.push(`${spaces(indent)}${key}: ${this.flow(child, old, value)}`);
      } else if (child.kind === 'empty-map' && isObject(value)) {
        // the library keeps a flow map flow: only its own printer knows how it lays out
        bail();
      } else this.createdPair(key, value, indent, out);
    }
  }

  seq(node: SeqNode, before: Json[], after: Json[], indent: number, out: string[]): void {
    const pairing = pairItems(before, after);
    after.forEach((value, j) => {
      this.item(node, before, value, j, pairing[j]!, indent, out);
    });
  }

  /**
   * `seq` for a list whose new items come one at a time from `rewrite`, each printed before the next is asked for
   * (see `printList`); whether any item changed.
   */
  seqRewritten(node: SeqNode, before: Json[], rewrite: (item: Json) => Json, indent: number, out: string[]): boolean {
    const equal = new EqualItems(before, before.length);
    let changed = false;
    for (let j = 0; j < before.length; j++) {
      const value = rewrite(before[j]!);
      if (value !== before[j]) changed = true;
      // a named item may pair with an old one by its name, which pairItems decides only once every item is known
      if (identityKey(value) !== undefined) bail();
      this.item(node, before, value, j, equal.take(value), indent, out);
    }
    return changed;
  }

  /** New item `j` (`value`) of a list, continuing old item `i` (see pairItems; -1: none). */
  item(node: SeqNode, before: Json[], value: Json, j: number, i: number, indent: number, out: string[]): void {
    if (i < 0) {
      // the old item at its place is no partner (a List's rewritten workload is not), but its unchanged blocks can
      // be copied where they print as the new item's do; printed apart and joined while its lines are young (300 000
      // lines kept for one join cost more in GC)
      const lines: string[] = [];
      this.createdItem(value, indent, lines, node.items[j], before[j]);
      out.push(lines.join('\n'));
      return;
    }
    const item = node.items[i]!;
    const old = before[i]!;
    if (deepEqual(old, value)) {
      this.copy(item.start, item.end, out);
      return;
    }
    if (item.node.kind === 'map' && isObject(old) && isObject(value)) {
      this.copy(item.start, item.head, out);
      const mark = out.length;
      const dashLine = this.line(item.head);
      this.map(item.node, old, value, indent + 2, out);
      // the first entry copied as it was brings its dash; one printed anew gets it; a moved one must not keep it
      if (out[mark] !== dashLine) {
        for (let k = mark + 1; k < out.length; k++) if (out[k] === dashLine) bail();
        dashFirst(out, mark, indent);
      }
      return;
    }
    if (item.node.kind === 'scalar' && item.node.comment) bail();
    // a replaced item keeps its comments but not its blank line (the library copies comments only)
    for (let k = item.start; k < item.head; k++) if (this.doc.lines[k] === '') bail();
    this.copy(item.start, item.head, out);
    this.createdItem(value, indent, out);
  }

  flow(node: FlowNode, before: Json[], after: Json[]): string {
    const pairing = pairItems(before, after);
    const quote = node.items.find((item) => item.quote !== '')?.quote ?? '';
    const pieces = after.map((value, j) => {
      const i = pairing[j]!;
      if (i >= 0 && deepEqual(before[i], value)) return node.items[i]!.text;
      if (typeof value === 'string' && i < 0 && quote !== '') {
        if (!PRINTABLE.test(value) || value.includes(quote) || (quote === '"' && value.includes('\\'))) bail();
        return `${quote}${value}${quote}`;
      }
      if (value !== null && typeof value === 'object') bail();
      if (typeof value === 'string' && (!printsPlain(value) || /[[\]{},]/.test(value))) bail();
      return renderScalar(value);
    });
    if (pieces.length === 0) return '[]';
    const pad = this.doc.flowPadding ? ' ' : '';
    return `[${pad}${pieces.join(', ')}${pad}]`;
  }

  /**
   * A new entry as the library prints a created node: block style, lists per the document's indentation. `lead`: what
   * comes before the key on its line (the indentation, or a list item's dash). `hint`: a source entry (its value
   * `old`) whose blocks are copied where they hold the same value and their lines are that print (`canonical`), so a
   * rewritten List item costs what its changes cost rather than a print of all of it.
   */
  createdPair(
    key: string,
    value: Json | undefined,
    indent: number,
    out: string[],
    lead = spaces(indent),
    hint?: Span,
    old?: Json,
  ): void {
    if (hint !== undefined && sameJson(old, value) && this.canonical(hint, old, false)) {
      this.copyLed(hint, lead, out);
      return;
    }
    if (renderString(key) !== key) bail();
    if (value === null || typeof value !== 'object') {
      out.push(`${lead}${key}: ${indented(renderScalar(value), indent)}`);
    } else if (Array.isArray(value)) {
      if (value.length === 0) out.push(`${lead}${key}: []`);
      else {
        out.push(`${lead}${key}:`);
        const at = this.seqIndent(indent);
        const olds = hint?.node.kind === 'seq' && Array.isArray(old) ? old : undefined;
        const items = olds && (hint!.node as SeqNode).items;
        for (let i = 0; i < value.length; i++) this.createdItem(value[i], at, out, items?.[i], olds?.[i]);
      }
    } else {
      const keys = Object.keys(value);
      if (keys.length === 0) out.push(`${lead}${key}: {}`);
      else {
        out.push(`${lead}${key}:`);
        const inner = spaces(indent + 2);
        const olds = hint?.node.kind === 'map' && isObject(old) ? old : undefined;
        const entries = olds && (hint!.node as MapNode).entries;
        for (let i = 0; i < keys.length; i++) {
          const k = keys[i]!;
          this.createdPair(k, value[k], indent + 2, out, inner, entries?.get(k), olds?.[k]);
        }
      }
    }
  }

  /** A new list item, as `createdPair` prints a new entry; `hint`: a source item (its value `old`). */
  createdItem(value: Json | undefined, indent: number, out: string[], hint?: Span, old?: Json): void {
    if (hint !== undefined && sameJson(old, value) && this.canonical(hint, old, true)) {
      this.copyLed(hint, `${spaces(indent)}- `, out);
      return;
    }
    if (value === null || typeof value !== 'object') {
      out.push(`${spaces(indent)}- ${indented(renderScalar(value), indent)}`);
    } else if (Array.isArray(value)) {
      if (value.length > 0) bail();
      out.push(`${spaces(indent)}- []`);
    } else {
      const keys = Object.keys(value);
      if (keys.length === 0) {
        out.push(`${spaces(indent)}- {}`);
        return;
      }
      const inner = spaces(indent + 2);
      const dash = `${spaces(indent)}- `;
      const olds = hint?.node.kind === 'map' && isObject(old) ? old : undefined;
      const entries = olds && (hint!.node as MapNode).entries;
      for (let i = 0; i < keys.length; i++) {
        const k = keys[i]!;
        this.createdPair(k, value[k], indent + 2, out, i === 0 ? dash : inner, entries?.get(k), olds?.[k]);
      }
    }
  }

  /**
   * Whether lines [head, end) of `span` (an entry, or a list item where `item`) are exactly what `createdPair` /
   * `createdItem` print for its value `value`: no comments or blank lines, no line the library prints otherwise
   * (multi-line scalars), every scalar written as the library writes a new one (`"8"` yes, `'8'` or `~` no), no
   * non-empty flow list, keys in the order the value lists them. Maps and lists remember the answer.
   */
  canonical(span: Span, value: Json | undefined, item: boolean): boolean {
    const node = span.node;
    if (node.kind === 'map') {
      node.canonical ??= this.mapCanonical(node, value);
      return node.canonical;
    }
    if (node.kind === 'seq') {
      node.canonical ??= this.seqCanonical(node, value);
      return node.canonical;
    }
    if (span.end !== span.head + 1 || this.doc.replaced?.has(span.head)) return false;
    if (node.kind === 'scalar' && node.comment) return false;
    const line = this.doc.lines[span.head]!;
    // a key has no colon, a list item's line starts with its dash: the value's text follows the first of these
    const text = line.slice(line.indexOf(item ? '- ' : ': ') + 2);
    return createdText(value) === text;
  }

  mapCanonical(node: MapNode, value: Json | undefined): boolean {
    if (!isObject(value)) return false;
    const keys = Object.keys(value);
    if (keys.length !== node.entries.size) return false;
    let i = 0;
    for (const [key, entry] of node.entries) {
      if (keys[i] !== key || (i > 0 && entry.start !== entry.head)) return false;
      if (!this.canonical(entry, value[key], false)) return false;
      i++;
    }
    return true;
  }

  seqCanonical(node: SeqNode, value: Json | undefined): boolean {
    if (!Array.isArray(value) || value.length !== node.items.length) return false;
    for (let i = 0; i < value.length; i++) {
      const item = node.items[i]!;
      if ((i > 0 && item.start !== item.head) || !this.canonical(item, value[i], true)) return false;
    }
    return true;
  }

  /**
   * Copies a canonical span with `lead` before its first line's key: a list item's first entry copied where it is not
   * first loses its dash, and the reverse.
   */
  copyLed(span: Span, lead: string, out: string[]): void {
    const first = this.line(span.head);
    const n = lead.length;
    if (first.charCodeAt(n) === 32 || first.length <= n) bail();
    if (first.startsWith(lead)) out.push(first);
    else {
      const led = first.slice(0, n);
      if (led !== spaces(n) && (n < 2 || led !== `${spaces(n - 2)}- `)) bail();
      out.push(`${lead}${first.slice(n)}`);
    }
    this.copy(span.head + 1, span.end, out);
  }
}

/** A one-line value as `createdPair` prints it after `key: `; undefined for values it prints otherwise. */
function createdText(value: Json | undefined): string | undefined {
  if (typeof value === 'string') return renderString(value);
  if (typeof value === 'number') return Number.isSafeInteger(value) ? String(value) : undefined;
  if (typeof value === 'boolean') return String(value);
  if (value === null) return 'null';
  if (Array.isArray(value)) return value.length === 0 ? '[]' : undefined;
  if (isObject(value)) return Object.keys(value).length === 0 ? '{}' : undefined;
  return undefined;
}

/**
 * Equality of plain values with keys in the same order: a created node prints keys in its value's order, so a block
 * is copied for a new value only where the order agrees too (`deepEqual` ignores order).
 */
function sameJson(a: Json | undefined, b: Json | undefined): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!sameJson(a[i], b[i])) return false;
    return true;
  }
  if (Array.isArray(b)) return false;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i] || !sameJson(a[ka[i]!], b[kb[i]!])) return false;
  return true;
}

/** Turns the first line printed since `mark` (a map entry at `dash + 2`) into the list item's dash line. */
function dashFirst(out: string[], mark: number, dash: number): void {
  const line = out[mark];
  if (line === undefined || line.charCodeAt(dash + 2) === 32 || !line.startsWith(spaces(dash + 2))) bail();
  out[mark] = `${spaces(dash)}- ${line!.slice(dash + 2)}`;
}
