/**
 * A pod of the group that does not join says why, where users look: a real coordinator on the test API server and a
 * real `lockstep bootstrap` waiting at the barrier. The missing pod's status is written as the scheduler and the
 * kubelet write it (core/v1 PodStatus): first not schedulable for want of GPUs, then scheduled with the lockstep image
 * failing to pull. The waiting member's progress lines and the published group status name the cause each time, and
 * the group forms once the pod joins.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type ApiServer, startApiServer } from '../../cluster/apiserver/index.js';
import {
  clusterCoordinatorArgs,
  createPod,
  groupStatus,
  seedNamespace,
  until,
  writeToken,
} from '../chaos/group-cluster.js';
import { killAll, lockstep, startCoordinator } from '../support/processes.js';

const NS = 'held';
const UNSCHEDULABLE = '0/4 nodes are available: 4 Insufficient nvidia.com/gpu.';
const PULL_ERROR = 'failed to pull and unpack image "registry.example/lockstep:v9": not found';

afterAll(() => killAll());

function writeStatus(api: ApiServer, pod: string, status: Record<string, unknown>): void {
  api.store.patch('pods', pod, { status }, 'merge', { namespace: NS, subresource: 'status' });
}

describe('a pod of the group that does not join', () => {
  it('is named with its cause in the waiting members’ progress and in the group status', async () => {
    const api = await startApiServer({ namespaces: [NS], tls: false });
    try {
      seedNamespace(api, NS);
      const dir = mkdtempSync(join(tmpdir(), 'lockstep-not-joined-'));
      const pod = (r: number) => `held-${r}`;
      for (const r of [0, 1]) createPod(api, NS, pod(r), 'held');
      writeStatus(api, pod(1), {
        phase: 'Pending',
        conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: UNSCHEDULABLE }],
      });
      const coordinator = await startCoordinator([...clusterCoordinatorArgs(api, NS, pod(0)), '--group-size', '2']);
      const bootstrap = (r: number) =>
        lockstep(
          [
            'bootstrap',
            '--leader-address',
            coordinator.address,
            '--pod-name',
            pod(r),
            '--token-file',
            writeToken(api, NS, pod(r), dir),
            '--progress-interval',
            '200ms',
          ],
          { LOCKSTEP_ENV_FILE: join(dir, `m${r}`, 'group.env') },
        );
      const leader = bootstrap(0);
      const unscheduled = `waiting for 1/2 members: missing rank 1 (pod held-1: not scheduled: Unschedulable (${UNSCHEDULABLE}))`;
      await leader.waitFor(new RegExp(inLogLine(unscheduled)));
      const status = await until('the cause in the group status', () => {
        const s = groupStatus(api, NS, pod(0));
        return s?.members[0]?.reason === unscheduled ? s : undefined;
      });
      expect(status.state).toBe('Forming');

      // scheduled now, but its node cannot pull the lockstep image
      writeStatus(api, pod(1), {
        phase: 'Pending',
        conditions: [{ type: 'PodScheduled', status: 'True' }],
        initContainerStatuses: [
          {
            name: 'lockstep-bootstrap',
            ready: false,
            restartCount: 0,
            image: 'registry.example/lockstep:v9',
            imageID: '',
            state: { waiting: { reason: 'ErrImagePull', message: PULL_ERROR } },
          },
        ],
      });
      await leader.waitFor(
        new RegExp(inLogLine(`(pod held-1: init container lockstep-bootstrap waiting: ErrImagePull (${PULL_ERROR}))`)),
      );

      // the image is there at last: the pod joins and the group forms
      const worker = bootstrap(1);
      expect(await Promise.all([leader.exited, worker.exited])).toEqual([0, 0]);
      const formed = await until('a Running status', () => {
        const s = groupStatus(api, NS, pod(0));
        return s?.state === 'Running' ? s : undefined;
      });
      expect(formed.members.map((m) => m.reason)).toEqual([undefined, undefined]);
    } finally {
      killAll();
      await api.stop();
    }
  }, 60_000);
});

/** A pattern for the text as it stands in a JSON log line (quotes escaped). */
function inLogLine(text: string): string {
  return JSON.stringify(text)
    .slice(1, -1)
    .replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
