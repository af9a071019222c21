/**
 * The coordinator's `/metrics` on a real group: a coordinator started with `--metrics-address` and two `lockstep run`
 * members on loopback (no API server). An engine is killed; the scrape must then show one recovery begun by an engine
 * loss, its duration in the histogram, epoch 2 and a serving fraction, and the endpoint must refuse other paths and
 * methods.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { killAll, lockstep, type Proc, startCoordinator } from '../support/processes.js';

/** A plain engine: prints its epoch and pid (the shell's own), then sleeps. */
const SLEEPER = [
  '/bin/sh',
  '-c',
  'echo "serving epoch=$LOCKSTEP_EPOCH pid=$(cut -d" " -f4 /proc/self/stat)"; exec sleep 600',
];

afterAll(() => killAll());

describe('coordinator --metrics-address', () => {
  it('serves the group goodput: recoveries by loss, time to recover, epoch, serving fraction', async () => {
    const work = mkdtempSync(join(tmpdir(), 'lockstep-metrics-'));
    const coordinator = await startCoordinator([
      '--group',
      'gp',
      '--group-size',
      '2',
      '--backoff-initial',
      '100ms',
      '--metrics-address',
      '127.0.0.1:0',
    ]);
    const line = await coordinator.proc.waitFor(/serving the group metrics/);
    const url = `http://127.0.0.1:${/"port":(\d+)/.exec(line)?.[1]}`;
    const members: Proc[] = [0, 1].map((rank) =>
      lockstep(
        [
          'run',
          '--engine',
          'none',
          '--leader-address',
          coordinator.address,
          '--pod-name',
          `gp-${rank}`,
          '--rank',
          String(rank),
          '--',
          ...SLEEPER,
        ],
        { LOCKSTEP_ENV_FILE: join(work, `m${rank}`, 'group.env') },
      ),
    );
    const pid = Number(/pid=(\d+)/.exec(await members[1]!.waitFor(/serving epoch=1 pid=\d+/))?.[1]);
    const before = await (await fetch(`${url}/metrics`)).text();
    expect(before).toMatch(/lockstep_group_epoch\{group="gp",namespace="default"\} 1\n/);
    expect(before).toMatch(/lockstep_group_state\{state="Running",group="gp",namespace="default"\} 1\n/);
    expect(before).not.toContain('lockstep_group_recoveries_total{');
    process.kill(pid, 'SIGKILL');
    await members[1]!.waitFor(/serving epoch=2 pid=\d+/);
    // the release of epoch 2 reached the member: the recovery is complete in the coordinator's table
    const after = await (await fetch(`${url}/metrics`)).text();
    expect(after).toMatch(/lockstep_group_epoch\{group="gp",namespace="default"\} 2\n/);
    expect(after).toMatch(/lockstep_group_recoveries_total\{loss="engine",group="gp",namespace="default"\} 1\n/);
    expect(after).toMatch(/lockstep_group_recovery_duration_seconds_count\{group="gp",namespace="default"\} 1\n/);
    const last = Number(/lockstep_group_last_recovery_seconds\{[^}]*\} ([\d.e-]+)/.exec(after)?.[1]);
    expect(last).toBeGreaterThan(0);
    const fraction = Number(/lockstep_group_serving_fraction\{[^}]*\} ([\d.e-]+)/.exec(after)?.[1]);
    expect(fraction).toBeGreaterThan(0);
    expect(fraction).toBeLessThan(1);
    expect((await fetch(`${url}/`)).status).toBe(404);
    expect((await fetch(`${url}/metrics`, { method: 'POST' })).status).toBe(405);
    for (const m of members) m.child.kill('SIGTERM');
    await Promise.all(members.map((m) => m.exited));
    coordinator.proc.child.kill('SIGTERM');
    expect(await coordinator.proc.exited).toBe(0);
  }, 60_000);

  it('a bad address is a usage error', async () => {
    const c = lockstep(['coordinator', '--group', 'x', '--group-size', '1', '--metrics-address', '9464']);
    expect(await c.exited).toBe(2);
    expect(c.stderr()).toMatch(/error: .*--metrics-address.*"9464" is not a listen address/);
  });
});
