/**
 * kubectl's JSONPath templates (`-o jsonpath=…`, the paths of `-o custom-columns=…` and `--sort-by`), as
 * k8s.io/client-go/util/jsonpath reads them: text outside braces is printed as is; inside braces a path (`.a.b`,
 * `[0]`, `[*]`, `[1:3]`, `['k.e.y']`, `..name`, `[?(@.x=="y")]`, unions `[0,2]`), a quoted literal (`{"\n"}`), or
 * `{range PATH}…{end}`. Several results of one expression are joined by a space; strings print bare, anything else
 * as JSON; a missing key prints nothing (kubectl's --allow-missing-template-keys default).
 *
 * Threats (the template is the user's own, the data is what peers published; tested in
 * test/kubectl/render/jsonpath.test.ts): a malformed template is a usage error naming the position, never a crash
 * or a hang (parsing is one pass, no backtracking); a deep or cyclic-looking document cannot make `..` loop (JSON
 * has no cycles, and depth is bounded by the parsed data); property names like `__proto__` are read as own keys only.
 */

export class JsonPathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'JsonPathError';
  }
}

type Segment =
  | { kind: 'field'; name: string }
  | { kind: 'recursive' }
  | { kind: 'wildcard' }
  | { kind: 'index'; indices: number[] }
  | { kind: 'keys'; keys: string[] }
  | { kind: 'slice'; start?: number; end?: number; step?: number }
  | { kind: 'filter'; path: Segment[]; op?: string; value?: unknown };

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'path'; paths: Segment[][] }
  | { kind: 'range'; path: Segment[]; body: Node[] };

/** A parsed template, ready to run over any number of documents. */
export interface Template {
  nodes: Node[];
}

function fail(template: string, at: number, what: string): never {
  throw new JsonPathError(`jsonpath ${JSON.stringify(template)}: ${what} at position ${at}`);
}

/** Parses a path such as `.items[*].name` (no braces). */
function parsePath(text: string, template = text, offset = 0): Segment[] {
  const segments: Segment[] = [];
  let i = 0;
  const src = text.trim();
  if (src === '' || src === '@' || src === '$') return segments;
  if (src[0] === '$' || src[0] === '@') i = 1;
  while (i < src.length) {
    const c = src[i]!;
    if (c === '.') {
      if (src[i + 1] === '.') {
        segments.push({ kind: 'recursive' });
        i += 2;
      } else i += 1;
      let name = '';
      while (i < src.length && src[i] !== '.' && src[i] !== '[') {
        if (src[i] === '\\' && i + 1 < src.length) i += 1;
        name += src[i];
        i += 1;
      }
      if (name === '*') segments.push({ kind: 'wildcard' });
      else if (name !== '') segments.push({ kind: 'field', name });
      else if (segments.at(-1)?.kind !== 'recursive' && i < src.length && src[i] !== '[') {
        fail(template, offset + i, 'empty field name');
      }
    } else if (c === '[') {
      const close = matchingBracket(src, i, template, offset);
      segments.push(parseBracket(src.slice(i + 1, close).trim(), template, offset + i + 1));
      i = close + 1;
    } else {
      // a leading name without a dot (`items[0]`, as custom-columns allows)
      if (segments.length > 0 || i > 1) fail(template, offset + i, `unexpected ${JSON.stringify(c)}`);
      let name = '';
      while (i < src.length && src[i] !== '.' && src[i] !== '[') name += src[i++];
      segments.push({ kind: 'field', name });
    }
  }
  return segments;
}

function matchingBracket(src: string, open: number, template: string, offset: number): number {
  let depth = 0;
  let quote: string | undefined;
  for (let i = open; i < src.length; i++) {
    const c = src[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[' || c === '(') depth++;
    else if (c === ']' || c === ')') {
      depth--;
      if (depth === 0) return i;
    }
  }
  return fail(template, offset + open, 'unclosed [');
}

const INT = /^-?\d+$/;

function parseBracket(inner: string, template: string, offset: number): Segment {
  if (inner === '*') return { kind: 'wildcard' };
  if (inner.startsWith('?(') && inner.endsWith(')')) return parseFilter(inner.slice(2, -1).trim(), template, offset);
  const parts = splitTopLevel(inner, ',');
  if (parts.every((p) => INT.test(p))) return { kind: 'index', indices: parts.map(Number) };
  if (parts.every((p) => /^(['"]).*\1$/s.test(p))) return { kind: 'keys', keys: parts.map((p) => p.slice(1, -1)) };
  if (parts.length === 1 && /^-?\d*:-?\d*(:-?\d*)?$/.test(inner)) {
    const [a, b, s] = inner.split(':').map((x) => (x === '' || x === undefined ? undefined : Number(x)));
    return {
      kind: 'slice',
      ...(a !== undefined ? { start: a } : {}),
      ...(b !== undefined ? { end: b } : {}),
      ...(s !== undefined ? { step: s } : {}),
    };
  }
  return fail(template, offset, `cannot read [${inner}]`);
}

function splitTopLevel(text: string, sep: string): string[] {
  const out: string[] = [];
  let quote: string | undefined;
  let depth = 0;
  let cur = '';
  for (const c of text) {
    if (quote) {
      if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '[' || c === '(') depth++;
    else if (c === ']' || c === ')') depth--;
    else if (c === sep && depth === 0) {
      out.push(cur.trim());
      cur = '';
      continue;
    }
    cur += c;
  }
  out.push(cur.trim());
  return out;
}

const OPS = ['==', '!=', '<=', '>=', '<', '>'];

function parseFilter(expr: string, template: string, offset: number): Segment {
  let quote: string | undefined;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i]!;
    if (quote) {
      if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'") {
      quote = c;
      continue;
    }
    const op = OPS.find((o) => expr.startsWith(o, i));
    if (op) {
      const left = expr.slice(0, i).trim();
      const right = expr.slice(i + op.length).trim();
      if (!left.startsWith('@')) fail(template, offset, 'a filter compares @.<path> with a value');
      return { kind: 'filter', path: parsePath(left, template, offset), op, value: literal(right, template, offset) };
    }
  }
  if (!expr.startsWith('@')) fail(template, offset, 'a filter tests @.<path>');
  return { kind: 'filter', path: parsePath(expr, template, offset) };
}

function literal(text: string, template: string, offset: number): unknown {
  if (/^(['"]).*\1$/s.test(text)) return text.slice(1, -1);
  if (text === 'true' || text === 'false') return text === 'true';
  if (text === 'nil' || text === 'null') return null;
  if (text !== '' && Number.isFinite(Number(text))) return Number(text);
  return fail(template, offset, `cannot read the value ${JSON.stringify(text)}`);
}

/** Parses a whole template (`{.a}{"\n"}`, `{range .items[*]}{.name}{end}`, or plain text). */
export function parseTemplate(template: string): Template {
  const stack: Node[][] = [[]];
  const ranges: Segment[][] = [];
  let i = 0;
  while (i < template.length) {
    const open = template.indexOf('{', i);
    if (open < 0) {
      stack.at(-1)!.push({ kind: 'text', text: template.slice(i) });
      break;
    }
    if (open > i) stack.at(-1)!.push({ kind: 'text', text: template.slice(i, open) });
    const close = closingBrace(template, open);
    const inner = template.slice(open + 1, close).trim();
    i = close + 1;
    if (/^range\s/.test(inner)) {
      ranges.push(parsePath(inner.slice(6), template, open + 7));
      stack.push([]);
    } else if (inner === 'end') {
      const path = ranges.pop();
      if (!path) fail(template, open, '{end} without {range}');
      const body = stack.pop()!;
      stack.at(-1)!.push({ kind: 'range', path, body });
    } else if (/^(["']).*\1$/s.test(inner)) {
      stack.at(-1)!.push({ kind: 'text', text: unquote(inner) });
    } else {
      stack.at(-1)!.push({
        kind: 'path',
        paths: splitTopLevel(inner, ',').map((p) => parsePath(p, template, open + 1)),
      });
    }
  }
  if (ranges.length > 0) fail(template, template.length, '{range} without {end}');
  return { nodes: stack[0]! };
}

function closingBrace(template: string, open: number): number {
  let quote: string | undefined;
  for (let i = open + 1; i < template.length; i++) {
    const c = template[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '}') return i;
  }
  return fail(template, open, 'unclosed {');
}

function unquote(text: string): string {
  const body = text.slice(1, -1);
  return body.replace(/\\(.)/g, (_all, c: string) =>
    c === 'n' ? '\n' : c === 't' ? '\t' : c === 'r' ? '\r' : c === '0' ? '\0' : c,
  );
}

const own = (o: object, key: string) => Object.hasOwn(o, key);

function children(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  if (value !== null && typeof value === 'object') return Object.values(value);
  return [];
}

function descendants(value: unknown, out: unknown[]): void {
  out.push(value);
  for (const child of children(value)) descendants(child, out);
}

function compare(left: unknown, op: string, right: unknown): boolean {
  if (op === '==') return left === right;
  if (op === '!=') return left !== right;
  if (typeof left !== typeof right || (typeof left !== 'number' && typeof left !== 'string')) return false;
  const l = left as number | string;
  const r = right as number | string;
  return op === '<' ? l < r : op === '<=' ? l <= r : op === '>' ? l > r : l >= r;
}

function step(values: readonly unknown[], segment: Segment): unknown[] {
  const out: unknown[] = [];
  for (const value of values) {
    switch (segment.kind) {
      case 'field':
        if (value !== null && typeof value === 'object' && !Array.isArray(value) && own(value, segment.name)) {
          out.push((value as Record<string, unknown>)[segment.name]);
        }
        break;
      case 'keys':
        if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
          for (const k of segment.keys) if (own(value, k)) out.push((value as Record<string, unknown>)[k]);
        }
        break;
      case 'recursive':
        descendants(value, out);
        break;
      case 'wildcard':
        out.push(...children(value));
        break;
      case 'index':
        if (Array.isArray(value)) {
          for (const i of segment.indices) {
            const at = i < 0 ? value.length + i : i;
            if (at >= 0 && at < value.length) out.push(value[at]);
          }
        }
        break;
      case 'slice':
        if (Array.isArray(value)) {
          const n = value.length;
          const norm = (x: number | undefined, d: number) =>
            x === undefined ? d : Math.min(n, Math.max(0, x < 0 ? n + x : x));
          const stride = segment.step && segment.step > 0 ? segment.step : 1;
          for (let i = norm(segment.start, 0); i < norm(segment.end, n); i += stride) out.push(value[i]);
        }
        break;
      case 'filter':
        for (const item of children(value)) {
          const found = evaluate(segment.path, item);
          if (segment.op === undefined ? found.length > 0 : found.some((f) => compare(f, segment.op!, segment.value))) {
            out.push(item);
          }
        }
        break;
    }
  }
  return out;
}

/** Every value a path reaches from `root`. */
export function evaluate(path: readonly Segment[], root: unknown): unknown[] {
  let values: unknown[] = [root];
  for (const segment of path) values = step(values, segment);
  return values;
}

/** A value as kubectl's jsonpath prints it: strings bare, everything else as compact JSON. */
export function printValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function run(nodes: readonly Node[], root: unknown): string {
  let out = '';
  for (const node of nodes) {
    if (node.kind === 'text') out += node.text;
    else if (node.kind === 'path') {
      out += node.paths
        .flatMap((p) => evaluate(p, root))
        .map(printValue)
        .join(' ');
    } else {
      const found = evaluate(node.path, root);
      const items = found.length === 1 && Array.isArray(found[0]) ? (found[0] as unknown[]) : found;
      for (const item of items) out += run(node.body, item);
    }
  }
  return out;
}

/** Runs a parsed template over one document. */
export function executeTemplate(template: Template, root: unknown): string {
  return run(template.nodes, root);
}

/** `.a.b` or `{.a.b}`: the path form custom-columns and --sort-by take. */
export function parseFieldPath(text: string): Segment[] {
  const trimmed = text.trim();
  const inner = trimmed.startsWith('{') && trimmed.endsWith('}') ? trimmed.slice(1, -1) : trimmed;
  return parsePath(inner, text);
}

export type FieldPath = Segment[];
