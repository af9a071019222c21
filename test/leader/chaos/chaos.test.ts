/**
 * Chaos on a real group: a coordinator and four `lockstep run` members (real processes on loopback, each with its
 * pod IP) running Debian's PyTorch, against the test cluster's API server with the coordinator's RBAC and the members'
 * pod-bound tokens. One group lives through every fault in turn; after each one the group must be whole again in a
 * new epoch, ranks unchanged, the 4-member gloo all-reduce must succeed in that epoch, and no engine process of the
 * old epoch may be left. A second, cheap group crash-loops until its restart budget runs out and reports Failed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT } from '../../../src/cli/exit-codes.js';
import { CONDITION_DEVICES_HEALTHY } from '../../../src/contract/names.js';
import { type ApiServer, startApiServer } from '../../cluster/apiserver/index.js';
import {
  freePort,
  killAll,
  lockstep,
  type Proc,
  recoveryArgs,
  type StartedCoordinator,
  startCoordinator,
} from '../support/processes.js';
import {
  alive,
  clusterCoordinatorArgs,
  createPod,
  groupStatus,
  seedNamespace,
  until,
  writeToken,
} from './group-cluster.js';

const PYTHON = '/usr/bin/python3';
const NS = 'chaos';
const SIZE = 4;
/** What the scheduler writes on a pod no node can take (PodScheduled=False). */
const UNSCHEDULABLE = '0/2 nodes are available: 2 Insufficient nvidia.com/gpu.';

function hasTorch(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import torch.distributed'], { stdio: 'ignore', timeout: 60_000 });
    return true;
  } catch {
    return false;
  }
}

/** The engine: one all-reduce per epoch, then it serves (sleeps) until stopped. */
const ENGINE = [
  'import os, time, torch, torch.distributed as dist',
  'dist.init_process_group("gloo", init_method="env://")',
  'r = dist.get_rank()',
  't = torch.tensor([float(r + 1)])',
  'dist.all_reduce(t)',
  'print(f"allreduce rank={r} world={dist.get_world_size()} sum={t.item():.0f} epoch={os.environ[\'LOCKSTEP_EPOCH\']} pid={os.getpid()}", flush=True)',
  'while True: time.sleep(3600)',
].join('\n');

let api: ApiServer;
let work: string;
let coordinator: StartedCoordinator;
let coordinatorArgs: string[];
const members: Proc[] = [];
const envDirs: string[] = [];
const tokens: string[] = [];
let epoch = 0;
let pids: number[] = [];

const pod = (rank: number) => `llm-${rank}`;

function startMember(rank: number): Proc {
  return lockstep(
    [
      'run',
      '--engine',
      'torch',
      '--grace-period',
      '3s',
      '--leader-address',
      coordinator.address,
      '--pod-name',
      pod(rank),
      '--pod-ip',
      `127.0.0.${70 + rank}`,
      '--namespace',
      NS,
      '--token-file',
      tokens[rank]!,
      '--progress-interval',
      '2s',
      '--',
      PYTHON,
      '-c',
      ENGINE,
    ],
    { LOCKSTEP_ENV_FILE: join(envDirs[rank]!, 'group.env'), GLOO_SOCKET_IFNAME: 'lo', LOCKSTEP_LOG_LEVEL: 'info' },
  );
}

/** Waits until the group runs in an epoch after `after`, and every member's all-reduce succeeded in it. */
async function wholeAgain(after: number): Promise<void> {
  try {
    await wholeAgainOrThrow(after);
  } catch (err) {
    throw new Error(`${String(err)}\nlogs in ${dump()}`);
  }
}

/** Writes every process's output beside the test's work files; returns the directory. */
function dump(): string {
  const dir = mkdtempSync(join(work, 'logs-'));
  writeFileSync(join(dir, 'coordinator.log'), coordinator.proc.stdout() + coordinator.proc.stderr());
  for (const [r, m] of members.entries()) writeFileSync(join(dir, `member-${r}.log`), m.stdout() + m.stderr());
  return dir;
}

async function wholeAgainOrThrow(after: number): Promise<void> {
  const status = await until(
    `the group running in an epoch after ${after}`,
    () => {
      const s = groupStatus(api, NS, pod(0));
      return s && s.state === 'Running' && s.epoch > after ? s : undefined;
    },
    60_000,
  );
  const next = status.epoch;
  const lines = await Promise.all(
    members.map((m, rank) =>
      m.waitFor(new RegExp(`allreduce rank=${rank} world=${SIZE} sum=10 epoch=${next} pid=\\d+`), 60_000),
    ),
  );
  // ranks unchanged: every pod kept its rank
  expect(status.members.map((m) => [m.rank, m.pod])).toEqual([0, 1, 2, 3].map((r) => [r, pod(r)]));
  // nothing of the old epoch survives (orphans of killed wrappers included)
  for (const pid of pids) expect(alive(pid), `engine ${pid} of epoch ${epoch} still runs`).toBe(false);
  pids = lines.map((l) => Number(/pid=(\d+)/.exec(l)?.[1]));
  epoch = next;
}

async function recovering(reason: RegExp): Promise<void> {
  try {
    await until(`the group recovering (${reason})`, () => {
      const s = groupStatus(api, NS, pod(0));
      return s && (s.state === 'Recovering' || s.epoch > epoch) && reason.test(s.lastReason ?? '') ? s : undefined;
    });
  } catch (err) {
    throw new Error(`${String(err)}\nstatus: ${JSON.stringify(groupStatus(api, NS, pod(0)))}\nlogs in ${dump()}`);
  }
}

function restartMember(rank: number, freshPod: boolean): void {
  if (freshPod) {
    // a new pod: fresh emptyDir (no environment file), a token bound to the new pod
    envDirs[rank] = mkdtempSync(join(work, `m${rank}-`));
    tokens[rank] = writeToken(api, NS, pod(rank), work);
  }
  members[rank] = startMember(rank);
}

async function stopped(proc: Proc, signal: NodeJS.Signals): Promise<void> {
  proc.child.kill(signal);
  await proc.exited;
}

describe.skipIf(!hasTorch())('chaos: a 4-member torch group recovers from every fault', () => {
  beforeAll(async () => {
    api = await startApiServer({ namespaces: [NS] });
    seedNamespace(api, NS);
    work = mkdtempSync(join(tmpdir(), 'lockstep-chaos-'));
    for (let r = 0; r < SIZE; r++) {
      createPod(api, NS, pod(r), 'llm');
      envDirs[r] = mkdtempSync(join(work, `m${r}-`));
      tokens[r] = writeToken(api, NS, pod(r), work);
    }
    const port = await freePort();
    coordinatorArgs = [
      ...clusterCoordinatorArgs(api, NS, pod(0)),
      '--group-size',
      String(SIZE),
      '--master-port',
      String(await freePort()),
      ...recoveryArgs({ heartbeatTimeout: '1s', backoffMax: '1s', restartBudget: 20 }),
    ];
    coordinator = await startCoordinator(coordinatorArgs, {}, port);
    for (let r = 0; r < SIZE; r++) members[r] = startMember(r);
    await wholeAgain(0);
  }, 120_000);

  afterAll(async () => {
    killAll();
    // engines are their own process groups: end whatever a failed test left
    for (const pid of pids) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await api?.stop();
  });

  it('kill -9 of a member’s engine', async () => {
    process.kill(pids[1]!, 'SIGKILL');
    await recovering(/rank 1 .*engine killed by SIGKILL/);
    await wholeAgain(epoch);
  }, 90_000);

  it('kill -9 of a member’s run wrapper (its orphaned engine is ended by the restarted wrapper)', async () => {
    await stopped(members[2]!, 'SIGKILL');
    await recovering(/rank 2 .*session broke/);
    restartMember(2, false);
    await wholeAgain(epoch);
  }, 90_000);

  it('a hung member (SIGSTOP) is noticed by its missing heartbeats', async () => {
    const hung = [members[3]!.child.pid!, pids[3]!];
    for (const p of hung) process.kill(p, 'SIGSTOP');
    try {
      await recovering(/rank 3 .*no heartbeat/);
    } finally {
      for (const p of hung) process.kill(p, 'SIGCONT');
    }
    await wholeAgain(epoch);
  }, 90_000);

  it('a deleted member pod is replaced while the others wait in place', async () => {
    const uids = [0, 2, 3].map(
      (r) => (api.store.get('pods', pod(r), NS) as { metadata: { uid?: string } }).metadata.uid,
    );
    api.store.delete('pods', pod(1), NS);
    await recovering(/pod llm-1 was deleted/);
    // what the kubelet and the controller do: the container ends, a new pod of the same name comes
    await stopped(members[1]!, 'SIGTERM');
    createPod(api, NS, pod(1), 'llm');
    // the new pod waits for a node first: the status says so beside the loss, until it is scheduled
    const scheduled = (status: 'True' | 'False') =>
      api.store.patch(
        'pods',
        pod(1),
        {
          status: {
            phase: 'Pending',
            conditions: [
              status === 'True'
                ? { type: 'PodScheduled', status }
                : { type: 'PodScheduled', status, reason: 'Unschedulable', message: UNSCHEDULABLE },
            ],
          },
        },
        'merge',
        { namespace: NS, subresource: 'status' },
      );
    scheduled('False');
    const rank1 = () => groupStatus(api, NS, pod(0))?.members.find((m) => m.rank === 1)?.reason ?? '';
    await until('the lost member’s reason naming its unschedulable pod', () =>
      rank1().endsWith(`; pod now: not scheduled: Unschedulable (${UNSCHEDULABLE})`),
    );
    scheduled('True');
    await until('the note gone once the pod is scheduled', () => !rank1().includes('pod now'));
    restartMember(1, true);
    await wholeAgain(epoch);
    // healthy pods are never recreated
    expect(
      [0, 2, 3].map((r) => (api.store.get('pods', pod(r), NS) as { metadata: { uid?: string } }).metadata.uid),
    ).toEqual(uids);
  }, 90_000);

  it('a member whose GPU turns unhealthy has its pod deleted by the coordinator and comes back', async () => {
    api.store.patch(
      'pods',
      pod(2),
      {
        status: {
          conditions: [
            { type: CONDITION_DEVICES_HEALTHY, status: 'False', reason: 'XID79', message: 'gpu-0 fell off the bus' },
          ],
        },
      },
      'strategic',
      { namespace: NS, subresource: 'status' },
    );
    await recovering(/device unhealthy .*XID79/);
    await until('the coordinator deleting llm-2', () => api.store.find('pods', pod(2), NS) === undefined);
    await stopped(members[2]!, 'SIGTERM');
    createPod(api, NS, pod(2), 'llm');
    restartMember(2, true);
    await wholeAgain(epoch);
  }, 90_000);

  it('a killed coordinator: members stop their engines and join the new one; the epoch keeps increasing', async () => {
    const before = epoch;
    await stopped(coordinator.proc, 'SIGKILL');
    // every engine stops when the coordinator is gone
    await until('every engine stopped after the coordinator died', () => pids.every((p) => !alive(p)), 20_000);
    coordinator = await startCoordinator(coordinatorArgs, {}, coordinator.port);
    await wholeAgain(before);
    expect(epoch).toBe(before + 1);
  }, 90_000);

  it('two members killed at once', async () => {
    await Promise.all([stopped(members[1]!, 'SIGKILL'), stopped(members[3]!, 'SIGKILL')]);
    await recovering(/session broke/);
    restartMember(1, false);
    restartMember(3, false);
    await wholeAgain(epoch);
    const s = groupStatus(api, NS, pod(0));
    expect(s?.restarts).toBeGreaterThan(0);
  }, 90_000);
});

describe('chaos: a member that keeps crashing', () => {
  it('uses up the restart budget; the group reports Failed and every run exits non-zero', async () => {
    const local = await startApiServer({ namespaces: ['crash'], tls: false });
    try {
      seedNamespace(local, 'crash');
      const dir = mkdtempSync(join(tmpdir(), 'lockstep-crash-'));
      for (const r of [0, 1]) createPod(local, 'crash', `crash-${r}`, 'crash');
      const c = await startCoordinator([
        ...clusterCoordinatorArgs(local, 'crash', 'crash-0'),
        '--group-size',
        '2',
        '--restart-budget',
        '2',
        '--backoff-initial',
        '50ms',
      ]);
      const runs = [0, 1].map((r) =>
        lockstep(
          [
            'run',
            '--engine',
            'none',
            '--leader-address',
            c.address,
            '--pod-name',
            `crash-${r}`,
            '--token-file',
            writeToken(local, 'crash', `crash-${r}`, dir),
            '--',
            '/bin/sh',
            '-c',
            // rank 1 crashes at once, every epoch; rank 0 would serve
            r === 1 ? 'exit 3' : 'exec sleep 600',
          ],
          { LOCKSTEP_ENV_FILE: join(dir, `m${r}`, 'group.env') },
        ),
      );
      expect(await Promise.all(runs.map((p) => p.exited))).toEqual([EXIT.groupFailed, EXIT.groupFailed]);
      expect(runs[0]!.stderr()).toMatch(/group crash failed: .*restart budget exhausted: 2 group restarts/);
      const s = await until('a Failed status', () => {
        const v = groupStatus(local, 'crash', 'crash-0');
        return v?.state === 'Failed' ? v : undefined;
      });
      expect(s.lastReason).toMatch(/rank 1 \(pod crash-1\): engine exited with code 3; restart budget exhausted/);
      expect(s.restarts).toBe(2);
      const events = await until('a GroupFailed event', () =>
        local.store
          .list('events', { namespace: 'crash' })
          .find((e) => (e as { reason?: string }).reason === 'GroupFailed'),
      );
      expect((events as { message?: string }).message).toMatch(/restart budget exhausted/);
      // a recreated pod joining the failed group is refused at once with the reason and the group-failed status
      const again = lockstep(
        [
          'bootstrap',
          '--leader-address',
          c.address,
          '--pod-name',
          'crash-1',
          '--token-file',
          writeToken(local, 'crash', 'crash-1', dir),
          '--timeout',
          '60s',
        ],
        { LOCKSTEP_ENV_FILE: join(dir, 'again', 'group.env') },
      );
      expect(await again.exited).toBe(EXIT.groupFailed);
      expect(again.stderr()).toMatch(/error: .*group crash failed: .*restart budget exhausted/);
    } finally {
      killAll();
      await local.stop();
    }
  }, 60_000);
});
