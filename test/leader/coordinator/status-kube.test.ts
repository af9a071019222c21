/**
 * The coordinator against the test cluster's API server: it reads the group size from the StatefulSet that owns the
 * leader pod, then publishes the group status annotation on the leader pod and lockstep.dev/GroupReady on every
 * member pod while the group forms and once it is released.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type GroupStatus, parseGroupStatus } from '../../../src/contract/group-status.js';
import { ANNOTATION_EPOCH, ANNOTATION_GROUP_STATUS, CONDITION_GROUP_READY } from '../../../src/contract/names.js';
import { type ApiServer, startApiServer } from '../../cluster/apiserver/index.js';
import { killAll, lockstep, startCoordinator } from '../support/processes.js';

let api: ApiServer;

beforeAll(async () => {
  api = await startApiServer({ namespaces: ['ml'] });
});
afterAll(async () => {
  await api?.stop();
});
afterEach(killAll);

interface PodView {
  metadata: { annotations?: Record<string, string> };
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
}

function seed(name: string, size: number): void {
  const sts = api.store.create(
    'statefulsets',
    {
      apiVersion: 'apps/v1',
      kind: 'StatefulSet',
      metadata: { name, namespace: 'ml' },
      spec: {
        replicas: size,
        serviceName: name,
        selector: { matchLabels: { app: name } },
        template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'engine', image: 'vllm' }] } },
      },
    },
    { namespace: 'ml' },
  );
  for (let i = 0; i < size; i++) {
    api.store.create(
      'pods',
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          name: `${name}-${i}`,
          namespace: 'ml',
          labels: { app: name },
          ownerReferences: [
            { apiVersion: 'apps/v1', kind: 'StatefulSet', name, uid: sts.metadata.uid ?? '', controller: true },
          ],
        },
        spec: { containers: [{ name: 'engine', image: 'vllm' }] },
      },
      { namespace: 'ml' },
    );
  }
}

const pod = (name: string) => api.store.get('pods', name, 'ml') as unknown as PodView;
const groupReady = (name: string) => pod(name).status?.conditions?.find((c) => c.type === CONDITION_GROUP_READY);

async function until<T>(what: string, fn: () => T | undefined, timeoutMs = 20_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('group status on the API', () => {
  it('annotates the leader pod and sets GroupReady on every member, while forming and once released', async () => {
    seed('web', 3);
    const work = mkdtempSync(join(tmpdir(), 'lockstep-status-'));
    const coordinator = await startCoordinator([
      '--kubeconfig',
      api.kubeconfigPath,
      '--pod-name',
      'web-0',
      '--namespace',
      'ml',
      // these members present no token: trust is tested in test/leader/auth
      '--authenticate',
      'none',
    ]);
    const join_ = (i: number) =>
      lockstep(
        [
          'bootstrap',
          '--leader-address',
          coordinator.address,
          '--pod-name',
          `web-${i}`,
          '--pod-ip',
          `127.0.0.${80 + i}`,
        ],
        { LOCKSTEP_ENV_FILE: join(work, `m${i}`, 'group.env') },
      );
    const first = [join_(0), join_(2)];
    // forming: the status says who is missing, the members' condition is False
    const forming = await until('a Forming status with 2 members', () => {
      const s = parseGroupStatus(pod('web-0').metadata.annotations?.[ANNOTATION_GROUP_STATUS]);
      return s && s.members.length === 2 ? s : undefined;
    });
    expect(forming).toMatchObject({ group: 'web', namespace: 'ml', size: 3, epoch: 0, state: 'Forming' });
    const waiting = await until('GroupReady False on web-2', () => groupReady('web-2'));
    expect(waiting).toMatchObject({ status: 'False', reason: 'WaitingForMembers' });

    const last = join_(1);
    expect(await Promise.all([...first, last].map((p) => p.exited))).toEqual([0, 0, 0]);
    const released = await until('a Running status', () => {
      const s = parseGroupStatus(pod('web-0').metadata.annotations?.[ANNOTATION_GROUP_STATUS]);
      return s?.state === 'Running' ? s : undefined;
    });
    expect(released).toMatchObject<Partial<GroupStatus>>({ group: 'web', size: 3, epoch: 1, restarts: 0 });
    expect(released.members.map((m) => [m.rank, m.pod, m.address, m.ready])).toEqual([
      [0, 'web-0', '127.0.0.80', true],
      [1, 'web-1', '127.0.0.81', true],
      [2, 'web-2', '127.0.0.82', true],
    ]);
    expect(pod('web-0').metadata.annotations?.[ANNOTATION_EPOCH]).toBe('1');
    for (const name of ['web-0', 'web-1', 'web-2']) {
      const c = await until(`GroupReady True on ${name}`, () =>
        groupReady(name)?.status === 'True' ? groupReady(name) : undefined,
      );
      expect(c).toMatchObject({ reason: 'GroupReleased' });
      expect(c.message).toMatch(/^group web epoch 1: all 3 members released; this pod is rank \d$/);
    }
    // the coordinator read the size from the StatefulSet: it never got --group-size
    expect(coordinator.proc.stdout()).toMatch(/"size":3/);
  });
});
