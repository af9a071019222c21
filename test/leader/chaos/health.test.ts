/**
 * Chaos the heartbeats cannot see, on a real group without an API server: a coordinator and two `lockstep run`
 * members on loopback. The wrapper keeps heartbeating while its engine is stopped (SIGSTOP) or while an HTTP engine's
 * /health stops answering; the health checks must notice, open a new epoch and say which check failed. Then the
 * coordinator dies: a member told to terminate while it rejoins exits at once, and the restarted coordinator (no API,
 * so no stored epoch) continues above the epoch the members report.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryStatus } from '../../../leader/member/client.js';
import { readEnvFile } from '../../../leader/member/env-file.js';
import type { StatusReply } from '../../../leader/protocol/messages.js';
import {
  freePort,
  killAll,
  lockstep,
  type Proc,
  recoveryArgs,
  type StartedCoordinator,
  startCoordinator,
} from '../support/processes.js';
import { alive, until } from './group-cluster.js';

const PYTHON = '/usr/bin/python3';

/**
 * The HTTP engine stand-in (standard library only): serves /health with 200, and prints its pid and epoch. When the
 * file HANG_FILE names its epoch, /health stops answering (the handler blocks), as a wedged engine's would.
 */
const STAND_IN = [
  'import http.server, os, sys, time',
  'epoch = os.environ["LOCKSTEP_EPOCH"]; hang = sys.argv[2]',
  'class H(http.server.BaseHTTPRequestHandler):',
  '    def log_message(self, *a): pass',
  '    def do_GET(self):',
  '        try:',
  '            wedged = open(hang).read().strip() == epoch',
  '        except OSError:',
  '            wedged = False',
  '        if wedged: time.sleep(3600)',
  '        self.send_response(200); self.end_headers(); self.wfile.write(b"ok")',
  'print(f"serving epoch={epoch} pid={os.getpid()}", flush=True)',
  'http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H).serve_forever()',
].join('\n');

/** A plain engine: prints its epoch and pid (the shell's, read as cut's parent: run expands `$$`), then sleeps. */
const SLEEPER = [
  '/bin/sh',
  '-c',
  'echo "serving epoch=$LOCKSTEP_EPOCH pid=$(cut -d" " -f4 /proc/self/stat)"; exec sleep 600',
];

let work: string;
let coordinator: StartedCoordinator;
const members: Proc[] = [];
let httpPort = 0;
let hangFile = '';

const FAST_HEALTH = ['--health-period', '200ms', '--health-failures', '2', '--health-timeout', '300ms'];

function member(rank: number, engine: string[], health: string[]): Proc {
  return lockstep(
    [
      'run',
      '--engine',
      'none',
      '--grace-period',
      '2s',
      '--leader-address',
      coordinator.address,
      '--pod-name',
      `hc-${rank}`,
      '--rank',
      String(rank),
      '--timeout',
      '10m',
      ...health,
      '--',
      ...engine,
    ],
    { LOCKSTEP_ENV_FILE: join(work, `m${rank}`, 'group.env'), LOCKSTEP_LOG_LEVEL: 'info' },
  );
}

/** The Status RPC, asked as member 0 (its pod name and session secret from its environment file). */
async function status(): Promise<StatusReply | undefined> {
  const file = await readEnvFile(join(work, 'm0', 'group.env')).catch(() => undefined);
  const as = file?.sessionSecret ? { memberId: file.memberId, sessionSecret: file.sessionSecret } : undefined;
  return queryStatus(coordinator.address, as, 2000).catch(() => undefined);
}

async function poll<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${JSON.stringify(await status())}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function runningAfter(epoch: number): Promise<StatusReply> {
  return poll(
    `the group running after epoch ${epoch}`,
    async () => {
      const s = await status();
      return s && s.state === 'Running' && s.epoch > epoch && s.members.every((m) => m.state === 'Running')
        ? s
        : undefined;
    },
    30_000,
  );
}

const enginePid = async (proc: Proc, epoch: number) =>
  Number(/pid=(\d+)/.exec(await proc.waitFor(new RegExp(`epoch=${epoch} pid=\\d+`), 30_000))?.[1]);

describe('chaos: engines that hang while their wrappers live', () => {
  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'lockstep-health-'));
    hangFile = join(work, 'hang');
    httpPort = await freePort();
    coordinator = await startCoordinator([
      '--group',
      'hc',
      '--group-size',
      '2',
      ...recoveryArgs({ heartbeatTimeout: '2s', restartBudget: 20 }),
    ]);
    // rank 0 serves HTTP (checked over HTTP); rank 1 is a plain process (process state only)
    members[0] = member(
      0,
      [PYTHON, '-c', STAND_IN, String(httpPort), hangFile],
      ['--health', `http:${httpPort}/health`, '--health-start-grace', '20s', ...FAST_HEALTH],
    );
    members[1] = member(1, SLEEPER, FAST_HEALTH);
    await runningAfter(0);
  }, 60_000);

  afterAll(() => {
    killAll();
  });

  it('a stopped engine (SIGSTOP) is found by its process state; a new epoch opens', async () => {
    const pid = await enginePid(members[1]!, 1);
    process.kill(pid, 'SIGSTOP');
    const s = await runningAfter(1);
    expect(s.lastReason).toMatch(
      /rank 1 \(pod hc-1\): engine stopped by its wrapper: health check failed: the engine process is stopped \(state T\), 2 checks in a row/,
    );
    await until('the stopped engine ended', () => !alive(pid), 10_000);
    await enginePid(members[1]!, s.epoch);
  }, 60_000);

  it('an HTTP engine whose /health stops answering is stopped; the reason names the check', async () => {
    const before = (await status())!.epoch;
    await enginePid(members[0]!, before);
    // serving: the monitor's probes pass (which ends its start grace) before the engine wedges. The engine of the
    // epoch the previous test opened may have a pid but not yet be listening, so this waits for its first answer.
    await poll(
      'the engine answering /health',
      async () => {
        const answer = await fetch(`http://127.0.0.1:${httpPort}/health`).catch(() => undefined);
        return answer?.status === 200 ? answer : undefined;
      },
      30_000,
    );
    await new Promise((r) => setTimeout(r, 1000));
    writeFileSync(hangFile, String(before));
    const s = await runningAfter(before);
    expect(s.lastReason).toMatch(
      new RegExp(
        `rank 0 \\(pod hc-0\\): engine stopped by its wrapper: health check GET http://127\\.0\\.0\\.1:${httpPort}/health failed 2 times in a row \\(every 200ms\\): no answer within \\d+ms`,
      ),
    );
    await enginePid(members[0]!, s.epoch);
  }, 60_000);

  it('SIGTERM while rejoining a lost coordinator exits at once; a restarted coordinator continues the epochs', async () => {
    const before = (await status())!.epoch;
    coordinator.proc.child.kill('SIGKILL');
    await coordinator.proc.exited;
    await members[1]!.waitFor(/lost the coordinator/, 20_000);
    // rank 1 rejoins a coordinator that is not there (its --timeout is 10m): SIGTERM must end it now
    members[1]!.child.kill('SIGTERM');
    const code = await Promise.race([
      members[1]!.exited,
      new Promise<string>((r) => setTimeout(() => r('still running 10 s after SIGTERM'), 10_000)),
    ]);
    expect(code).toBe(143);
    coordinator = await startCoordinator(
      ['--group', 'hc', '--group-size', '2', '--backoff-initial', '100ms'],
      {},
      coordinator.port,
    );
    members[1] = member(1, SLEEPER, FAST_HEALTH);
    const s = await runningAfter(0);
    // no API, no stored epoch: the members said which epoch they ran, and the new coordinator went above it
    expect(s.epoch).toBeGreaterThan(before);
  }, 60_000);
});
