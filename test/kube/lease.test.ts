import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isDnsSubdomain } from '../../agent/slices/validate.js';
import { KubeClient } from '../../src/kube/client.js';
import { loadKubeConfig } from '../../src/kube/config.js';
import {
  decideLeaseStep,
  type Lease,
  LeaseHolder,
  type LeaseHolderOptions,
  type LeaseObservation,
  microTime,
  nodeLeaseName,
} from '../../src/kube/lease.js';
import { type ApiServer, startApiServer } from '../cluster/apiserver/index.js';
import { waitFor } from './wait.js';

const NS = 'lockstep-system';

describe('decideLeaseStep', () => {
  const lease = (holder: string | undefined, rv = '7', durationSeconds = 40): Lease => ({
    metadata: { name: 'l', resourceVersion: rv },
    spec: { ...(holder !== undefined ? { holderIdentity: holder } : {}), leaseDurationSeconds: durationSeconds },
  });
  const seen = (rv: string, at: number): LeaseObservation => ({ resourceVersion: rv, observedAt: at });
  const cases: [string, Lease | undefined, LeaseObservation | undefined, number, string][] = [
    ['no lease yet', undefined, undefined, 0, 'create'],
    ['held by me', lease('me'), undefined, 0, 'renew'],
    ['held by me, seen long ago', lease('me'), seen('7', 0), 1e9, 'renew'],
    ['released (no holder)', lease(undefined), undefined, 0, 'take'],
    ['released (empty holder)', lease(''), seen('7', 0), 0, 'take'],
    ['held by another, first sight', lease('old'), undefined, 1e9, 'wait'],
    ['held by another, record changed since', lease('old', '8'), seen('7', 0), 1e9, 'wait'],
    ['held by another, unchanged for less than its duration', lease('old'), seen('7', 1000), 40_999, 'wait'],
    ['held by another, unchanged for its duration', lease('old'), seen('7', 1000), 41_000, 'take'],
    ['held by another, short duration expired', lease('old', '7', 1), seen('7', 0), 1000, 'take'],
  ];
  it.each(cases)('%s → %s', (_what, l, s, now, step) => {
    expect(decideLeaseStep(l, s, 'me', now)).toBe(step);
  });
});

describe('nodeLeaseName and microTime', () => {
  it('joins driver and node into a valid name, hashing node names that make it too long', () => {
    expect(nodeLeaseName('lockstep.dev', 'gpu-node-1')).toBe('lockstep.dev.gpu-node-1');
    const long = `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(61)}`;
    const name = nodeLeaseName('lockstep.dev', long);
    expect(name.length).toBeLessThanOrEqual(253);
    expect(isDnsSubdomain(name)).toBe(true);
    expect(nodeLeaseName('lockstep.dev', `${long.slice(0, -1)}e`)).not.toBe(name);
  });
  it('writes MicroTime with six fractional digits', () => {
    expect(microTime(Date.UTC(2026, 11, 7, 1, 2, 3, 456))).toBe('2026-12-07T01:02:03.456000Z');
  });
});

describe('LeaseHolder against the API server', () => {
  let api: ApiServer;
  let client: KubeClient;
  const holders: LeaseHolder[] = [];

  beforeAll(async () => {
    api = await startApiServer({ namespaces: [NS] });
    client = new KubeClient(loadKubeConfig({ kubeconfig: api.kubeconfigPath }));
  });
  afterEach(async () => {
    await Promise.all(holders.splice(0).map((h) => h.stop()));
    api.faults.reset();
  });
  afterAll(async () => {
    client?.close();
    await api?.stop();
  });

  let leaseCount = 0;
  const fresh = () => `lockstep.dev.node-${++leaseCount}`;
  function holder(name: string, identity: string, extra: Partial<LeaseHolderOptions> = {}): LeaseHolder {
    const h = new LeaseHolder({
      client,
      namespace: NS,
      name,
      identity,
      leaseDurationMs: 1000,
      renewIntervalMs: 150,
      renewDeadlineMs: 600,
      retryIntervalMs: 50,
      ...extra,
    });
    holders.push(h);
    return h;
  }
  const stored = (name: string) => api.store.find('leases', name, NS) as unknown as Lease | undefined;

  it('two candidates racing for a new Lease: exactly one holds it, the other takes over when it stops', async () => {
    const name = fresh();
    const a = holder(name, 'pod-a');
    const b = holder(name, 'pod-b');
    const flips: string[] = [];
    a.subscribe((h) => flips.push(`a:${h}`));
    b.subscribe((h) => flips.push(`b:${h}`));
    a.start();
    b.start();
    await waitFor(() => a.holding || b.holding, 'one holder');
    // several renewals later, still exactly one
    await new Promise((r) => setTimeout(r, 600));
    expect([a.holding, b.holding].filter(Boolean)).toHaveLength(1);
    const [first, second] = a.holding ? [a, b] : [b, a];
    expect(stored(name)?.spec?.holderIdentity).toBe(a.holding ? 'pod-a' : 'pod-b');
    await first.stop();
    await waitFor(() => second.holding, 'the other to take over after the release');
    expect(stored(name)?.spec?.holderIdentity).toBe(first === a ? 'pod-b' : 'pod-a');
    expect(stored(name)?.spec?.leaseTransitions).toBe(1);
    // never both at once
    const holdingNow = new Set<string>();
    for (const f of flips) {
      const [who, state] = f.split(':') as [string, string];
      if (state === 'true') holdingNow.add(who);
      else holdingNow.delete(who);
      expect(holdingNow.size).toBeLessThanOrEqual(1);
    }
  });

  it('a holder that crashed without releasing is replaced only after its record stops changing', async () => {
    const name = fresh();
    api.store.create('leases', {
      metadata: { name, namespace: NS },
      spec: { holderIdentity: 'crashed-pod', leaseDurationSeconds: 1, renewTime: microTime(Date.now()) },
    });
    const candidate = holder(name, 'new-pod');
    candidate.start();
    // while the old holder renews, the candidate waits
    for (let i = 0; i < 8; i++) {
      await new Promise((r) => setTimeout(r, 200));
      api.store.patch('leases', name, { spec: { renewTime: microTime(Date.now()) } }, 'merge', { namespace: NS });
      expect(candidate.holding).toBe(false);
    }
    // it stops renewing (crashed): the candidate takes over after the lease duration
    await waitFor(() => candidate.holding, 'takeover after expiry', 5000);
    expect(stored(name)?.spec?.holderIdentity).toBe('new-pod');
  });

  it('a holder cut off from the API stops holding, and the candidate takes over', async () => {
    const name = fresh();
    const clientA = new KubeClient(
      loadKubeConfig({ kubeconfig: api.kubeconfigFor({ user: 'agent-a', groups: ['system:masters'] }) }),
    );
    try {
      const cutOff = holder(name, 'pod-a', { client: clientA });
      cutOff.start();
      await waitFor(() => cutOff.holding, 'holding');
      const other = holder(name, 'pod-b');
      other.start();
      // pod-a's requests fail from now on (a partition); pod-b's still pass
      api.faults.set({ errorRate: 1, errorCode: 503, match: { resources: ['leases'], users: ['agent-a'] } });
      await waitFor(() => !cutOff.holding, 'the cut-off holder to stop holding', 5000);
      await waitFor(() => other.holding, 'the other to take over once the record stopped changing', 5000);
      expect(stored(name)?.spec?.holderIdentity).toBe('pod-b');
    } finally {
      await Promise.all(holders.splice(0).map((h) => h.stop()));
      clientA.close();
    }
  });

  it('the same pod restarted takes its own Lease back at once', async () => {
    const name = fresh();
    api.store.create('leases', {
      metadata: { name, namespace: NS },
      spec: { holderIdentity: 'pod-uid-1', leaseDurationSeconds: 3600, renewTime: microTime(Date.now()) },
    });
    const restarted = holder(name, 'pod-uid-1');
    restarted.start();
    await waitFor(() => restarted.holding, 'holding its own lease');
    expect(stored(name)?.spec?.leaseTransitions ?? 0).toBe(0);
  });

  it('without RBAC for Leases (403) it runs unguarded rather than never', async () => {
    const name = fresh();
    const noRbac = new KubeClient(loadKubeConfig({ kubeconfig: api.kubeconfigFor('no-lease-rights') }));
    try {
      const h = holder(name, 'pod-a', { client: noRbac });
      h.start();
      await waitFor(() => h.holding, 'unguarded');
      expect(stored(name)).toBeUndefined();
    } finally {
      await Promise.all(holders.splice(0).map((h) => h.stop()));
      noRbac.close();
    }
  });

  it('a namespace that does not exist: unguarded, with nothing created', async () => {
    const h = holder(fresh(), 'pod-a', { namespace: 'no-such-namespace' });
    h.start();
    await waitFor(() => h.holding, 'unguarded');
  });
});
