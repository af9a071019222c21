import type { Inventory, NicDevice } from './inventory.js';

/**
 * `--nic-exclude`: NICs the agent must not serve, usually the management ports (the node's own network, a BMC link).
 * Each entry is a PCI address (`0000:1a:00.0`, or `1a:00.0` in domain 0), or a name matched against the kernel
 * interface name, the published device name and the RDMA device name; `*` in a name matches any run of characters
 * (`eno*`). An excluded NIC is neither published, prepared nor watched; `discover --all` lists it among the excluded
 * interfaces with the reason.
 *
 * Threats: a flag value from a user's manifest. Entries that are neither a PCI address nor a plausible interface name
 * (empty, whitespace, `/`, control characters, longer than 64 characters) are refused, so a typo is an error rather
 * than a filter that silently matches nothing or everything; `*` alone is refused (it would drop every NIC: use
 * `--device-types` to serve no NICs). Matching never builds a regular expression from the input.
 */

const PCI_ADDRESS = /^(?:([0-9a-f]{4,8}):)?([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i;
/** what a Linux interface name (IFNAMSIZ 16), a device name or an RDMA name can hold, with `*` */
const NAME_PATTERN = /^[A-Za-z0-9_.:@*-]{1,64}$/;

export type NicExclusion = { kind: 'pci'; address: string } | { kind: 'name'; pattern: string };

/** Parses the comma-separated flag value; throws an Error naming the bad entry. */
export function parseNicExclude(value: string): NicExclusion[] {
  const entries = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return entries.map((entry) => {
    const pci = PCI_ADDRESS.exec(entry);
    if (pci) {
      const domain = (pci[1] ?? '0000').toLowerCase().padStart(4, '0');
      return { kind: 'pci', address: `${domain}:${pci[2]}:${pci[3]}.${pci[4]}`.toLowerCase() };
    }
    if (!NAME_PATTERN.test(entry) || /^\*+$/.test(entry)) {
      throw new Error(
        `"${entry}" in --nic-exclude is neither a PCI address (0000:1a:00.0) nor an interface name (eno1, eno*)`,
      );
    }
    return { kind: 'name', pattern: entry };
  });
}

/** `*`-glob match without regular expressions: the input never becomes a pattern the engine runs. */
export function globMatch(pattern: string, text: string): boolean {
  const parts = pattern.split('*');
  if (parts.length === 1) return pattern === text;
  const first = parts[0] ?? '';
  const last = parts.at(-1) ?? '';
  if (!text.startsWith(first) || text.length < first.length + last.length || !text.endsWith(last)) return false;
  let at = first.length;
  const end = text.length - last.length;
  for (const middle of parts.slice(1, -1)) {
    const found = text.indexOf(middle, at);
    if (found === -1 || found + middle.length > end) return false;
    at = found + middle.length;
  }
  return true;
}

/** Which exclusion, if any, drops this NIC. */
function exclusionFor(nic: NicDevice, exclusions: readonly NicExclusion[]): NicExclusion | undefined {
  return exclusions.find((x) => {
    if (x.kind === 'pci') return nic.pciAddress?.toLowerCase() === x.address;
    const names = [nic.ifName, nic.name, ...nic.rdma.map((r) => r.device)].filter((n) => n !== '');
    return names.some((n) => globMatch(x.pattern, n));
  });
}

/**
 * The inventory without the excluded NICs. GPU↔NIC affinity drops them too, so nothing downstream names a device the
 * agent does not serve.
 */
export function excludeNics(inventory: Inventory, exclusions: readonly NicExclusion[]): Inventory {
  if (exclusions.length === 0) return inventory;
  const dropped: { ifName: string; reason: string }[] = [];
  const devices = inventory.devices.filter((d) => {
    if (d.kind !== 'nic') return true;
    const x = exclusionFor(d, exclusions);
    if (!x) return true;
    dropped.push({
      ifName: d.ifName || d.name,
      reason: `--nic-exclude ${x.kind === 'pci' ? x.address : x.pattern}`,
    });
    return false;
  });
  if (dropped.length === 0) return inventory;
  const kept = new Set(devices.map((d) => d.name));
  const affinity = inventory.affinity.map((a) => ({ ...a, nics: a.nics.filter((n) => kept.has(n.nic)) }));
  const excludedInterfaces = [...inventory.excludedInterfaces, ...dropped].sort((a, b) =>
    a.ifName < b.ifName ? -1 : a.ifName > b.ifName ? 1 : 0,
  );
  return { ...inventory, devices, affinity, excludedInterfaces };
}
