import { parseAllDocuments } from 'yaml';
import type { Json } from './json.js';
import { injectObject } from './manifest.js';
import { InjectError, type InjectOptions, type InjectReport } from './options.js';
import { reviewInput } from './review.js';
import { mergeInto } from './yaml-merge.js';

export interface InjectResult {
  output: string;
  report: InjectReport;
}

/**
 * Injects a manifest text: multi-document YAML or one JSON object (a List included). YAML keeps its comments, key
 * order and quoting; documents inject does not change come back byte for byte.
 */
export function injectText(text: string, options: InjectOptions): InjectResult {
  const report: InjectReport = { changes: [], warnings: [], notes: [] };
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    let parsed: Json;
    try {
      parsed = JSON.parse(text) as Json;
    } catch (err) {
      throw new InjectError(`input is not valid JSON: ${(err as Error).message}`);
    }
    const items = Array.isArray(parsed) ? parsed : [parsed];
    reviewInput(items, report);
    const next = items.map((item) => injectObject(item, options, report));
    if (next.every((item, i) => item === items[i])) return { output: text, report };
    return { output: `${JSON.stringify(Array.isArray(parsed) ? next : next[0], null, 2)}\n`, report };
  }
  return { output: injectYaml(text, options, report), report };
}

function injectYaml(text: string, options: InjectOptions, report: InjectReport): string {
  const docs = parseAllDocuments(text, { keepSourceTokens: false });
  // a stream of comments only (or nothing) has no documents: it passes through as it is
  if (docs.length === 0) return text;
  reviewInput(
    docs.map((doc) => (doc.errors.length === 0 ? (doc.toJS({ maxAliasCount: -1 }) as Json) : null)),
    report,
  );
  const pieces: string[] = [];
  let start = 0;
  docs.forEach((doc, index) => {
    const end = index === docs.length - 1 ? text.length : doc.range[2];
    const source = text.slice(start, end);
    start = end;
    if (doc.errors.length > 0) {
      const first = doc.errors[0]!;
      throw new InjectError(`document ${index + 1} is not valid YAML: ${first.message.split('\n')[0]}`);
    }
    const before = doc.toJS({ maxAliasCount: -1 }) as Json;
    const after = injectObject(before, options, report);
    if (after === before) {
      pieces.push(source);
      return;
    }
    doc.contents = mergeInto(doc, doc.contents, before, after) as typeof doc.contents;
    let rendered = doc.toString({
      lineWidth: 0,
      indentSeq: indentsSequences(source),
      flowCollectionPadding: padsFlowCollections(source),
    });
    // keep what followed the document in its source slice (a trailing comment line, the blank before `---`)
    if (!source.endsWith('\n')) rendered = rendered.replace(/\n$/, '');
    pieces.push(rendered);
  });
  return pieces.join('');
}

/**
 * Whether the source indents list items under their key (`key:\n  - a`) or not (`key:\n- a`, kubectl's style); the
 * rewritten document follows the source.
 */
function indentsSequences(source: string): boolean {
  const lines = source.split('\n');
  for (let i = 0; i + 1 < lines.length; i++) {
    const key = /^(\s*)(- )?[^\s#][^:#]*:\s*$/.exec(lines[i]!);
    if (!key) continue;
    const indent = (key[1] ?? '').length + (key[2] ? 2 : 0);
    const item = /^(\s*)- /.exec(lines[i + 1]!);
    if (item) return item[1]!.length > indent;
  }
  return true;
}

/** Whether the source writes flow collections with inner spaces (`{ a: 1 }`, `[ a ]`) or without (`{a: 1}`). */
function padsFlowCollections(source: string): boolean {
  return /:[ \t]*[{[] [^\s\]}]/.test(source);
}
