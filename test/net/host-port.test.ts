import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatHostPort, type HostPort, parseHostPort, peerHost } from '../../src/net/host-port.js';

describe('parseHostPort', () => {
  it.each<[string, HostPort]>([
    ['lead.ns:9000', { host: 'lead.ns', port: 9000 }],
    ['10.0.0.5:0', { host: '10.0.0.5', port: 0 }],
    [':8080', { host: '', port: 8080 }],
    ['[::1]:9000', { host: '::1', port: 9000 }],
    ['[fd00::1]', { host: 'fd00::1' }],
    ['vllm-0.vllm.ns', { host: 'vllm-0.vllm.ns' }],
    ['  0.0.0.0:7470 ', { host: '0.0.0.0', port: 7470 }],
    ['h:65535', { host: 'h', port: 65_535 }],
  ])('reads %j', (text, expected) => {
    expect(parseHostPort(text)).toEqual(expected);
  });

  it.each([
    ['a port out of range', 'h:65536'],
    ['a port of six digits', 'h:123456'],
    ['no port after the colon', 'host:'],
    ['an unbracketed IPv6 address with a port (ambiguous)', 'fd00::1:80'],
    ['two colons', 'a:b:c'],
    ['white space inside', 'a b:80'],
    ['an unpaired bracket', '[::1:80'],
    ['a port that is not a number', 'h:http'],
    ['nothing', ''],
  ])('refuses %s', (_why, text) => {
    expect(parseHostPort(text)).toBeUndefined();
  });

  it('reads back every host and port formatHostPort writes (IPv6 bracketed)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.domain(), fc.ipV4(), fc.ipV6()), fc.integer({ min: 0, max: 65_535 }), (host, port) => {
        const text = formatHostPort(host, port);
        expect(text.startsWith('[')).toBe(host.includes(':'));
        expect(parseHostPort(text)).toEqual({ host, port });
      }),
    );
  });

  it('never returns a port above 65535 nor throws, whatever the text', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const parsed = parseHostPort(text);
        if (parsed?.port !== undefined) expect(parsed.port).toBeLessThanOrEqual(65_535);
      }),
    );
  });
});

describe('peerHost', () => {
  it.each([
    ['ipv4:127.0.0.5:41234', '127.0.0.5'],
    ['ipv6:[::1]:4000', '::1'],
    ['127.0.0.5:41234', '127.0.0.5'],
    ['unix:/run/lockstep.sock', 'unix:/run/lockstep.sock'],
  ])('%s → %s', (peer, host) => {
    expect(peerHost(peer)).toBe(host);
  });
});
