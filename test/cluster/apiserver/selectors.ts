/**
 * Label and field selectors with the grammar of k8s.io/apimachinery/pkg/labels and pkg/fields: `=`, `==`, `!=`,
 * `in (…)`, `notin (…)`, `key` (exists) and `!key` for labels; `=`, `==`, `!=` for fields.
 */

type LabelRequirement = { key: string; op: 'in' | 'notin'; values: string[] } | { key: string; op: 'exists' | '!' };

export type LabelSelector = LabelRequirement[];

export class SelectorError extends Error {}

const KEY_RE =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const VALUE_RE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Splits on commas that are not inside parentheses. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

function checkKey(key: string, whole: string): string {
  if (!KEY_RE.test(key) || key.length > 316)
    throw new SelectorError(`unable to parse requirement: invalid label key "${key}" in "${whole}"`);
  return key;
}

function checkValue(value: string, whole: string): string {
  if (value.length > 63 || !VALUE_RE.test(value))
    throw new SelectorError(`unable to parse requirement: invalid label value: "${value}" in "${whole}"`);
  return value;
}

export function parseLabelSelector(text: string): LabelSelector {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  const out: LabelSelector = [];
  for (const raw of splitTopLevel(trimmed)) {
    const part = raw.trim();
    if (part === '') throw new SelectorError(`found '', expected: !, identifier, or 'end of string'`);
    const setMatch = /^(\S+)\s+(in|notin)\s*\(([^)]*)\)$/.exec(part);
    if (setMatch) {
      const values = setMatch[3]
        .split(',')
        .map((v) => v.trim())
        .filter((v, _i, all) => !(v === '' && all.length === 1));
      out.push({
        key: checkKey(setMatch[1], part),
        op: setMatch[2] as 'in' | 'notin',
        values: values.map((v) => checkValue(v, part)),
      });
      continue;
    }
    const eqMatch = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(part);
    if (eqMatch) {
      const key = checkKey(eqMatch[1], part);
      const value = checkValue(eqMatch[3], part);
      out.push({ key, op: eqMatch[2] === '!=' ? 'notin' : 'in', values: [value] });
      continue;
    }
    const notMatch = /^!\s*(\S+)$/.exec(part);
    if (notMatch) {
      out.push({ key: checkKey(notMatch[1], part), op: '!' });
      continue;
    }
    if (/^\S+$/.test(part)) {
      out.push({ key: checkKey(part, part), op: 'exists' });
      continue;
    }
    throw new SelectorError(`unable to parse requirement: "${part}"`);
  }
  return out;
}

export function matchesLabels(selector: LabelSelector, labels: Record<string, string> | undefined): boolean {
  for (const req of selector) {
    const has = labels !== undefined && Object.hasOwn(labels, req.key);
    switch (req.op) {
      case 'exists':
        if (!has) return false;
        break;
      case '!':
        if (has) return false;
        break;
      case 'in':
        if (!has || !req.values.includes(labels[req.key])) return false;
        break;
      case 'notin':
        if (has && req.values.includes(labels[req.key])) return false;
        break;
    }
  }
  return true;
}

export interface FieldRequirement {
  field: string;
  op: '=' | '!=';
  value: string;
}

export function parseFieldSelector(text: string): FieldRequirement[] {
  const trimmed = text.trim();
  if (trimmed === '') return [];
  return trimmed.split(',').map((raw) => {
    const part = raw.trim();
    const m = /^([^=!]+?)\s*(==|=|!=)\s*(.*)$/.exec(part);
    if (!m) throw new SelectorError(`invalid selector: '${part}'; can't understand '${part}'`);
    return { field: m[1].trim(), op: m[2] === '!=' ? '!=' : '=', value: m[3].trim() };
  });
}

export function matchesFields(reqs: FieldRequirement[], fields: (name: string) => string | undefined): boolean {
  for (const r of reqs) {
    const actual = fields(r.field) ?? '';
    if (r.op === '=' ? actual !== r.value : actual === r.value) return false;
  }
  return true;
}

/** Translates a metav1.LabelSelector (matchLabels/matchExpressions) into requirements. */
export function fromLabelSelectorObject(sel: {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: string; values?: string[] }[];
}): LabelSelector {
  const out: LabelSelector = [];
  for (const [key, value] of Object.entries(sel.matchLabels ?? {})) out.push({ key, op: 'in', values: [value] });
  for (const e of sel.matchExpressions ?? []) {
    switch (e.operator) {
      case 'In':
        out.push({ key: e.key, op: 'in', values: e.values ?? [] });
        break;
      case 'NotIn':
        out.push({ key: e.key, op: 'notin', values: e.values ?? [] });
        break;
      case 'Exists':
        out.push({ key: e.key, op: 'exists' });
        break;
      case 'DoesNotExist':
        out.push({ key: e.key, op: '!' });
        break;
      default:
        throw new SelectorError(`"${e.operator}" is not a valid label selector operator`);
    }
  }
  return out;
}
