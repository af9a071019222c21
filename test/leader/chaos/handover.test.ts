/**
 * The hand-over from bootstrap to run, when the engine container never starts: real coordinator, bootstrap and
 * `lockstep run` processes against the test API server. Both pods' bootstraps are released and exit; only rank 0's
 * engine container starts (`lockstep run` wrapping a Python engine); rank 1's stands in for an image that cannot be
 * pulled. Without a deadline the group would show Running for ever with one engine waiting for a peer that never
 * comes. With `--run-attach-timeout` the member is lost after it, the published status says why (in the kubelet's
 * words: the image pull backing off), rank 0's engine is stopped, and when rank 1's run finally starts the group
 * restarts whole in the next epoch.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startApiServer } from '../../cluster/apiserver/index.js';
import { killAll, lockstep, type Proc, startCoordinator } from '../support/processes.js';
import { clusterCoordinatorArgs, createPod, groupStatus, seedNamespace, until, writeToken } from './group-cluster.js';

const PYTHON = '/usr/bin/python3';
const NS = 'handover';
const PULL_ERROR = 'Back-off pulling image "registry.example/vllm:v9.9"';

/** A Python engine that says which epoch it serves and then sleeps until stopped. */
const ENGINE =
  'import os, time\nprint(f"engine epoch={os.environ[\'LOCKSTEP_EPOCH\']}", flush=True)\nwhile True: time.sleep(3600)';

afterAll(() => killAll());

describe('chaos: an engine container that never starts', () => {
  it('is lost after --run-attach-timeout, and the group restarts whole once its run attaches', async () => {
    const api = await startApiServer({ namespaces: [NS], tls: false });
    try {
      seedNamespace(api, NS);
      const dir = mkdtempSync(join(tmpdir(), 'lockstep-handover-'));
      const pod = (r: number) => `ho-${r}`;
      for (const r of [0, 1]) createPod(api, NS, pod(r), 'ho');
      const coordinator = await startCoordinator([
        ...clusterCoordinatorArgs(api, NS, pod(0)),
        '--group-size',
        '2',
        '--heartbeat-timeout',
        '2s',
        '--run-attach-timeout',
        '3s',
      ]);
      const envFile = (r: number) => join(dir, `m${r}`, 'group.env');
      const token = (r: number) => writeToken(api, NS, pod(r), dir);
      const boots = [0, 1].map((r) =>
        lockstep(
          ['bootstrap', '--leader-address', coordinator.address, '--pod-name', pod(r), '--token-file', token(r)],
          { LOCKSTEP_ENV_FILE: envFile(r) },
        ),
      );
      expect(await Promise.all(boots.map((b) => b.exited))).toEqual([0, 0]);
      // what the kubelet writes while it cannot pull rank 1's engine image
      api.store.patch(
        'pods',
        pod(1),
        {
          status: {
            containerStatuses: [
              {
                name: 'engine',
                ready: false,
                restartCount: 0,
                image: 'registry.example/vllm:v9.9',
                imageID: '',
                state: { waiting: { reason: 'ImagePullBackOff', message: PULL_ERROR } },
              },
            ],
          },
        },
        'merge',
        { namespace: NS, subresource: 'status' },
      );
      /** The engine container's `lockstep run`, started from what bootstrap wrote (as the image's entrypoint does). */
      const run = (r: number): Proc =>
        lockstep(
          [
            'run',
            '--engine',
            'none',
            '--leader-address',
            coordinator.address,
            '--pod-name',
            pod(r),
            '--token-file',
            token(r),
            '--',
            PYTHON,
            '-c',
            ENGINE,
          ],
          { LOCKSTEP_ENV_FILE: envFile(r), LOCKSTEP_LOG_LEVEL: 'info' },
        );
      const leader = run(0);
      await leader.waitFor(/engine epoch=1/, 30_000);

      // rank 1's run never came: after the deadline it is lost, and the status says why
      const lost = JSON.parse(await coordinator.proc.waitFor(/"msg":"member lost"/, 30_000)) as Record<string, unknown>;
      expect(lost).toMatchObject({ pod: pod(1), rank: 1, kind: 'handover' });
      expect(lost.reason).toBe(
        `its lockstep run did not attach within 3s of its release: the engine container did not start (container engine waiting: ImagePullBackOff (${PULL_ERROR}))`,
      );
      const recovering = await until('a Recovering status naming rank 1', () => {
        const s = groupStatus(api, NS, pod(0));
        return s?.state === 'Recovering' ? s : undefined;
      });
      expect(recovering.epoch).toBe(1);
      expect(recovering.lastReason).toBe(`rank 1 (pod ho-1): ${lost.reason}`);
      expect(recovering.members.find((m) => m.rank === 1)).toMatchObject({ ready: false });
      // the engine that waited for its peer is stopped, and no epoch opens without rank 1
      await leader.waitFor(/"epoch":1,.*the coordinator stops the engine/, 20_000);
      expect(leader.stdout()).not.toMatch(/engine epoch=2/);

      // the image is pulled at last: its run starts the release bootstrap got, is stopped, and both restart
      const late = run(1);
      await Promise.all([late.waitFor(/engine epoch=2/, 30_000), leader.waitFor(/engine epoch=2/, 30_000)]);
      const running = await until('a Running status in epoch 2', () => {
        const s = groupStatus(api, NS, pod(0));
        return s?.state === 'Running' && s.epoch === 2 ? s : undefined;
      });
      expect(running.restarts).toBe(1);
      expect(running.goodput?.recoveriesByLoss).toEqual({ handover: 1 });
    } finally {
      killAll();
      await api.stop();
    }
  }, 90_000);
});
