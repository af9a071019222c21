/**
 * Join floods against the TokenReview authenticator, with the real API server double behind it: an attacker who
 * floods joins in a real member's name must not keep that member out, and must not make the coordinator flood the
 * API server with TokenReviews.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metadata } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ReviewCache, tokenExpiry } from '../../../leader/auth/review-cache.js';
import { tokenReviewAuthenticator } from '../../../leader/auth/token-review.js';
import { JoinRefused } from '../../../leader/coordinator/group-table.js';
import type { Authenticator } from '../../../leader/coordinator/server.js';
import type { MemberIdentity } from '../../../leader/protocol/messages.js';
import { KubeClient } from '../../../src/kube/client.js';
import { loadKubeConfig } from '../../../src/kube/config.js';
import { type ApiServer, startApiServer } from '../../cluster/apiserver/index.js';
import { coordinatorKubeconfig, createPod, seedNamespace, writeToken } from '../chaos/group-cluster.js';

const NS = 'flood';
let api: ApiServer;
let client: KubeClient;
let dir: string;

beforeAll(async () => {
  api = await startApiServer({ namespaces: [NS], tls: false });
  seedNamespace(api, NS);
  for (const p of ['web-0', 'web-1']) createPod(api, NS, p, 'web');
  dir = mkdtempSync(join(tmpdir(), 'lockstep-flood-'));
  client = new KubeClient(loadKubeConfig({ kubeconfig: coordinatorKubeconfig(api, NS), env: {} }));
});
afterAll(async () => {
  client?.close();
  await api?.stop();
});

function identity(pod: string): MemberIdentity {
  return {
    pod,
    namespace: NS,
    ip: '',
    node: '',
    rankSource: '',
    devices: [],
    group: 'web',
    groupSize: 2,
    hostname: '',
  };
}

function authenticator(): Authenticator {
  return tokenReviewAuthenticator({ client, namespace: NS, group: 'web', audience: 'lockstep' });
}

async function attempt(auth: Authenticator, token: string, pod: string, peer: string): Promise<string> {
  try {
    await auth({ token, identity: identity(pod), metadata: new Metadata(), peer });
    return 'OK';
  } catch (err) {
    return err instanceof JoinRefused ? err.code : `other: ${String(err)}`;
  }
}

const reviews = () => api.counters.total({ resource: 'tokenreviews' });

describe('join floods', () => {
  it('1,000 forged joins as web-1 from one address: web-1 itself is admitted at once, reviews stay bounded', async () => {
    const auth = authenticator();
    const before = reviews();
    const flood = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => attempt(auth, `forged.${i}.token`, 'web-1', 'ipv4:10.66.6.6:40000')),
    );
    // the flood's address ran out of joins; what got through was reviewed and refused
    expect(flood.filter((r) => r === 'RESOURCE_EXHAUSTED').length).toBeGreaterThanOrEqual(970);
    expect(flood.filter((r) => r === 'OK')).toEqual([]);
    const real = await attempt(auth, readToken('web-1'), 'web-1', 'ipv4:10.0.0.2:51000');
    expect(real).toBe('OK');
    // one review per join that passed the address limit (a burst of 20, refilled at 10/s while the flood lasts),
    // plus the real member's
    expect(reviews() - before).toBeLessThanOrEqual(30);
  });

  it('1,000 token-less joins as web-1: web-1 itself is admitted at once, and none costs a review', async () => {
    const auth = authenticator();
    const before = reviews();
    const flood = await Promise.all(
      Array.from({ length: 1000 }, () => attempt(auth, '', 'web-1', 'ipv4:10.66.6.7:40000')),
    );
    expect(new Set(flood)).toEqual(new Set(['UNAUTHENTICATED', 'RESOURCE_EXHAUSTED']));
    expect(reviews()).toBe(before);
    expect(await attempt(auth, readToken('web-1'), 'web-1', 'ipv4:10.0.0.2:51001')).toBe('OK');
  });

  it('one token replayed from 1,000 addresses costs one review', async () => {
    const auth = authenticator();
    const stolen = readToken('web-0');
    const before = reviews();
    const results = await Promise.all(
      Array.from({ length: 1000 }, (_, i) =>
        attempt(auth, stolen, 'web-1', `ipv4:10.77.${Math.floor(i / 250)}.${i % 250}:40000`),
      ),
    );
    // the token is web-0's: refused for claiming web-1, every time, from the cached answer
    expect(new Set(results)).toEqual(new Set(['PERMISSION_DENIED']));
    expect(reviews() - before).toBe(1);
  });

  it('a real member joining again and again is limited per pod once authenticated', async () => {
    const auth = authenticator();
    const token = readToken('web-0');
    const results: string[] = [];
    for (let i = 0; i < 8; i++) results.push(await attempt(auth, token, 'web-0', `ipv4:10.0.0.1:${50000 + i}`));
    expect(results.slice(0, 5)).toEqual(['OK', 'OK', 'OK', 'OK', 'OK']);
    expect(results.slice(5)).toContain('RESOURCE_EXHAUSTED');
  });
});

describe('ReviewCache', () => {
  const jwt = (exp: number) => `x.${Buffer.from(JSON.stringify({ exp })).toString('base64url')}.sig`;

  it('keeps an answer for its TTL, never past the token expiry, and forgets the oldest when full', () => {
    let now = 1_000_000;
    const cache = new ReviewCache<string>({ ttlMs: 60_000, capacity: 2, now: () => now });
    cache.set('a', 'A');
    cache.set(jwt(1_010), 'short'); // expires 10 s from now
    expect(cache.get('a')).toBe('A');
    now += 11_000;
    expect(cache.get(jwt(1_010))).toBeUndefined();
    expect(cache.get('a')).toBe('A');
    cache.set('b', 'B');
    cache.set('c', 'C');
    expect(cache.size).toBe(2);
    expect(cache.get('a')).toBeUndefined();
    now += 60_000;
    expect(cache.get('c')).toBeUndefined();
    cache.set(jwt(1), 'expired');
    expect(cache.get(jwt(1))).toBeUndefined();
  });

  it.each([
    ['a JWT with exp', `h.${Buffer.from('{"exp":1700000000}').toString('base64url')}.s`, 1_700_000_000_000],
    ['no JWT', 'opaque-token', undefined],
    ['a payload that is no JSON', 'h.!!!.s', undefined],
    ['exp that is no number', `h.${Buffer.from('{"exp":"soon"}').toString('base64url')}.s`, undefined],
  ])('reads the expiry of %s', (_what, token, expected) => {
    expect(tokenExpiry(token)).toBe(expected);
  });
});

function readToken(pod: string): string {
  return readFileSync(writeToken(api, NS, pod, dir), 'utf8');
}
