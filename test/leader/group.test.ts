/**
 * Groups forming for real: a coordinator process and member processes (`lockstep bootstrap`) on loopback addresses,
 * each member with its own pod IP (127.0.0.x) and environment file.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { EnvFile } from '../../leader/member/env-file.js';
import { EXIT } from '../../src/cli/exit-codes.js';
import { freePort, killAll, lockstep, type Proc, startCoordinator } from './support/processes.js';

afterEach(killAll);

const dir = () => mkdtempSync(join(tmpdir(), 'lockstep-group-'));

/** Older Nodes took `--env-file` for their own even after the script name; the env twin works everywhere. */
function member(
  workdir: string,
  name: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): { proc: Proc; envFile: string } {
  const envFile = join(workdir, name, 'group.env');
  const proc = lockstep(['bootstrap', '--progress-interval', '300ms', ...args], { LOCKSTEP_ENV_FILE: envFile, ...env });
  return { proc, envFile };
}

const readJson = (envFile: string) => JSON.parse(readFileSync(`${envFile}.json`, 'utf8')) as EnvFile;

describe('group formation on loopback', () => {
  it('forms an LWS-style group of 4; every member sees the right environment', async () => {
    const work = dir();
    const port = await freePort();
    const coordinator = await startCoordinator(
      ['--pod-name', 'vllm-0', '--namespace', 'ns', '--master-port', '29555'],
      // what LWS sets on every container of the leader pod (the address would be vllm-0.vllm.ns in a cluster)
      { LWS_GROUP_SIZE: '4', LWS_LEADER_ADDRESS: `vllm-0:${port}`, LWS_WORKER_INDEX: '0' },
      port,
    );
    const members = [0, 1, 2, 3].map((i) =>
      member(work, `m${i}`, ['--pod-ip', `127.0.0.${20 + i}`, '--devices', '0,1'], {
        LWS_LEADER_ADDRESS: coordinator.address,
        LWS_GROUP_SIZE: '4',
        LWS_WORKER_INDEX: String(i),
        POD_NAME: i === 0 ? 'vllm-0' : `vllm-0-${i}`,
        POD_NAMESPACE: 'ns',
      }),
    );
    expect(await Promise.all(members.map((m) => m.proc.exited))).toEqual([0, 0, 0, 0]);
    const files = members.map((m) => readJson(m.envFile));
    for (const [rank, f] of files.entries()) {
      expect(f).toMatchObject({ group: 'vllm-0', namespace: 'ns', rank, epoch: 1, size: 4 });
      expect(f.env).toMatchObject({
        LOCKSTEP_GROUP: 'vllm-0',
        LOCKSTEP_GROUP_SIZE: '4',
        LOCKSTEP_RANK: String(rank),
        LOCKSTEP_EPOCH: '1',
        LOCKSTEP_LEADER_ADDRESS: '127.0.0.20',
        LOCKSTEP_MEMBERS: '127.0.0.20,127.0.0.21,127.0.0.22,127.0.0.23',
        LOCKSTEP_GROUP_GPUS: '8',
        MASTER_ADDR: '127.0.0.20',
        MASTER_PORT: '29555',
        WORLD_SIZE: '4',
        RANK: String(rank),
        NODE_RANK: String(rank),
        VLLM_HOST_IP: `127.0.0.${20 + rank}`,
        TPU_WORKER_ID: String(rank),
      });
      expect(f.env.LOCKSTEP_VLLM_ARGS?.endsWith('--headless')).toBe(rank !== 0);
      // the shell file carries the same values
      expect(readFileSync(members[rank]!.envFile, 'utf8')).toContain(`export LOCKSTEP_RANK='${rank}'`);
    }
    expect(members[0]!.proc.stdout()).toMatch(/group vllm-0 released: rank 0 of 4, epoch 1/);
  });

  it('numbers StatefulSet pods by their ordinal, whatever the join order, and shows progress while waiting', async () => {
    const work = dir();
    const coordinator = await startCoordinator(['--pod-name', 'web-0', '--group-size', '3']);
    const args = (i: number) => [
      '--leader-address',
      coordinator.address,
      '--pod-name',
      `web-${i}`,
      '--pod-ip',
      `127.0.0.${30 + i}`,
    ];
    const m2 = member(work, 'm2', args(2));
    await m2.proc.waitFor(/waiting for 1\/3 members: missing ranks 0, 1 \(this pod is rank 2\)/);
    const m0 = member(work, 'm0', args(0));
    await m2.proc.waitFor(/waiting for 2\/3 members: missing rank 1 /);
    // the member that joins late still gets the group
    const m1 = member(work, 'm1', args(1));
    expect(await Promise.all([m0.proc.exited, m1.proc.exited, m2.proc.exited])).toEqual([0, 0, 0]);
    expect([m0, m1, m2].map((m) => readJson(m.envFile).rank)).toEqual([0, 1, 2]);
    expect(readJson(m1.envFile).env.LOCKSTEP_MEMBERS).toBe('127.0.0.30,127.0.0.31,127.0.0.32');
  });

  it('waits for a coordinator that starts after the members', async () => {
    const work = dir();
    const port = await freePort();
    const args = (i: number) => [
      '--leader-address',
      `127.0.0.1:${port}`,
      '--pod-name',
      `db-${i}`,
      '--pod-ip',
      `127.0.0.${40 + i}`,
    ];
    const members = [0, 1].map((i) => member(work, `m${i}`, args(i)));
    await members[0]!.proc.waitFor(
      new RegExp(`waiting for the coordinator at 127.0.0.1:${port} \\(--leader-address\\) to come up`),
    );
    await startCoordinator(['--pod-name', 'db-0', '--group-size', '2'], {}, port);
    expect(await Promise.all(members.map((m) => m.proc.exited))).toEqual([0, 0]);
    expect(readJson(members[1]!.envFile).env.MASTER_ADDR).toBe('127.0.0.40');
  });

  it('gives up after the timeout naming the missing ranks (exit 3)', async () => {
    const work = dir();
    const coordinator = await startCoordinator(['--group', 'g', '--group-size', '3']);
    const members = [0, 1].map((i) =>
      member(work, `m${i}`, ['--leader-address', coordinator.address, '--pod-name', `g-${i}`, '--timeout', '3s']),
    );
    expect(await Promise.all(members.map((m) => m.proc.exited))).toEqual([EXIT.unavailable, EXIT.unavailable]);
    expect(members[1]!.proc.stderr()).toContain(
      'error: gave up after 3s: waiting for 2/3 members: missing rank 2 (this pod is rank 1)',
    );
  });

  it('refuses a second pod with the same rank with a clear error (exit 4), and the group still forms', async () => {
    const work = dir();
    const coordinator = await startCoordinator(['--group', 'lws-0', '--group-size', '2']);
    const env = (index: number, pod: string) => ({
      LWS_LEADER_ADDRESS: coordinator.address,
      LWS_WORKER_INDEX: String(index),
      POD_NAME: pod,
    });
    const first = member(work, 'a', ['--pod-ip', '127.0.0.51'], env(1, 'lws-0-1'));
    await first.proc.waitFor(/joined group lws-0 as rank 1/);
    const dup = member(work, 'b', ['--pod-ip', '127.0.0.52'], env(1, 'lws-0-1-copy'));
    expect(await dup.proc.exited).toBe(EXIT.failed);
    expect(dup.proc.stderr()).toContain(
      `error: the coordinator at ${coordinator.address} refused this pod: rank 1 of group lws-0 is already held by pod lws-0-1 (127.0.0.51); pod lws-0-1-copy (127.0.0.52) claims it too (LWS_WORKER_INDEX=1): two pods of one group have the same rank`,
    );
    const leader = member(work, 'c', ['--pod-ip', '127.0.0.50'], env(0, 'lws-0'));
    expect(await Promise.all([first.proc.exited, leader.proc.exited])).toEqual([0, 0]);
  });

  it("retries while the leader's DNS name does not resolve, then says so when it gives up", async () => {
    const work = dir();
    const m = member(work, 'm', [
      '--leader-address',
      'web-0.web.lockstep-test.invalid',
      '--pod-name',
      'web-1',
      '--timeout',
      '2s',
    ]);
    expect(await m.proc.exited).toBe(EXIT.unavailable);
    expect(m.proc.stdout()).toContain("waiting for the leader's DNS name web-0.web.lockstep-test.invalid to resolve");
    expect(m.proc.stderr()).toMatch(
      /error: gave up after 2s: waiting for the leader's DNS name web-0\.web\.lockstep-test\.invalid to resolve \(--leader-address\)/,
    );
  });

  it('refuses a rank outside the group and a member that expects another size', async () => {
    const work = dir();
    const coordinator = await startCoordinator(['--group', 'web', '--group-size', '2']);
    const out = member(work, 'o', ['--leader-address', coordinator.address, '--pod-name', 'web-5']);
    const size = member(work, 's', [
      '--leader-address',
      coordinator.address,
      '--pod-name',
      'web-1',
      '--group-size',
      '3',
    ]);
    expect(await Promise.all([out.proc.exited, size.proc.exited])).toEqual([EXIT.failed, EXIT.failed]);
    expect(out.proc.stderr()).toContain(
      'pod web-5 asks for rank 5 (ordinal of pod web-5), but group web has 2 members (ranks 0-1)',
    );
    expect(size.proc.stderr()).toContain('pod web-1 expects a group of 3 members, but group web has 2');
  });
});
