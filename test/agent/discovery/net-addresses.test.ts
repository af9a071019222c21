/**
 * The host's interface addresses from procfs (agent/discovery/net-addresses.ts): the kernel's formats as written by
 * net/ipv6/addrconf.c (if_inet6), net/ipv4/fib_trie.c (fib_trie, route); authored samples in their shape.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  ipv4ByInterface,
  parseConnectedRoutes,
  parseFibTrieLocal,
  parseIfInet6,
  readInterfaceAddresses,
} from '../../../agent/discovery/net-addresses.js';
import { buildSimulatedNode } from '../../cluster/nodes/index.js';

const IF_INET6 = [
  '00000000000000000000000000000001 01 80 10 80       lo',
  'fd000000000000010000000000000005 02 40 00 80 enp26s0np0',
  '2001067c1220080c00000000000000a1 02 7f 00 80 enp26s0np0',
  'fe800000000000000000000000000005 02 40 20 80 enp26s0np0',
  '20010db8000000000001000000000000 03 30 00 80 eth1',
  'garbage line',
].join('\n');

const FIB_TRIE = `Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 10.0.0.0/24 2 0 2
        |-- 10.0.0.0
           /24 link UNICAST
        |-- 10.0.0.5
           /32 host LOCAL
     +-- 127.0.0.0/8 2 0 2
        |-- 127.0.0.1
           /32 host LOCAL
     |-- 192.168.7.9
        /32 host LOCAL
Local:
  +-- 0.0.0.0/0 3 0 5
        |-- 10.0.0.5
           /32 host LOCAL
`;

const ROUTE = [
  'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT',
  'enp26s0np0\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0',
  'enp26s0np0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0',
  'eth9\t0000000A\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0',
  'bad\t0000000A\t00000000\t0001\t0\t0\t0\t00FF00FF\t0\t0\t0',
].join('\n');

describe('procfs interface addresses', () => {
  it('reads global IPv6 addresses in canonical CIDR form and skips link-local and loopback', () => {
    expect(Object.fromEntries(parseIfInet6(IF_INET6))).toEqual({
      enp26s0np0: ['fd00:0:0:1::5/64', '2001:67c:1220:80c::a1/127'],
      eth1: ['2001:db8:0:0:1::/48'],
    });
  });

  it('reads the local IPv4 addresses once each, loopback filtered later', () => {
    expect(parseFibTrieLocal(FIB_TRIE)).toEqual(['10.0.0.5', '127.0.0.1', '192.168.7.9']);
  });

  it('puts each address on the interface of the longest connected route holding it', () => {
    const routes = parseConnectedRoutes(ROUTE);
    expect(routes.map((r) => [r.ifName, r.prefix])).toEqual([
      ['enp26s0np0', 24],
      ['eth9', 8],
    ]);
    expect(Object.fromEntries(ipv4ByInterface(parseFibTrieLocal(FIB_TRIE), routes))).toEqual({
      enp26s0np0: ['10.0.0.5/24'],
    });
  });

  it('writes IPv6 as the WHATWG URL parser canonicalises it (RFC 5952)', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(0, 0, 0, 1, 0xabc, 0xffff), { minLength: 8, maxLength: 8 }), (groups) => {
        const hex = groups.map((g) => g.toString(16).padStart(4, '0')).join('');
        const [cidr] = parseIfInet6(`${hex} 02 40 00 80 eth0`).get('eth0') ?? [];
        const canonical = new URL(`http://[${groups.map((g) => g.toString(16)).join(':')}]/`).hostname.slice(1, -1);
        expect(cidr).toBe(`${canonical}/64`);
      }),
    );
  });

  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (text) => {
        parseIfInet6(text);
        parseFibTrieLocal(text);
        parseConnectedRoutes(text);
      }),
    );
  });

  it("reads a simulated node's proc root; a missing one reads as no addresses", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'net-addresses-'));
    try {
      const node = await buildSimulatedNode('h100-hgx', join(dir, 'node'), { nodeName: 'n1' });
      const read = await readInterfaceAddresses(node.procRoot);
      expect(node.addresses.length).toBeGreaterThan(8);
      for (const a of node.addresses) {
        expect(read.get(a.ifName)).toEqual([`${a.ipv4}/${a.prefix4}`, `${a.ipv6}/${a.prefix6}`]);
      }
      expect((await readInterfaceAddresses(join(dir, 'absent'))).size).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
