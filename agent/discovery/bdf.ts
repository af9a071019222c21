/** PCI addresses (BDF = domain:bus:device.function) in the one spelling the inventory uses: `0000:19:00.0`. */

const BDF = /^([0-9a-f]{4,8}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i;
const SHORT_BDF = /^([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i;

/** True for a full, normalised-or-not PCI address such as `0000:19:00.0` or nvidia-smi's `00000000:19:00.0`. */
export function isBdf(s: string): boolean {
  return BDF.test(s);
}

/**
 * Normalises nvidia-smi's 8-hex-digit, upper-case domain (`00000000:19:00.0`) and lspci's domain-less `19:00.0` to
 * sysfs's `0000:19:00.0`. Returns undefined for anything that is not a PCI address.
 */
export function normaliseBusId(id: string): string | undefined {
  const s = id.trim();
  const m = BDF.exec(s);
  if (m) {
    const domain = Number.parseInt(m[1]!, 16);
    if (domain > 0xffff) return undefined;
    return `${domain.toString(16).padStart(4, '0')}:${m[2]}:${m[3]}.${m[4]}`.toLowerCase();
  }
  const s2 = SHORT_BDF.exec(s);
  if (s2) return `0000:${s2[1]}:${s2[2]}.${s2[3]}`.toLowerCase();
  return undefined;
}

/** `0000:1a:00.0` → `0000-1a-00-0` (a DNS-label-safe spelling). */
export function bdfToLabel(bdf: string): string {
  return bdf.replace(/[:.]/g, '-');
}
