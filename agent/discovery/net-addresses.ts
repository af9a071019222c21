/**
 * The IP addresses of the node's interfaces, in CIDR form (`10.0.0.5/24`, `2001:db8::5/64`), as the kernel lists them
 * in procfs for the host's network namespace: `<procRoot>/1/net/if_inet6` (IPv6, with prefix length and scope),
 * `fib_trie` (the IPv4 addresses local to the host: `/32 host LOCAL` leaves) and `route` (each interface's connected
 * IPv4 routes, which give the prefix length). PID 1's view is the host's when the host's /proc is mounted (the
 * DaemonSet mounts it at /host/proc); a pod's own /proc/1 shows the pod's namespace, whose interface names never match
 * a NIC's, so nothing is reported rather than something wrong.
 *
 * Only global-scope addresses, as dranet reports: link-local and loopback addresses are specific to the host.
 *
 * Threats: files from another kernel version with extra columns (columns are read by position, extra ones ignored);
 * truncated or garbled lines (skipped); a missing file (that family reads as none); huge files (read once, capped).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** ifName → addresses in CIDR form, sorted IPv4 first. */
export type InterfaceAddresses = ReadonlyMap<string, readonly string[]>;

const MAX_FILE_BYTES = 4 * 1024 * 1024;
/** if_inet6 scope 0x00 is global (RT_SCOPE_UNIVERSE); 0x20 link, 0x10 host */
const IPV6_SCOPE_GLOBAL = 0;
const RTF_GATEWAY = 0x2;

/** `fe800000000000000000000000000001` → `fe80::1` (the canonical, compressed form). */
function ipv6FromHex(hex: string): string | undefined {
  if (!/^[0-9a-f]{32}$/i.test(hex)) return undefined;
  const groups =
    hex
      .toLowerCase()
      .match(/.{4}/g)
      ?.map((group) => group.replace(/^0+(?=.)/, '')) ?? [];
  // RFC 5952: the longest run (≥ 2) of zero groups becomes `::`, the first one when two are as long
  let bestStart = -1;
  let bestLength = 0;
  for (let i = 0; i < groups.length; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < groups.length && groups[j] === '0') j++;
    if (j - i > bestLength && j - i >= 2) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  if (bestStart < 0) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLength).join(':')}`;
}

/** `/proc/net/if_inet6`: `address ifindex prefixlen scope flags ifname`, hex fields. */
export function parseIfInet6(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const [hex, , prefixHex, scopeHex, , ifName] = line.trim().split(/\s+/);
    if (!hex || !prefixHex || !scopeHex || !ifName) continue;
    const address = ipv6FromHex(hex);
    const prefix = Number.parseInt(prefixHex, 16);
    const scope = Number.parseInt(scopeHex, 16);
    if (!address || !(prefix >= 0 && prefix <= 128) || scope !== IPV6_SCOPE_GLOBAL) continue;
    out.set(ifName, [...(out.get(ifName) ?? []), `${address}/${prefix}`]);
  }
  return out;
}

function ipv4ToNumber(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || parts.some((part) => !/^(0|[1-9]\d{0,2})$/.test(part) || Number(part) > 255))
    return undefined;
  return parts.reduce((value, part) => value * 256 + Number(part), 0);
}

/** `/proc/net/fib_trie`: the addresses of `/32 host LOCAL` leaves (the host's own IPv4 addresses), in order. */
export function parseFibTrieLocal(text: string): string[] {
  const out: string[] = [];
  let leaf: string | undefined;
  for (const line of text.split('\n')) {
    const leafMatch = /^\s*\|--\s+(\d+\.\d+\.\d+\.\d+)\s*$/.exec(line);
    if (leafMatch) {
      leaf = leafMatch[1];
      continue;
    }
    if (leaf && /^\s*\/32 host LOCAL\s*$/.test(line) && ipv4ToNumber(leaf) !== undefined && !out.includes(leaf)) {
      out.push(leaf);
    }
  }
  return out;
}

interface ConnectedRoute {
  ifName: string;
  destination: number;
  mask: number;
  prefix: number;
}

/** `/proc/net/route` hex fields are the kernel's little-endian words: `0100A8C0` is 192.168.0.1. */
function hexWordToNumber(hex: string): number | undefined {
  if (!/^[0-9a-f]{8}$/i.test(hex)) return undefined;
  const bytes = hex.match(/.{2}/g)?.map((byte) => Number.parseInt(byte, 16)) ?? [];
  return bytes.reverse().reduce((value, byte) => value * 256 + byte, 0);
}

/** `/proc/net/route`: connected routes (no gateway) with a contiguous, non-zero mask. */
export function parseConnectedRoutes(text: string): ConnectedRoute[] {
  const out: ConnectedRoute[] = [];
  for (const line of text.split('\n').slice(1)) {
    const [ifName, destinationHex, gatewayHex, flagsHex, , , , maskHex] = line.trim().split(/\s+/);
    if (!ifName || !destinationHex || !gatewayHex || !flagsHex || !maskHex) continue;
    const destination = hexWordToNumber(destinationHex);
    const gateway = hexWordToNumber(gatewayHex);
    const mask = hexWordToNumber(maskHex);
    const flags = Number.parseInt(flagsHex, 16);
    if (destination === undefined || mask === undefined || gateway !== 0 || (flags & RTF_GATEWAY) !== 0) continue;
    const inverted = ~mask >>> 0;
    // a netmask is ones then zeros: its inverse is 2^k - 1
    if (mask === 0 || (inverted & (inverted + 1)) !== 0) continue;
    out.push({ ifName, destination, mask, prefix: 32 - Math.log2(inverted + 1) });
  }
  return out;
}

/** Each local IPv4 address on the interface whose connected route holds it (the longest prefix wins). */
export function ipv4ByInterface(locals: readonly string[], routes: readonly ConnectedRoute[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const address of locals) {
    const value = ipv4ToNumber(address);
    if (value === undefined || address.startsWith('127.') || address.startsWith('169.254.')) continue;
    const route = routes.filter((r) => (value & r.mask) >>> 0 === r.destination).sort((a, b) => b.prefix - a.prefix)[0];
    if (!route) continue;
    out.set(route.ifName, [...(out.get(route.ifName) ?? []), `${address}/${route.prefix}`]);
  }
  return out;
}

async function readCapped(path: string): Promise<string> {
  try {
    const text = await readFile(path, 'utf8');
    return text.length > MAX_FILE_BYTES ? text.slice(0, MAX_FILE_BYTES) : text;
  } catch {
    return '';
  }
}

/** Reads the host's interface addresses under a proc root (default /proc; the DaemonSet passes /host/proc). */
export async function readInterfaceAddresses(procRoot: string): Promise<InterfaceAddresses> {
  const net = join(procRoot, '1', 'net');
  const [inet6, fibTrie, route] = await Promise.all([
    readCapped(join(net, 'if_inet6')),
    readCapped(join(net, 'fib_trie')),
    readCapped(join(net, 'route')),
  ]);
  const v4 = ipv4ByInterface(parseFibTrieLocal(fibTrie), parseConnectedRoutes(route));
  const v6 = parseIfInet6(inet6);
  const out = new Map<string, string[]>();
  for (const name of new Set([...v4.keys(), ...v6.keys()]))
    out.set(name, [...(v4.get(name) ?? []), ...(v6.get(name) ?? [])]);
  return out;
}
