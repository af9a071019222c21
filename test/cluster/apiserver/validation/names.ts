/**
 * Name formats of k8s.io/apimachinery/pkg/util/validation, with the same messages, so a client sees the same
 * text as from a real API server.
 */
import type { FieldError } from '../errors.js';

const DNS1123_LABEL = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const DNS1123_SUBDOMAIN = `${DNS1123_LABEL}(\\.${DNS1123_LABEL})*`;
const LABEL_RE = new RegExp(`^${DNS1123_LABEL}$`);
const SUBDOMAIN_RE = new RegExp(`^${DNS1123_SUBDOMAIN}$`);
const C_IDENT_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;
const QUALIFIED_NAME_PART = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const QUALIFIED_NAME_RE = new RegExp(`^${QUALIFIED_NAME_PART}$`);
const LABEL_VALUE_RE = new RegExp(`^(${QUALIFIED_NAME_PART})?$`);

export const DNS1123_LABEL_MSG = `a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '${DNS1123_LABEL}')`;
const DNS1123_SUBDOMAIN_MSG = `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '${DNS1123_SUBDOMAIN}')`;
const C_IDENT_MSG = `a valid C identifier must start with alphabetic character or '_', followed by a string of alphanumeric characters or '_' (e.g. 'my_name',  or 'MY_NAME',  or 'MyName', regex used for validation is '[A-Za-z_][A-Za-z0-9_]*')`;
const QUALIFIED_NAME_MSG = `name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '${QUALIFIED_NAME_PART}')`;
const LABEL_VALUE_MSG = `a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(${QUALIFIED_NAME_PART})?')`;

function maxLen(n: number): string {
  return `must be no more than ${n} characters`;
}

export function isDns1123Label(v: string): string[] {
  const out: string[] = [];
  if (v.length > 63) out.push(maxLen(63));
  if (!LABEL_RE.test(v)) out.push(DNS1123_LABEL_MSG);
  return out;
}

export function isDns1123Subdomain(v: string): string[] {
  const out: string[] = [];
  if (v.length > 253) out.push(maxLen(253));
  if (!SUBDOMAIN_RE.test(v)) out.push(DNS1123_SUBDOMAIN_MSG);
  return out;
}

export function isCIdentifier(v: string): string[] {
  return C_IDENT_RE.test(v) ? [] : [C_IDENT_MSG];
}

/** A label key / qualified name: `[prefix/]name` (metav1validation.ValidateLabelName). */
export function isQualifiedName(v: string): string[] {
  const parts = v.split('/');
  let name: string;
  const out: string[] = [];
  if (parts.length === 1) name = parts[0];
  else if (parts.length === 2) {
    const [prefix] = parts;
    name = parts[1];
    if (prefix.length === 0) out.push('prefix part must be non-empty');
    else for (const msg of isDns1123Subdomain(prefix)) out.push(`prefix part ${msg}`);
  } else {
    return [
      `a qualified name ${QUALIFIED_NAME_MSG} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  if (name.length === 0) out.push('name part must be non-empty');
  else if (name.length > 63) out.push('name part must be no more than 63 characters');
  if (name.length > 0 && !QUALIFIED_NAME_RE.test(name)) out.push(QUALIFIED_NAME_MSG);
  return out;
}

export function isLabelValue(v: string): string[] {
  const out: string[] = [];
  if (v.length > 63) out.push(maxLen(63));
  if (!LABEL_VALUE_RE.test(v)) out.push(LABEL_VALUE_MSG);
  return out;
}

export function invalidEach(field: string, value: unknown, msgs: string[]): FieldError[] {
  return msgs.map((detail) => ({ type: 'FieldValueInvalid', field, value, detail }));
}

/** ValidateObjectMeta's checks that clients run into: name format, generateName, labels. */
export function validateObjectMeta(
  meta: { name?: string; generateName?: string; labels?: Record<string, string>; annotations?: Record<string, string> },
  nameRule: 'subdomain' | 'label' | 'path',
): FieldError[] {
  const errs: FieldError[] = [];
  const check = (v: string) =>
    nameRule === 'label' ? isDns1123Label(v) : nameRule === 'subdomain' ? isDns1123Subdomain(v) : pathSegment(v);
  if (meta.name !== undefined) errs.push(...invalidEach('metadata.name', meta.name, check(meta.name)));
  for (const [k, v] of Object.entries(meta.labels ?? {})) {
    errs.push(...invalidEach('metadata.labels', k, isQualifiedName(k)));
    if (typeof v !== 'string')
      errs.push({ type: 'FieldValueInvalid', field: 'metadata.labels', value: v, detail: 'must be a string' });
    else errs.push(...invalidEach('metadata.labels', v, isLabelValue(v)));
  }
  for (const k of Object.keys(meta.annotations ?? {}))
    errs.push(...invalidEach('metadata.annotations', k, isQualifiedName(k.toLowerCase())));
  return errs;
}

function pathSegment(v: string): string[] {
  if (v === '.' || v === '..') return [`may not be '${v}'`];
  if (v.includes('/')) return [`may not contain '/'`];
  if (v.includes('%')) return [`may not contain '%'`];
  return [];
}
