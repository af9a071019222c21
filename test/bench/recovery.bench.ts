/**
 * Recovery (DESIGN.md budget: member killed → every member's engine stopped ≤ 2 s), and member killed → the group
 * running again in the next epoch, for 8 and 64 members, beside torchrun's elastic agent recovering from the same kill.
 *
 * - lockstep, 8 members: the coordinator and 8 `lockstep run` processes from the bundle on loopback, each wrapping a
 *   small engine (`sh` exec'ing `sleep`, which dies on SIGTERM at once). One engine is killed with SIGKILL; "stopped"
 *   is when no engine process of the old epoch is alive (polled in /proc every 2 ms), "running" is when every member's
 *   new engine printed its start line in the next epoch.
 * - lockstep, 64 members: the coordinator process, and 64 in-process members running the members' own protocol code
 *   (leader/member/client.ts) with virtual engines that stop at once on Stop; one member reports its engine killed.
 *   "stopped" is the last member handling its Stop, "running" the last member receiving the next epoch's Release.
 * - The coordinator runs with --backoff-initial 0 so that the figures show the mechanism; the default policy adds its
 *   first backoff (1 s, doubling per restart in the window) before "running again".
 * - Peer: torchrun (Debian torch 1.13, `--redirects 1 --tee 1`, underscore flags), one elastic agent with 8 workers on
 *   this machine, --max_restarts 100 and its default --monitor_interval (5 s): a worker killed with SIGKILL, "stopped"
 *   when every old worker is gone, "running" when all 8 new workers printed their start line. Not run at 64 (64 Python
 *   workers do not fit this 2-core machine next to everything else).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attachSession, joinGroup, type MemberSession } from '../../leader/member/client.js';
import type { MemberIdentity } from '../../leader/protocol/messages.js';
import { freePort, PYTHON, type Running, start, torchrunAgentArgs } from './processes.js';
import { type Bench, type BenchRow, median } from './report.js';

function alive(pid: number): boolean {
  try {
    return !/\) [ZX] /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs: number, everyMs = 2): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

async function coordinator(root: string, size: number): Promise<{ proc: Running; address: string }> {
  const proc = start(process.execPath, [
    join(root, 'dist', 'lockstep.mjs'),
    'coordinator',
    '--listen',
    '127.0.0.1:0',
    '--group',
    'bench',
    '--group-size',
    String(size),
    // the shortest backoff the flags accept (> 0): the row measures recovery, not waiting
    '--backoff-initial',
    '1ms',
    '--backoff-max',
    '1ms',
    '--restart-budget',
    '1000',
  ]);
  return { proc, address: await listening(proc) };
}

async function listening(proc: Running): Promise<string> {
  return until(
    'the coordinator listening',
    () => {
      const m = /"port":(\d+).*coordinator listening/.exec(proc.out());
      return m ? `127.0.0.1:${m[1]}` : undefined;
    },
    30_000,
    20,
  );
}

interface Sample {
  stopMs: number;
  runMs: number;
}

/** 8 real `lockstep run` members; `reps` engine kills. */
async function lockstepProcesses(root: string, size: number, reps: number): Promise<Sample[]> {
  const { proc, address } = await coordinator(root, size);
  const dir = mkdtempSync(join(tmpdir(), 'lockstep-bench-recovery-'));
  // engine start lines by epoch: epoch → rank → { pid, at }
  const starts = new Map<number, Map<number, { pid: number; at: number }>>();
  const members = Array.from({ length: size }, (_, rank) => {
    const m = start(
      process.execPath,
      [
        join(root, 'dist', 'lockstep.mjs'),
        'run',
        '--engine',
        'none',
        '--leader-address',
        address,
        '--pod-name',
        `bench-${rank}`,
        '--pod-ip',
        `127.0.0.${100 + rank}`,
        '--log-level',
        'warn',
        '--',
        '/bin/sh',
        '-c',
        // $$ is Kubernetes' escape for $ in $(VAR) expansion, so the shell's own pid is $$$$
        'echo "engine pid=$$$$ epoch=$LOCKSTEP_EPOCH"; exec sleep 600',
      ],
      { LOCKSTEP_ENV_FILE: join(dir, `m${rank}`, 'group.env') },
    );
    m.onLine((line, at) => {
      const x = /engine pid=(\d+) epoch=(\d+)/.exec(line);
      if (!x) return;
      const epoch = Number(x[2]);
      const byRank = starts.get(epoch) ?? new Map();
      byRank.set(rank, { pid: Number(x[1]), at });
      starts.set(epoch, byRank);
    });
    return m;
  });
  const samples: Sample[] = [];
  try {
    let epoch = 1;
    await until('the first epoch', () => (starts.get(epoch)?.size ?? 0) === size, 60_000, 20);
    for (let r = 0; r < reps; r++) {
      const engines = [...(starts.get(epoch) ?? new Map()).values()].map((e) => e.pid);
      const victim = engines[1 + (r % (size - 1))]!;
      const t0 = performance.now();
      process.kill(victim, 'SIGKILL');
      await until('every engine stopped', () => engines.every((p) => !alive(p)), 30_000);
      const stopMs = performance.now() - t0;
      const next = epoch + 1;
      await until(`epoch ${next} running`, () => (starts.get(next)?.size ?? 0) === size, 60_000);
      const runMs = Math.max(...[...starts.get(next)!.values()].map((e) => e.at)) - t0;
      samples.push({ stopMs, runMs });
      epoch = next;
    }
  } finally {
    for (const m of members) m.child.kill('SIGTERM');
    await Promise.all(members.map((m) => m.exited));
    proc.child.kill('SIGTERM');
    await proc.exited;
    rmSync(dir, { recursive: true, force: true });
  }
  return samples;
}

function identity(i: number): MemberIdentity {
  return {
    pod: `bench-${i}`,
    namespace: '',
    ip: `127.0.${Math.floor(i / 250)}.${(i % 250) + 2}`,
    node: `node-${i}`,
    rankHint: i,
    rankSource: 'bench',
    devices: [],
    group: 'bench',
    groupSize: 0,
    hostname: '',
  };
}

/** N in-process members with virtual engines; `reps` simulated engine kills. */
async function lockstepInProcess(root: string, size: number, reps: number): Promise<Sample[]> {
  const { proc, address } = await coordinator(root, size);
  const [host, port] = [address.split(':')[0]!, Number(address.split(':')[1])];
  const stops = new Map<number, number[]>();
  const releases = new Map<number, number[]>();
  const sessions: MemberSession[] = [];
  try {
    const joined = await Promise.all(
      Array.from({ length: size }, (_, i) =>
        joinGroup({
          target: { host, port, source: 'bench' },
          identity: identity(i),
          token: '',
          role: 'ROLE_BOOTSTRAP',
          timeoutMs: 60_000,
          progressIntervalMs: 3_600_000,
          onProgress: () => {},
          channelOptions: { 'grpc.use_local_subchannel_pool': 1 },
        }),
      ),
    );
    for (const j of joined) {
      j.session.close();
      const session = attachSession(address, j.reply, j.reply.heartbeatIntervalMs, 'ROLE_RUN');
      let epoch = j.release.epoch;
      session.keep(epoch, {
        onStop: (s) => {
          const list = stops.get(s.epoch) ?? [];
          list.push(performance.now());
          stops.set(s.epoch, list);
          void session.reportEngine({ state: 'ENGINE_STOPPED', exitCode: 0, signal: '', message: '', epoch: s.epoch });
        },
        onRelease: (r) => {
          if (r.epoch <= epoch) return;
          epoch = r.epoch;
          const list = releases.get(r.epoch) ?? [];
          list.push(performance.now());
          releases.set(r.epoch, list);
          void session.reportEngine({ state: 'ENGINE_RUNNING', exitCode: 0, signal: '', message: '', epoch: r.epoch });
        },
      });
      sessions.push(session);
    }
    // every run session attached and running before the first kill
    await new Promise((r) => setTimeout(r, 500));
    let epoch = joined[0]!.release.epoch;
    for (const s of sessions)
      await s.reportEngine({ state: 'ENGINE_RUNNING', exitCode: 0, signal: '', message: '', epoch });
    const samples: Sample[] = [];
    for (let r = 0; r < reps; r++) {
      const victim = sessions[1 + (r % (size - 1))]!;
      const t0 = performance.now();
      await victim.reportEngine({ state: 'ENGINE_EXITED', exitCode: 137, signal: 'SIGKILL', message: '', epoch });
      await until('every member stopped', () => (stops.get(epoch)?.length ?? 0) === size, 30_000);
      const next = epoch + 1;
      await until(`epoch ${next}`, () => (releases.get(next)?.length ?? 0) === size, 30_000);
      samples.push({
        stopMs: Math.max(...stops.get(epoch)!) - t0,
        runMs: Math.max(...releases.get(next)!) - t0,
      });
      epoch = next;
    }
    return samples;
  } finally {
    for (const s of sessions) s.close();
    proc.child.kill('SIGTERM');
    await proc.exited;
  }
}

function hasTorch(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import torch.distributed.run'], { stdio: 'ignore', timeout: 120_000 });
    return true;
  } catch {
    return false;
  }
}

/** torchrun's elastic agent with `size` workers; `reps` worker kills. */
async function torchrunAgent(size: number, reps: number): Promise<Sample[]> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'lockstep-bench-torchrun-'));
  const worker = [
    'import os, time',
    "print(f\"worker rank={os.environ['RANK']} pid={os.getpid()} restart={os.environ['TORCHELASTIC_RESTART_COUNT']}\", flush=True)",
    'time.sleep(600)',
  ].join('\n');
  const agent = start(
    PYTHON,
    [
      '-m',
      'torch.distributed.run',
      ...torchrunAgentArgs({ nnodes: 1, nprocPerNode: size, port, logDir: dir }),
      '--no_python',
      PYTHON,
      '-c',
      worker,
    ],
    // the agent tees workers' lines to its stdout, which Python block-buffers on a pipe
    { PYTHONUNBUFFERED: '1' },
  );
  const starts = new Map<number, Map<number, { pid: number; at: number }>>();
  agent.onLine((line, at) => {
    const x = /worker rank=(\d+) pid=(\d+) restart=(\d+)/.exec(line);
    if (!x) return;
    const restart = Number(x[3]);
    const byRank = starts.get(restart) ?? new Map();
    byRank.set(Number(x[1]), { pid: Number(x[2]), at });
    starts.set(restart, byRank);
  });
  const samples: Sample[] = [];
  try {
    let restart = 0;
    await until('torchrun workers', () => (starts.get(restart)?.size ?? 0) === size, 120_000, 20);
    for (let r = 0; r < reps; r++) {
      const workers = [...starts.get(restart)!.values()].map((w) => w.pid);
      const t0 = performance.now();
      process.kill(workers[1 + (r % (size - 1))]!, 'SIGKILL');
      await until('every worker stopped', () => workers.every((p) => !alive(p)), 60_000);
      const stopMs = performance.now() - t0;
      const next = restart + 1;
      await until(`restart ${next}`, () => (starts.get(next)?.size ?? 0) === size, 60_000);
      const runMs = Math.max(...[...starts.get(next)!.values()].map((w) => w.at)) - t0;
      samples.push({ stopMs, runMs });
      restart = next;
    }
  } finally {
    agent.child.kill('SIGTERM');
    const timer = setTimeout(() => agent.child.kill('SIGKILL'), 10_000);
    await agent.exited;
    clearTimeout(timer);
    rmSync(dir, { recursive: true, force: true });
  }
  return samples;
}

const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
const describe = (values: number[]) =>
  `${fmt(median(values))} median, ${fmt(Math.max(...values))} max (of ${values.length})`;

const bench: Bench = async (ctx) => {
  const reps = ctx.quick ? 3 : 5;
  const rows: BenchRow[] = [];
  ctx.log(`recovery: 8 lockstep run processes, ${reps} engine kills`);
  const eight = await lockstepProcesses(ctx.root, 8, reps);
  ctx.log(`recovery: 64 in-process members, ${reps} kills`);
  const sixtyFour = await lockstepInProcess(ctx.root, 64, reps);
  let peer: Sample[] | undefined;
  if (hasTorch()) {
    ctx.log(`recovery: torchrun elastic agent, 8 workers, ${Math.min(reps, 3)} worker kills`);
    peer = await torchrunAgent(8, Math.min(reps, 3)).catch((err: unknown) => {
      ctx.log(`torchrun peer failed: ${String(err)}`);
      return undefined;
    });
  }
  const stop8 = eight.map((s) => s.stopMs);
  const run8 = eight.map((s) => s.runMs);
  const stop64 = sixtyFour.map((s) => s.stopMs);
  const run64 = sixtyFour.map((s) => s.runMs);
  const peerStop = peer?.map((s) => s.stopMs);
  const peerRun = peer?.map((s) => s.runMs);
  rows.push(
    {
      id: 'recovery.stop.8',
      what: 'engine killed → every engine of the group stopped, 8 `lockstep run` processes',
      budget: '≤ 2 s',
      measured: describe(stop8),
      peer: peerStop ? `torchrun elastic agent, 8 workers: ${describe(peerStop)}` : undefined,
      ratio: peerStop ? median(stop8) / median(peerStop) : undefined,
      withinBudget: Math.max(...stop8) <= 2000,
      data: { stop8, peerStop },
    },
    {
      id: 'recovery.running.8',
      what: 'engine killed → group running again in the next epoch, 8 processes (backoff 0)',
      budget: '',
      measured: describe(run8),
      peer: peerRun ? `torchrun elastic agent, 8 workers: ${describe(peerRun)}` : undefined,
      ratio: peerRun ? median(run8) / median(peerRun) : undefined,
      data: { run8, peerRun },
    },
    {
      id: 'recovery.stop.64',
      what: 'member engine lost → every member stopped, 64 in-process members (protocol path)',
      budget: '≤ 2 s',
      measured: describe(stop64),
      withinBudget: Math.max(...stop64) <= 2000,
      data: { stop64 },
    },
    {
      id: 'recovery.running.64',
      what: 'member engine lost → all 64 in-process members released into the next epoch (backoff 0)',
      budget: '',
      measured: describe(run64),
      data: { run64 },
    },
  );
  return rows;
};

export default bench;
