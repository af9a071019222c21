/**
 * `--recovery RecreateGroup` against the test cluster's API server: losing one member deletes every pod of the group,
 * the leader last, and once the pods are back (as their StatefulSet would recreate them) and their members rejoin, the
 * group runs again in the next epoch. The coordinator process outlives its deleted pod here (there is no kubelet),
 * which lets the test watch the whole cycle from one coordinator.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type GroupStatus, parseGroupStatus } from '../../../src/contract/group-status.js';
import { ANNOTATION_GROUP_STATUS } from '../../../src/contract/names.js';
import { type ApiServer, startApiServer } from '../../cluster/apiserver/index.js';
import { killAll, lockstep, type Proc, recoveryArgs, startCoordinator } from '../support/processes.js';

let api: ApiServer;

beforeAll(async () => {
  api = await startApiServer({ namespaces: ['ml'] });
});
afterAll(async () => {
  await api?.stop();
});
afterEach(killAll);

const NAME = 'rg';
let stsUid = '';

function createPod(i: number): void {
  api.store.create(
    'pods',
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: `${NAME}-${i}`,
        namespace: 'ml',
        labels: { app: NAME },
        ownerReferences: [{ apiVersion: 'apps/v1', kind: 'StatefulSet', name: NAME, uid: stsUid, controller: true }],
      },
      spec: { containers: [{ name: 'engine', image: 'vllm' }] },
    },
    { namespace: 'ml' },
  );
}

function podExists(i: number): boolean {
  try {
    api.store.get('pods', `${NAME}-${i}`, 'ml');
    return true;
  } catch {
    return false;
  }
}

function status(): GroupStatus | undefined {
  if (!podExists(0)) return undefined;
  const pod = api.store.get('pods', `${NAME}-0`, 'ml') as unknown as {
    metadata: { annotations?: Record<string, string> };
  };
  return parseGroupStatus(pod.metadata.annotations?.[ANNOTATION_GROUP_STATUS]);
}

async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('RecreateGroup recovery', () => {
  it('deletes every pod of the group, leader last, and the group re-forms in the next epoch', async () => {
    const sts = api.store.create(
      'statefulsets',
      {
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: { name: NAME, namespace: 'ml' },
        spec: {
          replicas: 3,
          serviceName: NAME,
          selector: { matchLabels: { app: NAME } },
          template: { metadata: { labels: { app: NAME } }, spec: { containers: [{ name: 'engine', image: 'vllm' }] } },
        },
      },
      { namespace: 'ml' },
    );
    stsUid = sts.metadata.uid ?? '';
    for (const i of [0, 1, 2]) createPod(i);
    const coordinatorArgs = [
      '--kubeconfig',
      api.kubeconfigPath,
      '--pod-name',
      `${NAME}-0`,
      '--namespace',
      'ml',
      '--authenticate',
      'none',
      '--recovery',
      'RecreateGroup',
      ...recoveryArgs({ heartbeatTimeout: '2s' }),
    ];
    const coordinator = await startCoordinator(coordinatorArgs);
    let address = coordinator.address;
    // a fresh env directory per start: a recreated pod starts with an empty volume and joins directly
    const member = (i: number): Proc =>
      lockstep(
        [
          'run',
          '--engine',
          'none',
          '--grace-period',
          '1s',
          '--leader-address',
          address,
          '--pod-name',
          `${NAME}-${i}`,
          '--pod-ip',
          `127.0.0.${90 + i}`,
          '--namespace',
          'ml',
          '--progress-interval',
          '1s',
          '--',
          '/bin/sh',
          '-c',
          'echo "engine epoch $LOCKSTEP_EPOCH rank $LOCKSTEP_RANK"; exec sleep 300',
        ],
        { LOCKSTEP_ENV_FILE: join(mkdtempSync(join(tmpdir(), 'lockstep-rg-')), 'group.env') },
      );
    const first = [0, 1, 2].map(member);
    await until('epoch 1 running', () => status()?.state === 'Running' && status()?.epoch === 1);
    for (const [i, m] of first.entries()) await m.waitFor(new RegExp(`engine epoch 1 rank ${i}`));
    // run starts the engine of the release bootstrap's session got while its own session still connects: a member
    // killed before that session reached the coordinator leaves nothing to notice (in a cluster the pod watch sees the
    // container die; here no kubelet reports it), so the kill waits until every run session reported its engine
    await until('every run session attached', () =>
      [0, 1, 2].every((i) =>
        coordinator.proc
          .stdout()
          .split('\n')
          .some(
            (l) =>
              l.includes('"msg":"engine event"') && l.includes(`"pod":"${NAME}-${i}"`) && l.includes('ENGINE_RUNNING'),
          ),
      ),
    );

    // one member dies: the whole group goes, every pod deleted, the leader's last
    first[2]!.killPod();
    await until('every pod deleted', () => ![0, 1, 2].some(podExists));
    const deleted = await until('three deletions logged', () => {
      const pods = coordinator.proc
        .stdout()
        .split('\n')
        .filter((l) => l.includes('"msg":"deleted the pod"'))
        .map((l) => (JSON.parse(l) as { pod: string }).pod);
      return pods.length === 3 ? pods : undefined;
    });
    expect(new Set(deleted)).toEqual(new Set([`${NAME}-0`, `${NAME}-1`, `${NAME}-2`]));
    expect(deleted.at(-1)).toBe(`${NAME}-0`);
    expect(coordinator.proc.stdout()).not.toMatch(/cannot delete the pod/);

    // the pods' processes die with their pods; the StatefulSet recreates the pods and their members join again
    for (const m of first.slice(0, 2)) m.killPod();
    for (const i of [0, 1, 2]) createPod(i);
    const second = [0, 1, 2].map(member);
    for (const [i, m] of second.entries()) await m.waitFor(new RegExp(`engine epoch 2 rank ${i}`));
    const again = await until('epoch 2 running', () => {
      const s = status();
      return s?.state === 'Running' && s.epoch === 2 ? s : undefined;
    });
    expect(again).toMatchObject({ size: 3, epoch: 2, restarts: 1 });
    expect(again.members.every((m) => m.ready)).toBe(true);
    // the epoch lives on the StatefulSet: the recreated pods started without it
    const stored = api.store.get('statefulsets', NAME, 'ml') as { metadata: { annotations?: Record<string, string> } };
    expect(stored.metadata.annotations?.[`epoch.lockstep.dev/${NAME}`]).toBe('2');

    // the whole group again, with a new coordinator and leader pod that carry no epoch: the group continues at 3
    coordinator.proc.child.kill('SIGKILL');
    for (const m of second) m.killPod();
    for (const i of [0, 1, 2]) api.store.delete('pods', `${NAME}-${i}`, 'ml');
    for (const i of [0, 1, 2]) createPod(i);
    const restarted = await startCoordinator(coordinatorArgs);
    address = restarted.address;
    const third = [0, 1, 2].map(member);
    for (const [i, m] of third.entries()) await m.waitFor(new RegExp(`engine epoch 3 rank ${i}`));
    restarted.proc.child.kill('SIGTERM');
  }, 90_000);
});
