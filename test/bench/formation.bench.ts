/**
 * Group formation (DESIGN.md budgets): last Join → every member released, for 8, 64 and 256 members, beside
 * torchrun's c10d rendezvous of N agents on this machine; and `lockstep bootstrap` process start → Join sent.
 *
 * - The coordinator always runs as its own process (the bundle). At 8 members the members are real `lockstep
 *   bootstrap` processes; at 64 and 256 they are in-process gRPC clients running the members' own code
 *   (leader/member/client.ts), one connection each, in this process.
 * - Peer: `python3 -m torch.distributed.run` agents (Debian torch 1.13: --redirects 1 --tee 1, underscore flags) with a
 *   trivial script; join and completion times come from the c10d rendezvous's own log lines. Each agent is a Python
 *   process that imports torch (~240 MB, seconds of CPU), so on this 2-core machine only small N are feasible.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { joinGroup, queryStatus } from '../../leader/member/client.js';
import type { MemberIdentity } from '../../leader/protocol/messages.js';
import { freePort, PYTHON, type Running, start } from './processes.js';
import { type Bench, type BenchRow, median } from './report.js';

async function coordinatorAt(root: string, size: number): Promise<{ proc: Running; address: string }> {
  const proc = start(
    process.execPath,
    [
      join(root, 'dist/lockstep.mjs'),
      'coordinator',
      '--group',
      'bench',
      '--group-size',
      String(size),
      '--listen',
      '127.0.0.1:0',
    ],
    {},
  );
  const end = Date.now() + 30_000;
  for (;;) {
    const m = /"port":(\d+)/.exec(proc.out());
    if (m) {
      const address = `127.0.0.1:${m[1]}`;
      await queryStatus(address);
      return { proc, address };
    }
    if (Date.now() > end) throw new Error(`coordinator did not start: ${proc.out()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function identity(i: number): MemberIdentity {
  return {
    pod: `bench-${i}`,
    namespace: '',
    ip: `127.0.${Math.floor(i / 250)}.${(i % 250) + 2}`,
    node: '',
    rankHint: i,
    rankSource: 'bench',
    devices: [],
    group: '',
    groupSize: 0,
    hostname: '',
  };
}

/** One formation with in-process members: N-1 join and wait, then the last Join; returns last Join → all released. */
async function formInProcess(root: string, size: number): Promise<number> {
  const { proc, address } = await coordinatorAt(root, size);
  try {
    const [host, port] = [address.split(':')[0]!, Number(address.split(':')[1])];
    const released: number[] = [];
    let joinedCount = 0;
    let allJoined: () => void = () => {};
    const earlyJoined = new Promise<void>((r) => {
      allJoined = r;
    });
    const member = (i: number, onJoinSent?: () => void) =>
      joinGroup({
        target: { host, port, source: 'bench' },
        identity: identity(i),
        token: '',
        role: 'ROLE_BOOTSTRAP',
        timeoutMs: 60_000,
        progressIntervalMs: 3_600_000,
        onProgress: (line) => {
          if (line.startsWith('joined group') && ++joinedCount === size - 1) allJoined();
        },
        onJoinSent,
        channelOptions: { 'grpc.use_local_subchannel_pool': 1 },
      }).then((j) => {
        released.push(performance.now());
        j.session.close();
      });
    const early = Array.from({ length: size - 1 }, (_, i) => member(i + 1));
    await earlyJoined;
    // let every early member attach its session and settle at the barrier
    await new Promise((r) => setTimeout(r, 300));
    let lastJoin = 0;
    await Promise.all([...early, member(0, () => (lastJoin = performance.now()))]);
    return Math.max(...released) - lastJoin;
  } finally {
    proc.child.kill('SIGTERM');
    await proc.exited;
  }
}

/** 8 real bootstrap processes started together: last Join sent → last release, from their wall-clock traces. */
async function formWithProcesses(
  root: string,
  size: number,
): Promise<{ formation: number; written: number; startup: number[] }> {
  const { proc, address } = await coordinatorAt(root, size);
  const dir = mkdtempSync(join(tmpdir(), 'lockstep-bench-'));
  try {
    const members = Array.from({ length: size }, (_, i) =>
      start(
        process.execPath,
        [
          join(root, 'dist/lockstep.mjs'),
          'bootstrap',
          '--leader-address',
          address,
          '--pod-name',
          `bench-${i}`,
          '--pod-ip',
          `127.0.1.${i + 2}`,
          '--log-level',
          'warn',
        ],
        { LOCKSTEP_ENV_FILE: join(dir, `m${i}`, 'group.env'), LOCKSTEP_TRACE_STARTUP: '1' },
      ),
    );
    const codes = await Promise.all(members.map((m) => m.exited));
    if (codes.some((c) => c !== 0)) throw new Error(`bootstrap failed: ${members.map((m) => m.out()).join('\n')}`);
    const trace = (m: Running, what: string) => {
      const line = new RegExp(`lockstep-trace ${what} ([\\d.]+) ([\\d.]+)`).exec(m.out());
      if (!line) throw new Error(`no ${what} trace in: ${m.out()}`);
      return { sinceStart: Number(line[1]), wall: Number(line[2]) };
    };
    const lastJoin = Math.max(...members.map((m) => trace(m, 'join-sent').wall));
    const lastRelease = Math.max(...members.map((m) => trace(m, 'released').wall));
    const lastWritten = Math.max(...members.map((m) => trace(m, 'written').wall));
    return {
      formation: lastRelease - lastJoin,
      written: lastWritten - lastJoin,
      startup: members.map((m) => trace(m, 'join-sent').sinceStart),
    };
  } finally {
    proc.child.kill('SIGTERM');
    await proc.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `lockstep bootstrap` process start → Join sent, against a port nobody listens on (the Join is sent all the same). */
async function bootstrapStartup(root: string, runs: number): Promise<{ startup: number[]; nodeEmpty: number[] }> {
  const startup: number[] = [];
  const nodeEmpty: number[] = [];
  const dead = await freePort();
  for (let i = 0; i < runs; i++) {
    const m = start(
      process.execPath,
      [
        join(root, 'dist/lockstep.mjs'),
        'bootstrap',
        '--leader-address',
        `127.0.0.1:${dead}`,
        '--pod-name',
        'b-1',
        '--timeout',
        '300ms',
        '--log-level',
        'silent',
      ],
      { LOCKSTEP_TRACE_STARTUP: '1', LOCKSTEP_ENV_FILE: join(tmpdir(), 'lockstep-bench-never.env') },
    );
    await m.exited;
    const line = /lockstep-trace join-sent ([\d.]+)/.exec(m.out());
    if (line) startup.push(Number(line[1]));
    // the floor: node itself, printing its own performance.now() at the end of an empty script
    const empty = start(process.execPath, ['-e', 'process.stdout.write(String(performance.now()))'], {});
    await empty.exited;
    nodeEmpty.push(Number(empty.out()));
  }
  return { startup, nodeEmpty };
}

function hasTorch(): boolean {
  try {
    execFileSync(PYTHON, ['-c', 'import torch.distributed.run'], { stdio: 'ignore', timeout: 120_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * torchrun with a c10d rendezvous of `size` agents (one trivial worker each). The agents log, with timestamps, when
 * they attempt to join and when they have joined the round; last join attempt → last completion is the peer figure.
 */
async function torchrunFormation(size: number): Promise<number> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'lockstep-bench-torch-'));
  const wrapper = [
    'import logging, sys, runpy',
    'logging.basicConfig(level=logging.INFO, format="%(created).6f %(message)s")',
    'sys.argv = ["torchrun"] + sys.argv[1:]',
    'runpy.run_module("torch.distributed.run", run_name="__main__")',
  ].join('\n');
  const args = (i: number) => [
    '-c',
    wrapper,
    `--nnodes=${size}`,
    '--nproc_per_node=1',
    '--rdzv_backend=c10d',
    `--rdzv_endpoint=127.0.0.1:${port}`,
    '--rdzv_id=bench',
    '--max_restarts=0',
    '--monitor_interval=1',
    '--redirects=1',
    '--tee=1',
    `--log_dir=${join(dir, `a${i}`)}`,
    '--no_python',
    '/bin/true',
  ];
  try {
    const agents = Array.from({ length: size }, (_, i) => start(PYTHON, args(i), { LOGLEVEL: 'INFO' }));
    const timer = setTimeout(() => {
      for (const a of agents) a.child.kill('SIGKILL');
    }, 240_000);
    const codes = await Promise.all(agents.map((a) => a.exited));
    clearTimeout(timer);
    if (codes.some((c) => c !== 0))
      throw new Error(
        `torchrun failed: ${agents
          .map((a) => a.out())
          .join('\n')
          .slice(-3000)}`,
      );
    const times = (re: RegExp) =>
      agents.map((a) => {
        const line = a
          .out()
          .split('\n')
          .find((l) => re.test(l));
        if (!line) throw new Error(`no line matching ${re}: ${a.out().slice(-2000)}`);
        return Number(line.split(' ')[0]) * 1000;
      });
    const joins = times(/attempts to join the next round/);
    const done = times(/has joined round/);
    return Math.max(...done) - Math.max(...joins);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const ms = (v: number) => `${v.toFixed(1)} ms`;

const bench: Bench = async ({ root, quick, log }) => {
  const rows: BenchRow[] = [];
  const reps = quick ? 3 : 5;

  const torchSizes = quick ? [4] : [8];
  const torchFigures = new Map<number, number>();
  if (hasTorch()) {
    for (const n of torchSizes) {
      const v = await torchrunFormation(n);
      torchFigures.set(n, v);
      log(`torchrun c10d rendezvous, ${n} agents: last join → all joined ${ms(v)}`);
    }
  } else {
    log('python3-torch is not installed: no torchrun peer figure');
  }
  const peerText = (n: number) => {
    const v = torchFigures.get(n);
    if (v !== undefined) return `torchrun c10d, ${n} agents: ${ms(v)}`;
    const [k, w] = [...torchFigures][0] ?? [];
    return k !== undefined && w !== undefined
      ? `torchrun c10d, ${k} agents: ${ms(w)} (${n} torch agents do not fit this 2-core machine)`
      : 'torchrun not available';
  };

  // 8 members as real processes
  const processRuns: number[] = [];
  const writtenRuns: number[] = [];
  const startups: number[] = [];
  for (let i = 0; i < (quick ? 1 : 3); i++) {
    const r = await formWithProcesses(root, 8);
    processRuns.push(r.formation);
    writtenRuns.push(r.written);
    startups.push(...r.startup);
  }
  log(
    `8 bootstrap processes: released ${processRuns.map(ms).join(', ')}; files written ${writtenRuns.map(ms).join(', ')}`,
  );
  const p8 = median(processRuns);
  rows.push({
    id: 'formation.8.processes',
    what: 'group of 8 `lockstep bootstrap` processes started together on loopback: last Join sent → every member holds its release',
    budget: '',
    measured: `${ms(p8)} (median of ${processRuns.length}; env files written: ${ms(median(writtenRuns))})`,
    peer: peerText(8),
    ratio: torchFigures.get(8) !== undefined ? p8 / torchFigures.get(8)! : undefined,
    data: { runs: processRuns, written: writtenRuns, torch: Object.fromEntries(torchFigures) },
  });

  for (const n of quick ? [8, 64] : [8, 64, 256]) {
    const runs: number[] = [];
    for (let i = 0; i < reps; i++) runs.push(await formInProcess(root, n));
    const m = median(runs);
    log(`${n} in-process members: ${runs.map(ms).join(', ')}`);
    rows.push({
      id: `formation.${n}`,
      what: `group of ${n} members (in-process gRPC clients, one connection each; coordinator its own process): last Join → all released`,
      budget: n === 64 ? '≤ 500 ms' : '',
      measured: `${ms(m)} (median of ${runs.length})`,
      peer: peerText(n),
      ratio: torchFigures.get(n) !== undefined ? m / torchFigures.get(n)! : undefined,
      withinBudget: n === 64 ? m <= 500 : undefined,
      data: { runs },
    });
  }

  const { startup, nodeEmpty } = await bootstrapStartup(root, quick ? 5 : 11);
  const s = median(startup);
  log(`bootstrap start → Join sent: ${startup.map(ms).join(', ')}; node empty: ${nodeEmpty.map(ms).join(', ')}`);
  rows.push({
    id: 'bootstrap.startup',
    what: '`lockstep bootstrap` process start → Join sent (bundle, performance.now() at the send)',
    budget: '≤ 200 ms',
    measured: `${ms(s)} (median of ${startup.length}; inside 8-member formations: ${ms(median(startups))})`,
    peer: `node with an empty script: ${ms(median(nodeEmpty))}`,
    ratio: s / median(nodeEmpty),
    withinBudget: s <= 200,
    data: { startup, nodeEmpty, inFormation: startups },
  });
  return rows;
};

export default bench;
