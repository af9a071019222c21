/**
 * kubectl's -o forms beyond table/json/yaml: `name`, `jsonpath=TEMPLATE` (also `jsonpath-as-json=`),
 * `custom-columns=HEADER:PATH,…`, and --sort-by=PATH. Pure: parse the flag once, then render any view's data.
 */
import { InvalidArgumentError } from 'commander';
import { errorMessage } from '../../errors.js';
import {
  evaluate,
  executeTemplate,
  type FieldPath,
  JsonPathError,
  parseFieldPath,
  parseTemplate,
  printValue,
  type Template,
} from './jsonpath.js';
import { renderTable } from './table.js';

export type { FieldPath };

export type BaseFormat =
  | 'table'
  | 'wide'
  | 'json'
  | 'yaml'
  | 'name'
  | 'jsonpath'
  | 'jsonpath-as-json'
  | 'custom-columns';

export interface OutputChoice {
  format: BaseFormat;
  template?: Template;
  columns?: { header: string; path: FieldPath }[];
}

export const OUTPUT_FORMATS = [
  'table',
  'wide',
  'json',
  'yaml',
  'name',
  'jsonpath=',
  'jsonpath-as-json=',
  'custom-columns=',
] as const;

function usage(err: unknown): never {
  throw new InvalidArgumentError(errorMessage(err));
}

/** Reads `-o`'s value as kubectl does (`-o=json` and `-ojson` included); bad values are usage errors. */
export function parseOutput(raw: string): OutputChoice {
  const value = raw.startsWith('=') ? raw.slice(1) : raw;
  const eq = value.indexOf('=');
  const head = eq < 0 ? value : value.slice(0, eq);
  const rest = eq < 0 ? '' : value.slice(eq + 1);
  try {
    if (eq < 0 && ['table', 'wide', 'json', 'yaml', 'name'].includes(head)) return { format: head as BaseFormat };
    if (head === 'jsonpath' || head === 'jsonpath-as-json') {
      if (rest === '') throw new JsonPathError(`-o ${head} needs a template, e.g. -o ${head}='{.items[*].name}'`);
      return { format: head, template: parseTemplate(rest) };
    }
    if (head === 'custom-columns') {
      if (rest === '') throw new JsonPathError('-o custom-columns needs HEADER:PATH[,HEADER:PATH…], e.g. NAME:.name');
      const columns = rest.split(',').map((spec) => {
        const colon = spec.indexOf(':');
        if (colon <= 0) throw new JsonPathError(`custom-columns: "${spec}" is not HEADER:PATH`);
        return { header: spec.slice(0, colon), path: parseFieldPath(spec.slice(colon + 1)) };
      });
      return { format: 'custom-columns', columns };
    }
  } catch (err) {
    usage(err);
  }
  return usage(
    `unable to match a printer suitable for the output format "${value}", allowed formats are: ${OUTPUT_FORMATS.join(',')}`,
  );
}

/** Reads --sort-by's path; a bad path is a usage error. */
export function parseSortBy(raw: string): FieldPath {
  try {
    return parseFieldPath(raw);
  } catch (err) {
    return usage(err);
  }
}

/** The items a view lists (`items`), or the view's one object. */
function itemsOf(data: unknown): unknown[] {
  const items = (data as { items?: unknown }).items;
  return Array.isArray(items) ? items : [data];
}

function sortKey(item: unknown, path: FieldPath): unknown {
  return evaluate(path, item)[0];
}

const collator = new Intl.Collator('en', { numeric: true });

/** kubectl --sort-by: items ordered by the first value the path reaches; items without it first; stable. */
export function sortItems<T>(items: readonly T[], path: FieldPath): T[] {
  const keyed = items.map((item, index) => ({ item, index, key: sortKey(item, path) }));
  keyed.sort((a, b) => {
    if (a.key === undefined || b.key === undefined) {
      return (a.key === undefined ? 0 : 1) - (b.key === undefined ? 0 : 1) || a.index - b.index;
    }
    if (typeof a.key === 'number' && typeof b.key === 'number') return a.key - b.key || a.index - b.index;
    return collator.compare(printValue(a.key), printValue(b.key)) || a.index - b.index;
  });
  return keyed.map((k) => k.item);
}

/** Renders data in one of the formats this module owns (name, jsonpath, custom-columns). */
export function renderOutput(choice: OutputChoice, data: unknown, names: readonly string[], headers: boolean): string {
  switch (choice.format) {
    case 'name':
      return names.map((n) => `${n}\n`).join('');
    case 'jsonpath':
      return executeTemplate(choice.template!, data);
    case 'jsonpath-as-json': {
      const nodes = choice.template!.nodes;
      const values = nodes.flatMap((n) => (n.kind === 'path' ? n.paths.flatMap((p) => evaluate(p, data)) : []));
      return `${JSON.stringify(values, null, 4)}\n`;
    }
    case 'custom-columns': {
      const columns = choice.columns!.map((c) => ({
        header: c.header,
        cell: (item: unknown) => {
          const found = evaluate(c.path, item);
          return found.length === 0 ? undefined : found.map(printValue).join(',');
        },
      }));
      return renderTable(itemsOf(data), columns, { wide: false, headers, colour: false, keepHeaderCase: true });
    }
    default:
      throw new Error(`renderOutput cannot render ${choice.format}`);
  }
}
