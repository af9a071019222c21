/** What the coordinator believes of a joining member's own words (pure; the API-backed case is in token-review.test). */
import { describe, expect, it } from 'vitest';
import { bindClaims, MAX_DEVICES, type VerifiedPod } from '../../../leader/coordinator/claims.js';
import { JoinRefused } from '../../../leader/coordinator/group-table.js';
import type { MemberIdentity } from '../../../leader/protocol/messages.js';

function member(overrides: Partial<MemberIdentity> = {}): MemberIdentity {
  return {
    pod: 'web-1',
    namespace: 'ns',
    ip: '10.0.0.2',
    node: 'node-a',
    rankSource: '',
    devices: [],
    group: 'web',
    groupSize: 2,
    hostname: 'web-1',
    ...overrides,
  };
}

const api: VerifiedPod = { ips: ['10.0.0.2', 'fd00::2'], node: 'node-a' };

describe('bindClaims', () => {
  it.each<[string, Partial<MemberIdentity>, VerifiedPod | undefined, string, Partial<MemberIdentity>]>([
    ['the API agrees with the claims', {}, api, '10.0.0.2', { ip: '10.0.0.2', node: 'node-a' }],
    ['the claim is the pod’s second IP', { ip: 'fd00::2' }, api, '10.0.0.2', { ip: 'fd00::2' }],
    ['no claims: the API fills IP and node', { ip: '', node: '' }, api, '10.9.9.9', { ip: '10.0.0.2', node: 'node-a' }],
    ['no API: the source address, not the claim', { ip: '6.6.6.6' }, undefined, '10.0.0.2', { ip: '10.0.0.2' }],
    ['no API, loopback: the claim (the coordinator’s own pod)', {}, undefined, '127.0.0.1', { ip: '10.0.0.2' }],
    ['no API, loopback, no claim: loopback', { ip: '' }, undefined, '127.0.0.1', { ip: '127.0.0.1' }],
    [
      'the API has no IP yet: the source address',
      { ip: '6.6.6.6' },
      { ips: [], node: '' },
      '10.0.0.2',
      { ip: '10.0.0.2' },
    ],
  ])('admits: %s', (_what, claims, verified, peer, expected) => {
    expect(bindClaims(member(claims), verified, peer)).toMatchObject(expected);
  });

  it.each<[string, Partial<MemberIdentity>, VerifiedPod | undefined, string]>([
    [
      'another IP than the API’s',
      { ip: '6.6.6.6' },
      api,
      'PERMISSION_DENIED: pod web-1 says its IP is 6.6.6.6, but the API server gives it 10.0.0.2, fd00::2',
    ],
    [
      'another node than the API’s',
      { node: 'evil-node' },
      api,
      'PERMISSION_DENIED: pod web-1 says it runs on node evil-node, but the API server has it on node-a',
    ],
    [
      'a 100,000-character pod name',
      { pod: 'w'.repeat(100_000) },
      undefined,
      `INVALID_ARGUMENT: "${'w'.repeat(253)}…(+99747 chars)" is not a pod name`,
    ],
    [
      'escapes in the pod name',
      { pod: 'web-1\u001b[2J' },
      undefined,
      'INVALID_ARGUMENT: "web-1?[2J" is not a pod name',
    ],
    [
      'escapes in the node name',
      { node: '\u001b]0;pwned\u0007' },
      undefined,
      'INVALID_ARGUMENT: pod web-1: "?]0;pwned?" is not a node name',
    ],
    [
      'an IP that is no IP',
      { ip: '10.0.0.2; rm -rf /' },
      undefined,
      'INVALID_ARGUMENT: pod web-1: "10.0.0.2; rm -rf /" is not an IP address',
    ],
    [
      'a namespace that is no name',
      { namespace: 'NS!' },
      undefined,
      'INVALID_ARGUMENT: pod web-1: "NS!" is not a namespace',
    ],
    [
      'too many devices',
      { devices: Array.from({ length: MAX_DEVICES + 1 }, (_, i) => ({ id: `gpu-${i}`, kind: 'gpu' })) },
      undefined,
      `INVALID_ARGUMENT: pod web-1 lists ${MAX_DEVICES + 1} devices (at most ${MAX_DEVICES})`,
    ],
  ])('refuses: %s', (_what, claims, verified, expected) => {
    let thrown: unknown;
    try {
      bindClaims(member(claims), verified, '10.0.0.2');
    } catch (err) {
      thrown = err;
    }
    expect(thrown).toBeInstanceOf(JoinRefused);
    const refusal = thrown as JoinRefused;
    expect(`${refusal.code}: ${refusal.message}`).toBe(expected);
  });

  it('cleans and caps the free-text claims', () => {
    const bound = bindClaims(
      member({ rankSource: `ordinal\u001b[31m ${'x'.repeat(500)}`, devices: [{ id: 'gpu\n0', kind: 'gpu' }] }),
      undefined,
      '127.0.0.1',
    );
    expect(bound.rankSource).toMatch(/^ordinal\?\[31m x+…\(\+\d+ chars\)$/);
    expect(bound.rankSource.length).toBeLessThan(150);
    expect(bound.devices).toEqual([{ id: 'gpu 0', kind: 'gpu' }]);
  });
});
