/**
 * Kubernetes resource quantities (`80Gi`, `81559Mi`, `1e3`, `500m`), just enough to write capacities and to compare
 * what the API server sends back: it may canonicalise a quantity's spelling, so equality is by value, never by string.
 */
const BINARY: Record<string, bigint> = {
  Ki: 1024n,
  Mi: 1024n ** 2n,
  Gi: 1024n ** 3n,
  Ti: 1024n ** 4n,
  Pi: 1024n ** 5n,
  Ei: 1024n ** 6n,
};
const DECIMAL_EXP: Record<string, number> = { n: -9, u: -6, m: -3, '': 0, k: 3, M: 6, G: 9, T: 12, P: 15, E: 18 };

const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|n|u|m|k|M|G|T|P|E)?$/;

/** The value as a rational number in thousandths of nano units (exact for everything the agent writes). */
export function parseQuantity(text: string): bigint | undefined {
  const m = QUANTITY.exec(text.trim());
  if (!m) return undefined;
  const [, sign, number, suffix = ''] = m;
  const [intPart = '0', fracPart = ''] = number!.split('.');
  // scale everything to units of 1e-12 so milli/micro/nano suffixes stay integral
  const SCALE = 12;
  let exp = 0;
  let mult = 1n;
  if (suffix in BINARY) mult = BINARY[suffix]!;
  else if (/^[eE]/.test(suffix)) exp = Number(suffix.slice(1));
  else exp = DECIMAL_EXP[suffix] ?? 0;
  const digits = BigInt(`${intPart || '0'}${fracPart}`);
  const shift = SCALE + exp - fracPart.length;
  if (shift < 0) return undefined;
  const value = digits * 10n ** BigInt(shift) * mult;
  return sign === '-' ? -value : value;
}

export function quantitiesEqual(a: string, b: string): boolean {
  if (a === b) return true;
  const pa = parseQuantity(a);
  const pb = parseQuantity(b);
  return pa !== undefined && pa === pb;
}

/** Bytes as the shortest exact binary-SI quantity: 85899345920 → `80Gi`, 85520809984 → `81559Mi`. */
export function formatBytes(bytes: number): string {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new Error(`not a byte count: ${bytes}`);
  let value = BigInt(bytes);
  const suffixes = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];
  let i = 0;
  while (value !== 0n && value % 1024n === 0n && i < suffixes.length - 1) {
    value /= 1024n;
    i++;
  }
  return `${value}${suffixes[i]}`;
}
