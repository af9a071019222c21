/**
 * The API server's rules for what a ResourceSlice may hold (FACTS.md §4), as pure checks. The builder uses them so
 * that it never produces a slice the API would reject; tests use them to prove it.
 */
export const MAX_ATTRIBUTES_AND_CAPACITIES = 32;
/** attribute values of a device, a list counting one per entry (1.36, with list-typed attributes) */
export const MAX_ATTRIBUTE_VALUES = 48;
export const MAX_VALUE_LENGTH = 64;
const MAX_TAINT_VALUE_LENGTH = 63;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const C_IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;
// semver 2.0.0: no leading zeros in numeric identifiers
const SEMVER =
  /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

export function isDnsLabel(s: string): boolean {
  return s.length <= 63 && DNS_LABEL.test(s);
}

export function isDnsSubdomain(s: string): boolean {
  return s.length <= 253 && DNS_SUBDOMAIN.test(s);
}

/** `name` (C identifier ≤ 32) or `<DNS subdomain ≤ 63>/<C identifier ≤ 32>`. */
export function isQualifiedAttributeName(s: string): boolean {
  const slash = s.indexOf('/');
  const id = slash < 0 ? s : s.slice(slash + 1);
  if (id.length === 0 || id.length > 32 || !C_IDENTIFIER.test(id)) return false;
  if (slash < 0) return true;
  const domain = s.slice(0, slash);
  return domain.length <= 63 && isDnsSubdomain(domain);
}

export function isSemver(s: string): boolean {
  return s.length <= MAX_VALUE_LENGTH && SEMVER.test(s);
}

export function isLabelValue(s: string): boolean {
  return s.length <= 63 && LABEL_VALUE.test(s);
}

/**
 * Driver versions are not semver (`535.161.08` has a leading zero; `12.2` has two parts). Like NVIDIA's driver, keep
 * the numbers and write them as MAJOR.MINOR.PATCH: `535.161.08` → `535.161.8`, `9.0` → `9.0.0`.
 */
export function toSemver(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(raw.trim());
  if (!m) return isSemver(raw.trim()) ? raw.trim() : undefined;
  const part = (p: string | undefined) => String(Number(p ?? '0'));
  const version = `${part(m[1])}.${part(m[2])}.${part(m[3])}`;
  return isSemver(version) ? version : undefined;
}

/**
 * A taint value must be a label value (≤ 63 chars, alphanumerics plus `-_.`, alphanumeric at both ends). Reasons are
 * prose (`XID 119: GSP timeout`), so every run of other characters becomes one `-`: `XID-119-GSP-timeout`.
 */
export function toLabelValue(text: string, max = MAX_TAINT_VALUE_LENGTH): string {
  const cleaned = text
    .replace(/[^A-Za-z0-9_.-]+/g, '-')
    .replace(/-{2,}/g, '-')
    .slice(0, max)
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/[^A-Za-z0-9]+$/, '');
  return cleaned;
}

/** Strings the API would reject (too long) are cut, not dropped: a truncated model name still says what it is. */
export function clampString(s: string, max = MAX_VALUE_LENGTH): string {
  return s.length <= max ? s : s.slice(0, max);
}
