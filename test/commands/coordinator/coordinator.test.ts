import { afterEach, describe, expect, it } from 'vitest';
import { queryStatus } from '../../../leader/member/client.js';
import { killAll, startCoordinator } from '../../leader/support/processes.js';
import { runBundle } from '../../support/cli.js';

afterEach(killAll);

describe('lockstep coordinator', () => {
  it('needs the group size (exit 2) and says where it can come from', () => {
    const r = runBundle('lockstep', ['coordinator', '--group', 'g']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(
      'error: the group size is unknown: pass --group-size, set LWS_GROUP_SIZE, or run in a pod of a LeaderWorkerSet, StatefulSet or indexed Job with API access',
    );
  });

  it('takes the size from LWS_GROUP_SIZE and the group from the pod name, and answers Status while forming', async () => {
    const c = await startCoordinator(['--pod-name', 'web-0'], { LWS_GROUP_SIZE: '3' });
    expect(await queryStatus(c.address)).toMatchObject({
      protocolVersion: 1,
      group: 'web',
      size: 3,
      epoch: 0,
      state: 'Forming',
      members: [],
    });
  });

  it('stops cleanly on SIGTERM', async () => {
    const c = await startCoordinator(['--group', 'g', '--group-size', '2']);
    c.proc.child.kill('SIGTERM');
    expect(await c.proc.exited).toBe(0);
  });
});
