/**
 * `lockstep coordinator --only-rank n`: one pod template for every pod of a StatefulSet/Job carries the coordinator
 * sidecar; it coordinates in the pod of rank n and idles quietly (exit 0 on SIGTERM) in the others.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { killAll, lockstep } from '../support/processes.js';

afterEach(killAll);

describe('coordinator --only-rank', () => {
  it('idles in a pod of another rank and exits 0 on SIGTERM', async () => {
    const c = lockstep(['coordinator', '--only-rank', '0', '--group-size', '2', '--listen', '127.0.0.1:0'], {
      POD_NAME: 'web-1',
    });
    await c.waitFor(/this pod is rank 1; only rank 0 coordinates: idling until terminated/);
    expect(c.stdout()).not.toContain('coordinator listening');
    c.child.kill('SIGTERM');
    expect(await c.exited).toBe(0);
  });

  it('coordinates in the pod of that rank (LOCKSTEP_RANK from the downward API)', async () => {
    const c = lockstep(
      ['coordinator', '--only-rank', '0', '--group', 'web', '--group-size', '2', '--listen', '127.0.0.1:0'],
      {
        POD_NAME: 'web-0',
        LOCKSTEP_RANK: '0',
      },
    );
    await c.waitFor(/coordinator listening/);
    c.child.kill('SIGTERM');
    expect(await c.exited).toBe(0);
  });

  it('is a usage error when the pod cannot tell its rank', async () => {
    const c = lockstep(['coordinator', '--only-rank', '0', '--group-size', '2'], { POD_NAME: 'leader' });
    expect(await c.exited).toBe(2);
    expect(c.stderr()).toContain("--only-rank 0: this pod's rank is unknown");
  });
});
