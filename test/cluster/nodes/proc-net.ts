/**
 * The host network namespace's procfs view of a simulated node: `proc/1/net/if_inet6`, `fib_trie` and `route`, in the
 * kernel's formats (net/ipv6/addrconf.c if6_seq_show, net/ipv4/fib_trie.c fib_trie_seq_show, fib_route_seq_show), for
 * the agent's `--proc-root` (agent/discovery/net-addresses.ts). Every physical interface that is up gets an IPv4
 * address in its own /24, a global IPv6 address in its own /64 and a link-local one (which the agent must skip);
 * interfaces that are down get none. Addresses are made up, per node (its name picks the host part).
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface SimulatedAddress {
  ifName: string;
  ipv4: string;
  prefix4: number;
  ipv6: string;
  prefix6: number;
}

function hostPart(nodeName: string): number {
  let hash = 0;
  for (const char of nodeName) hash = (hash * 31 + char.charCodeAt(0)) % 200;
  return 10 + hash;
}

/** Assigns addresses to the up, physical interfaces under `<sys>/class/net`, in name order. */
export async function simulatedAddresses(sysfsRoot: string, nodeName: string): Promise<SimulatedAddress[]> {
  const classNet = join(sysfsRoot, 'class/net');
  const names = (await readdir(classNet).catch(() => [] as string[])).sort();
  const host = hostPart(nodeName);
  const out: SimulatedAddress[] = [];
  for (const ifName of names) {
    if (ifName === 'lo') continue;
    const operstate = (await readFile(join(classNet, ifName, 'operstate'), 'utf8').catch(() => '')).trim();
    const physical = await readFile(join(classNet, ifName, 'device', 'vendor'), 'utf8').then(
      () => true,
      () => false,
    );
    if (operstate !== 'up' || !physical) continue;
    const subnet = out.length + 1;
    out.push({
      ifName,
      ipv4: `10.${100 + subnet}.0.${host}`,
      prefix4: 24,
      ipv6: `fd00:${subnet.toString(16)}::${host.toString(16)}`,
      prefix6: 64,
    });
  }
  return out;
}

function ipv6Hex(address: string): string {
  const [head = '', tail = ''] = address.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = [...left, ...Array(8 - left.length - right.length).fill('0'), ...right];
  return groups.map((group) => group.padStart(4, '0')).join('');
}

function routeHex(address: string): string {
  return address
    .split('.')
    .map((part) => Number(part).toString(16).padStart(2, '0').toUpperCase())
    .reverse()
    .join('');
}

/** Writes `<procRoot>/1/net/{if_inet6,fib_trie,route}` for these addresses (plus loopback). */
export async function writeProcNet(procRoot: string, addresses: readonly SimulatedAddress[]): Promise<void> {
  const net = join(procRoot, '1', 'net');
  await mkdir(net, { recursive: true });
  const inet6 = [`${'0'.repeat(31)}1 01 80 10 80       lo`];
  addresses.forEach((a, i) => {
    const index = (i + 2).toString(16).padStart(2, '0');
    inet6.push(`${ipv6Hex(a.ipv6)} ${index} ${a.prefix6.toString(16)} 00 80 ${a.ifName.padStart(8)}`);
    inet6.push(
      `fe80000000000000000000000000${(i + 2).toString(16).padStart(4, '0')} ${index} 40 20 80 ${a.ifName.padStart(8)}`,
    );
  });
  const subnetOf = (a: SimulatedAddress) => `${a.ipv4.split('.').slice(0, 3).join('.')}.0`;
  const trie = (table: string) => [
    `${table}:`,
    '  +-- 0.0.0.0/0 3 0 5',
    ...addresses.flatMap((a) => [
      `     +-- ${subnetOf(a)}/${a.prefix4} 2 0 2`,
      `        |-- ${subnetOf(a)}`,
      `           /${a.prefix4} link UNICAST`,
      `        |-- ${a.ipv4}`,
      '           /32 host LOCAL',
    ]),
    '     +-- 127.0.0.0/8 2 0 2',
    '        |-- 127.0.0.1',
    '           /32 host LOCAL',
  ];
  const route = [
    'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
    ...(addresses[0]
      ? [
          `${addresses[0].ifName}\t00000000\t${routeHex(`${subnetOf(addresses[0]).slice(0, -1)}1`)}\t0003\t0\t0\t0\t00000000\t0\t0\t0`,
        ]
      : []),
    ...addresses.map(
      (a) => `${a.ifName}\t${routeHex(subnetOf(a))}\t00000000\t0001\t0\t0\t0\t${routeHex('255.255.255.0')}\t0\t0\t0`,
    ),
  ];
  await Promise.all([
    writeFile(join(net, 'if_inet6'), `${inet6.join('\n')}\n`),
    writeFile(join(net, 'fib_trie'), `${[...trie('Main'), ...trie('Local')].join('\n')}\n`),
    writeFile(join(net, 'route'), `${route.join('\n')}\n`),
  ]);
}
