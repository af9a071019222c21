/**
 * Trust: the coordinator (running as the group's service account, so the deploy/base RBAC applies) admits only pods
 * of its group that present their own projected token; a pod of another group, a forged token, a token of another
 * pod, and no token are refused with the reason (bootstrap exits 4). Plus the pure checks of a TokenReview answer.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { TokenBucket } from '../../../leader/auth/rate-limit.js';
import { checkReview } from '../../../leader/auth/token-review.js';
import { JoinRefused } from '../../../leader/coordinator/group-table.js';
import { EXIT } from '../../../src/cli/exit-codes.js';
import { type ApiServer, startApiServer } from '../../cluster/apiserver/index.js';
import { clusterCoordinatorArgs, createPod, seedNamespace, writeToken } from '../chaos/group-cluster.js';
import { killAll, lockstep, type StartedCoordinator, startCoordinator } from '../support/processes.js';

const NS = 'trust';
let api: ApiServer;
let coordinator: StartedCoordinator;
let dir: string;

beforeAll(async () => {
  api = await startApiServer({ namespaces: [NS], tls: false });
  seedNamespace(api, NS);
  for (const p of ['web-0', 'web-1']) createPod(api, NS, p, 'web');
  createPod(api, NS, 'other-1', 'other');
  dir = mkdtempSync(join(tmpdir(), 'lockstep-trust-'));
  coordinator = await startCoordinator([...clusterCoordinatorArgs(api, NS, 'web-0'), '--group-size', '2']);
});
afterAll(async () => {
  killAll();
  await api?.stop();
});
afterEach(() => {
  // the coordinator lives for the whole file
});

function bootstrap(pod: string, tokenFile: string, rank?: number) {
  return lockstep(
    [
      'bootstrap',
      '--leader-address',
      coordinator.address,
      '--pod-name',
      pod,
      '--namespace',
      NS,
      '--token-file',
      tokenFile,
      '--install-launcher=false',
      '--timeout',
      '20s',
      ...(rank === undefined ? [] : ['--rank', String(rank)]),
    ],
    { LOCKSTEP_ENV_FILE: join(dir, pod, `${Date.now()}`, 'group.env') },
  );
}

describe('who may join', () => {
  it('refuses a pod with no token', async () => {
    const p = bootstrap('web-1', join(dir, 'missing.token'));
    expect(await p.exited).toBe(EXIT.failed);
    expect(p.stderr()).toContain(
      'refused this pod: pod web-1 presented no token: mount a projected service-account token with audience lockstep',
    );
  });

  it('refuses a forged token', async () => {
    const forged = join(dir, 'forged.token');
    const real = writeToken(api, NS, 'web-1', dir);
    // a real token with its signature replaced
    const parts = (await import('node:fs')).readFileSync(real, 'utf8').split('.');
    writeFileSync(forged, `${parts[0]}.${parts[1]}.${Buffer.from('not the signature').toString('base64url')}`);
    const p = bootstrap('web-1', forged);
    expect(await p.exited).toBe(EXIT.failed);
    expect(p.stderr()).toMatch(/refused this pod: pod web-1: its token was not accepted by the API server/);
  });

  it('refuses a member presenting another pod’s token', async () => {
    const p = bootstrap('web-1', writeToken(api, NS, 'other-1', dir));
    expect(await p.exited).toBe(EXIT.failed);
    expect(p.stderr()).toContain('the token of pod other-1 was presented by a member that says it is pod web-1');
  });

  it('refuses a pod of another group, even with its own valid token', async () => {
    const p = bootstrap('other-1', writeToken(api, NS, 'other-1', dir), 1);
    expect(await p.exited).toBe(EXIT.failed);
    expect(p.stderr()).toContain('pod other-1 belongs to group other, not to group web');
  });

  it('refuses a replayed token that claims another IP and node than the API server has for its pod', async () => {
    const created = api.store.create(
      'pods',
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'web-5', namespace: NS, labels: { 'lockstep.dev/group': 'web' } },
        spec: { serviceAccountName: 'llm', nodeName: 'gpu-node-1', containers: [{ name: 'engine', image: 'engine' }] },
      },
      { namespace: NS },
    );
    // the kubelet's status write: the pod's IP is the API's word, not the member's
    const running = { ...created, status: { phase: 'Running', podIP: '10.1.2.3', podIPs: [{ ip: '10.1.2.3' }] } };
    api.store.updateStatus('pods', running);
    const token = writeToken(api, NS, 'web-5', dir);
    const evil = (ip: string, node: string) =>
      lockstep(
        [
          'bootstrap',
          '--leader-address',
          coordinator.address,
          '--pod-name',
          'web-5',
          '--namespace',
          NS,
          '--token-file',
          token,
          '--pod-ip',
          ip,
          '--node-name',
          node,
          '--install-launcher=false',
          '--timeout',
          '20s',
        ],
        { LOCKSTEP_ENV_FILE: join(dir, 'web-5', `${Date.now()}`, 'group.env') },
      );
    const wrongIp = evil('6.6.6.6', 'gpu-node-1');
    expect(await wrongIp.exited).toBe(EXIT.failed);
    expect(wrongIp.stderr()).toContain('pod web-5 says its IP is 6.6.6.6, but the API server gives it 10.1.2.3');
    const wrongNode = evil('10.1.2.3', 'evil-node');
    expect(await wrongNode.exited).toBe(EXIT.failed);
    expect(wrongNode.stderr()).toContain(
      'pod web-5 says it runs on node evil-node, but the API server has it on gpu-node-1',
    );
    expect(coordinator.proc.stdout()).not.toMatch(/"msg":"member joined[^\n]*web-5/);
  });

  it('admits the group’s own pods', async () => {
    const members = ['web-0', 'web-1'].map((p) => bootstrap(p, writeToken(api, NS, p, dir)));
    expect(await Promise.all(members.map((m) => m.exited))).toEqual([0, 0]);
    // every review went through the coordinator's own service account (RBAC: tokenreviews create)
    expect(api.counters.total({ resource: 'tokenreviews', user: `system:serviceaccount:${NS}:llm` })).toBeGreaterThan(
      0,
    );
  });
});

describe('one LeaderWorkerSet, two replicas: two groups', () => {
  const LWS_NAME = 'serve';
  let replica0: StartedCoordinator;

  /** A pod as the LWS controller makes it for replica `g`, worker `w` (the leader is `<lws>-<g>`). */
  const lwsPod = (g: number, w: number) => {
    const name = w === 0 ? `${LWS_NAME}-${g}` : `${LWS_NAME}-${g}-${w}`;
    api.store.create(
      'pods',
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name,
          namespace: NS,
          labels: {
            'lockstep.dev/group': LWS_NAME,
            'leaderworkerset.sigs.k8s.io/name': LWS_NAME,
            'leaderworkerset.sigs.k8s.io/group-index': String(g),
            'leaderworkerset.sigs.k8s.io/worker-index': String(w),
          },
          annotations: { 'leaderworkerset.sigs.k8s.io/size': '2' },
        },
        spec: { serviceAccountName: 'llm', containers: [{ name: 'engine', image: 'engine' }] },
      },
      { namespace: NS },
    );
    return name;
  };

  beforeAll(async () => {
    for (const g of [0, 1]) for (const w of [0, 1]) lwsPod(g, w);
    // no --group, no --group-size: the coordinator reads both from its own pod, as it does in a cluster
    replica0 = await startCoordinator(clusterCoordinatorArgs(api, NS, `${LWS_NAME}-0`));
  });

  const member = (pod: string, rank: number) =>
    lockstep(
      [
        'bootstrap',
        '--leader-address',
        replica0.address,
        '--pod-name',
        pod,
        '--namespace',
        NS,
        '--token-file',
        writeToken(api, NS, pod, dir),
        '--install-launcher=false',
        '--timeout',
        '20s',
        '--rank',
        String(rank),
      ],
      { LOCKSTEP_ENV_FILE: join(dir, pod, `${Date.now()}`, 'group.env') },
    );

  it('replica 0’s coordinator refuses a worker of replica 1, naming both groups', async () => {
    const p = member(`${LWS_NAME}-1-1`, 1);
    expect(await p.exited).toBe(EXIT.failed);
    expect(p.stderr()).toContain(`pod ${LWS_NAME}-1-1 belongs to group ${LWS_NAME}-1, not to group ${LWS_NAME}-0`);
  });

  it('and forms replica 0 from its own leader and worker', async () => {
    const members = [member(`${LWS_NAME}-0`, 0), member(`${LWS_NAME}-0-1`, 1)];
    expect(await Promise.all(members.map((m) => m.exited))).toEqual([0, 0]);
    expect(replica0.proc.stderr() + replica0.proc.stdout()).toContain(`"group":"${LWS_NAME}-0"`);
  });
});

describe('checkReview', () => {
  const ok = {
    authenticated: true,
    audiences: ['lockstep'],
    user: {
      username: 'system:serviceaccount:ns:sa',
      extra: { 'authentication.kubernetes.io/pod-name': ['p-1'], 'authentication.kubernetes.io/pod-uid': ['u1'] },
    },
  };
  const refusal = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      return err instanceof JoinRefused ? `${err.code}: ${err.message}` : String(err);
    }
    return 'admitted';
  };

  it('accepts a pod-bound service-account token of the namespace', () => {
    expect(checkReview(ok, { pod: 'p-1', namespace: 'ns' }, 'lockstep')).toEqual({ pod: 'p-1', uid: 'u1' });
  });

  it('says why everything else is refused', () => {
    const claim = { pod: 'p-1', namespace: 'ns' };
    expect(refusal(() => checkReview({ authenticated: false, error: 'expired' }, claim, 'lockstep'))).toBe(
      'UNAUTHENTICATED: pod p-1: its token was not accepted by the API server: expired',
    );
    expect(refusal(() => checkReview({ ...ok, audiences: ['api'] }, claim, 'lockstep'))).toBe(
      'UNAUTHENTICATED: pod p-1: its token is for api, not for audience lockstep',
    );
    expect(refusal(() => checkReview({ ...ok, user: { username: 'alice' } }, claim, 'lockstep'))).toBe(
      'PERMISSION_DENIED: pod p-1: the token belongs to alice, not to a service account',
    );
    expect(refusal(() => checkReview(ok, { pod: 'p-1', namespace: 'other' }, 'lockstep'))).toMatch(
      /PERMISSION_DENIED: .*service account ns\/sa, outside the group's namespace other/,
    );
    expect(
      refusal(() => checkReview({ ...ok, user: { username: 'system:serviceaccount:ns:sa' } }, claim, 'lockstep')),
    ).toMatch(/PERMISSION_DENIED: pod p-1: the token is not bound to a pod/);
  });

  it('rate-limits with a token bucket', () => {
    let now = 0;
    const bucket = new TokenBucket(2, 1, () => now);
    expect([bucket.take(), bucket.take(), bucket.take()]).toEqual([true, true, false]);
    now = 1000;
    expect([bucket.take(), bucket.take()]).toEqual([true, false]);
  });
});
