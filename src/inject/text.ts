/**
 * inject's text layer: YAML streams and JSON in, the same text out with only the workloads rewritten.
 *
 * Threats (manifests come from users, charts and generators; `lockstep inject` may run in CI on anything):
 * - YAML alias bombs (700 bytes that expand to gigabytes): the library's alias limit stays on, a document over it is
 *   refused by name;
 * - deep nesting (`[[[[…`, or JSON 100 000 levels deep) that blows the stack or slows the parser: refused before
 *   parsing (flow depth scan) or after (depth of the parsed value), with a message that says so;
 * - huge inputs: work is linear in the input — documents inject never reads pass through unparsed, documents in the
 *   plain block style are read and printed without the library's node tree (yaml-splice.ts), a List's items are
 *   rewritten and printed one at a time, list items are paired through maps (see yaml-merge.ts); the size limit
 *   itself is the CLI's (src/commands/inject/run.ts);
 * - invalid YAML in a document inject reads: refused with the document's number.
 */

import { type Document, parseAllDocuments } from 'yaml';
import { errorMessage } from '../errors.js';
import { ADDED_KINDS, appendAddedObjects } from './added-objects.js';
import { isObject, type Json } from './json.js';
import { injectObject, isList } from './manifest.js';
import { InjectError, type InjectOptions, type InjectReport } from './options.js';
import { reviewInput } from './review.js';
import { WORKLOAD_KINDS } from './workloads.js';
import { mergeInto } from './yaml-merge.js';
import { printDocument, printList, type ReadDocument, readDocument, unchanged } from './yaml-splice.js';

/**
 * The YAML library's own limit on alias expansion (its default): real manifests use a handful of anchors
 * (`<<: *defaults`), an alias bomb needs thousands.
 */
const MAX_ALIAS_COUNT = 100;

export interface InjectResult {
  output: string;
  report: InjectReport;
}

/** How YAML is read: `library: true` parses every document with the YAML library (the fast reader's reference). */
export interface InjectPath {
  library?: boolean;
}

/**
 * Injects a manifest text: multi-document YAML or one JSON object (a List included). YAML keeps its comments, key
 * order and quoting; documents inject does not change come back byte for byte.
 */
export function injectText(text: string, options: InjectOptions, how: InjectPath = {}): InjectResult {
  try {
    return injectAny(text, options, how.library === true);
  } catch (err) {
    // a parser or a walk of ours ran out of stack: say what it is instead of crashing
    if (err instanceof RangeError && /call stack/i.test(err.message)) throw nestingError('the input');
    throw err;
  }
}

/**
 * Deepest nesting accepted. Real manifests nest about 20 levels (a JobSet's container env is 14 deep); the walks
 * over a parsed manifest recurse, so the limit keeps them far from the stack's end.
 */
export const MAX_NESTING = 200;

function nestingError(what: string): InjectError {
  return new InjectError(`${what} nests too deeply (more than ${MAX_NESTING} levels of maps and lists): refused`);
}

/**
 * Whether flow collections (`[`, `{`) nest deeper than `limit`, by one scan that skips quoted strings and comments
 * and counts a bracket only where a flow collection can start (after `:`, `-`, `,`, `[`, `{` or at a line's start),
 * so brackets inside plain words (`a[0]`) are not counted.
 */
function flowDepthExceeds(text: string, limit: number): boolean {
  let depth = 0;
  let previous = '\n';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"' || c === "'") {
      const end = skipQuoted(text, i, c);
      i = end;
      previous = c;
      continue;
    }
    if (c === '#' && (previous === ' ' || previous === '\t' || previous === '\n')) {
      const eol = text.indexOf('\n', i);
      if (eol < 0) break;
      i = eol - 1;
      continue;
    }
    if ((c === '[' || c === '{') && ':-,[{\n'.includes(previous)) {
      if (++depth > limit) return true;
    } else if ((c === ']' || c === '}') && depth > 0) depth--;
    if (c !== ' ' && c !== '\t') previous = c;
  }
  return false;
}

/** Index of the quote closing the string opened at `start` (YAML: `\\` escapes in "…", `''` in '…'). */
function skipQuoted(text: string, start: number, quote: string): number {
  for (let i = start + 1; i < text.length; i++) {
    const c = text[i];
    if (quote === '"' && c === '\\') i++;
    else if (c === quote) {
      if (quote === "'" && text[i + 1] === "'") i++;
      else return i;
    }
  }
  return text.length;
}

/** How deep a parsed value nests (a scalar is 0), without recursion; stops counting past `limit`. */
function nestingDepth(value: Json, limit: number): number {
  let deepest = 0;
  const stack: [Json, number][] = [[value, 0]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth + 1 > deepest) deepest = depth + 1;
    if (deepest > limit) return deepest;
    for (const child of Array.isArray(node) ? node : Object.values(node)) stack.push([child, depth + 1]);
  }
  return deepest;
}

/**
 * Each --command serves what it names, and one without a target serves one container only: a command meant for the
 * leader must not also start the workers, and a misspelt target must not pass unnoticed.
 */
function checkCommands(options: InjectOptions, report: InjectReport): void {
  const known = new Set(report.commandTargets ?? []);
  const served = report.commandless ?? [];
  for (const choice of options.commands ?? []) {
    const shown = `--command ${choice.target === undefined ? '' : `${choice.target}=`}"${choice.words.join(' ')}"`;
    const users = served.filter((c) => c.chosen === choice);
    if (choice.target !== undefined && !known.has(choice.target)) {
      throw new InjectError(
        `${shown}: nothing in the input is called ${choice.target} (templates and main containers: ${[...known].join(', ') || 'none'})`,
      );
    }
    if (choice.target === undefined && users.length > 1) {
      throw new InjectError(
        `${shown} would start ${users.map((u) => `container ${u.container} (${u.where})`).join(' and ')}; name the one it is for: ${users.map((u) => `--command "${u.targets[0]}=…"`).join(', ')}`,
      );
    }
    if (users.length === 0) {
      report.warnings.push(`${shown} not used: every container it could serve has a command of its own`);
    }
  }
}

function injectAny(text: string, options: InjectOptions, libraryOnly: boolean): InjectResult {
  const report: InjectReport = { changes: [], warnings: [], notes: [] };
  const result = injectAnyWith(text, options, report, libraryOnly);
  checkCommands(options, report);
  return { ...result, output: appendAddedObjects(result.output, report) };
}

function injectAnyWith(text: string, options: InjectOptions, report: InjectReport, libraryOnly: boolean): InjectResult {
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    let parsed: Json;
    try {
      parsed = JSON.parse(text) as Json;
    } catch (err) {
      throw new InjectError(`input is not valid JSON: ${errorMessage(err)}`);
    }
    if (nestingDepth(parsed, MAX_NESTING) > MAX_NESTING) throw nestingError('the JSON input');
    const items = Array.isArray(parsed) ? parsed : [parsed];
    reviewInput(items, report);
    const next = items.map((item) => injectObject(item, options, report));
    if (next.every((item, i) => item === items[i])) return { output: text, report };
    return { output: `${JSON.stringify(Array.isArray(parsed) ? next : next[0], null, 2)}\n`, report };
  }
  return { output: injectYaml(text, options, report, libraryOnly), report };
}

function injectYaml(text: string, options: InjectOptions, report: InjectReport, libraryOnly: boolean): string {
  // the YAML library slows down with flow depth well before its stack runs out: refuse deep flow nesting unparsed
  if (flowDepthExceeds(text, MAX_NESTING)) throw nestingError('the input');
  const chunks = splitDocuments(text);
  // streams with directives or `...` markers take the library's own document split
  if (!chunks) return injectDocuments(text, parseAllDocuments(text), options, report);
  // documents are numbered as the library numbers them: comment-only chunks are not documents
  const parsed: { chunk: number; doc: Document.Parsed | ReadDocument; number: number }[] = [];
  let number = 0;
  chunks.forEach((chunk, index) => {
    if (passesThrough(chunk)) {
      number++;
      return;
    }
    // the plain block style most manifests are written in is read without the library's node tree (yaml-splice.ts)
    const read = libraryOnly ? undefined : readDocument(chunk, indentsSequences(chunk), padsFlowCollections(chunk));
    if (read) {
      number++;
      parsed.push({ chunk: index, doc: read, number });
      return;
    }
    const docs = parseAllDocuments(chunk);
    if (docs.length === 0) return;
    number++;
    if (docs.length > 1) throw new InjectError(`document ${number} is not valid YAML: more than one document`);
    parsed.push({ chunk: index, doc: docs[0]!, number });
  });
  const values = parsed.map(({ doc, number }) =>
    isRead(doc) ? doc.value : doc.errors.length === 0 ? toPlain(doc, number) : null,
  );
  reviewInput(values, report);
  const pieces = [...chunks];
  parsed.forEach(({ chunk, doc, number }, i) => {
    const out = isRead(doc)
      ? renderRead(chunks[chunk]!, doc, options, report)
      : renderDocument(chunks[chunk]!, doc, values[i] ?? null, number, options, report);
    if (out !== undefined) pieces[chunk] = out;
  });
  return pieces.join('');
}

function isRead(doc: Document.Parsed | ReadDocument): doc is ReadDocument {
  return 'root' in doc && 'lines' in doc;
}

/**
 * A document the fast reader took: printed by splicing the changes into its text, or — where the change is one the
 * splice printer does not lay out (yaml-splice.ts) — by the library, from the same values, so inject runs once.
 */
function renderRead(
  source: string,
  read: ReadDocument,
  options: InjectOptions,
  report: InjectReport,
): string | undefined {
  if (isList(read.value)) {
    // a List's items are rewritten and printed one at a time, so no more than one rewritten item is held at once
    const saved = savedReport(report);
    const printed = printList(read, (item) => injectObject(item, options, report));
    if (printed === unchanged) return undefined;
    if (printed !== undefined) return printed;
    // only the whole document can be printed: its items are rewritten again, into the report as it was
    restoreReport(report, saved);
  }
  const after = injectObject(read.value, options, report);
  if (after === read.value) return undefined;
  if (isObject(after)) {
    const spliced = printDocument(read, after);
    if (spliced !== undefined) return spliced;
  }
  const doc = parseAllDocuments(source)[0]!;
  return printMerged(source, doc, read.value, after);
}

/** A copy of what a report holds (its lists copied: rewriting only appends to them). */
function savedReport(report: InjectReport): InjectReport {
  const saved = { ...report };
  for (const [key, value] of Object.entries(saved)) {
    if (Array.isArray(value)) Object.assign(saved, { [key]: [...value] });
  }
  return saved;
}

/** Puts a report back as `savedReport` saw it. */
function restoreReport(report: InjectReport, saved: InjectReport): void {
  for (const key of Object.keys(report)) if (!Object.hasOwn(saved, key)) delete report[key as keyof InjectReport];
  Object.assign(report, saved);
}

/** The library's split, for streams `splitDocuments` leaves alone. */
function injectDocuments(text: string, docs: Document.Parsed[], options: InjectOptions, report: InjectReport): string {
  // a stream of comments only (or nothing) has no documents: it passes through as it is
  if (docs.length === 0) return text;
  const values = docs.map((doc, index) => (doc.errors.length === 0 ? toPlain(doc, index + 1) : null));
  reviewInput(values, report);
  const pieces: string[] = [];
  let start = 0;
  docs.forEach((doc, index) => {
    const end = index === docs.length - 1 ? text.length : doc.range[2];
    const source = text.slice(start, end);
    start = end;
    pieces.push(renderDocument(source, doc, values[index] ?? null, index + 1, options, report) ?? source);
  });
  return pieces.join('');
}

/** The rewritten document, or undefined when inject leaves it as it is (it then comes back byte for byte). */
function renderDocument(
  source: string,
  doc: Document.Parsed,
  before: Json,
  number: number,
  options: InjectOptions,
  report: InjectReport,
): string | undefined {
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    if (/call stack/i.test(first.message)) throw nestingError(`document ${number}`);
    throw new InjectError(`document ${number} is not valid YAML: ${first.message.split('\n')[0]}`);
  }
  const after = injectObject(before, options, report);
  if (after === before) return undefined;
  return printMerged(source, doc, before, after);
}

/** The library's print of `doc` (parsed from `source`, plain value `before`) with `after` merged in. */
function printMerged(source: string, doc: Document.Parsed, before: Json, after: Json): string {
  doc.contents = mergeInto(doc, doc.contents, before, after) as typeof doc.contents;
  let rendered = doc.toString({
    lineWidth: 0,
    indentSeq: indentsSequences(source),
    flowCollectionPadding: padsFlowCollections(source),
  });
  // keep what followed the document in its source slice (a trailing comment line, the blank before `---`)
  if (!source.endsWith('\n')) rendered = rendered.replace(/\n$/, '');
  return rendered;
}

/**
 * The stream cut before each `---` line. YAML forbids a line starting `---` (then a space or the line's end) inside
 * any document content, block scalars included, so these lines are exactly the document starts. Undefined for
 * streams with directives (`%YAML`, `%TAG`: they bind to the next document) or `...` end markers.
 */
function splitDocuments(text: string): string[] | undefined {
  if (/^(%|\.\.\.(?:[ \t\r]|$))/m.test(text)) return undefined;
  const starts = [0];
  const marker = /^---(?:[ \t\r]|$)/gm;
  for (let m = marker.exec(text); m; m = marker.exec(text)) {
    if (m.index > 0) starts.push(m.index);
    if (m[0].length === 0) marker.lastIndex++;
  }
  return starts.map((at, i) => text.slice(at, starts[i + 1] ?? text.length));
}

/** Kinds inject reads: the workloads it rewrites, the Services it checks, and Lists that may hold either. */
const READ_KINDS: ReadonlySet<string> = new Set([...WORKLOAD_KINDS, 'Service', ...ADDED_KINDS]);

/**
 * Whether a document can be passed through without parsing: its one top-level `kind:` is a plain name inject never
 * reads (ConfigMap, Secret, CustomResourceDefinition, …) and no `containers:` key. Anything else — a workload, a Service, a
 * List, an object that runs pods (refused unless --pass-through), a quoted,
 * tagged or aliased kind, a second `kind` key, complex keys — is parsed. Parsing every document of a large bundle
 * was most of inject's time; a skipped document is not validated (the API server does that on apply).
 */
function passesThrough(chunk: string): boolean {
  // an object that runs pods is read even when inject does not handle its kind: it is refused (or --pass-through)
  if (/^[ \t-]*(?:"containers"|'containers'|containers)[ \t]*:/m.test(chunk)) return false;
  const kinds = [...chunk.matchAll(/^(?:"kind"|'kind'|kind)[ \t]*:(.*)$/gm)];
  if (kinds.length !== 1 || /^\?/m.test(chunk)) return false;
  const kind = /^[ \t]*([A-Za-z][A-Za-z0-9]*)[ \t]*(?:#.*)?\r?$/.exec(kinds[0]![1]!)?.[1];
  return kind !== undefined && !READ_KINDS.has(kind) && !kind.endsWith('List');
}

/** A document as plain data; an alias bomb is refused with a message that says what it is. */
function toPlain(doc: Document, number: number): Json {
  try {
    const value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as Json;
    if (nestingDepth(value, MAX_NESTING) > MAX_NESTING) throw nestingError(`document ${number}`);
    return value;
  } catch (err) {
    if (err instanceof ReferenceError && /alias/i.test(err.message)) {
      throw new InjectError(
        `document ${number} expands its YAML aliases too far (a resource-exhaustion "alias bomb"): refused`,
      );
    }
    throw err;
  }
}

/**
 * Whether the source indents list items under their key (`key:\n  - a`) or not (`key:\n- a`, kubectl's style); the
 * rewritten document follows the source.
 */
function indentsSequences(source: string): boolean {
  // line by line without splitting the whole source: the answer is usually in its first lines
  let start = 0;
  let end = source.indexOf('\n');
  while (end >= 0) {
    const next = source.indexOf('\n', end + 1);
    const key = /^(\s*)(- )?[^\s#][^:#]*:\s*$/.exec(source.slice(start, end));
    if (key) {
      const indent = (key[1] ?? '').length + (key[2] ? 2 : 0);
      const item = /^(\s*)- /.exec(source.slice(end + 1, next < 0 ? source.length : next));
      if (item) return item[1]!.length > indent;
    }
    start = end + 1;
    end = next;
  }
  return true;
}

/** Whether the source writes flow collections with inner spaces (`{ a: 1 }`, `[ a ]`) or without (`{a: 1}`). */
function padsFlowCollections(source: string): boolean {
  return /:[ \t]*[{[] [^\s\]}]/.test(source);
}
