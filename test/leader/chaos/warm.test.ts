/**
 * The warm standby is the default, and it never outlives its wrapper: a coordinator and two `lockstep run` members
 * (real processes on loopback, no API server) wrapping a Python engine. Each wrapper holds a warm engine (the standby
 * that took epoch 1) and the next standby. Both wrappers are killed with SIGKILL at once, right after the engines
 * printed their first line: the moment a warm engine may not be recorded yet for a successor to end. Every Python
 * process of both trees must be gone, with no restarted wrapper to reap them. `--no-warm` and `--cold` start cold.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { processTree } from '../../support/child-reaper.js';
import { killAll, lockstep, type Proc, startCoordinator } from '../support/processes.js';
import { alive, until } from './group-cluster.js';

const PYTHON = '/usr/bin/python3';

/** A Python engine that says which process runs it and then serves (sleeps) until stopped. */
const ENGINE =
  'import os, time\nprint(f"engine epoch={os.environ[\'LOCKSTEP_EPOCH\']} pid={os.getpid()}", flush=True)\nwhile True: time.sleep(3600)';

const work = mkdtempSync(join(tmpdir(), 'lockstep-warm-chaos-'));
const leftovers: number[] = [];

function member(address: string, group: string, rank: number, extra: string[]): Proc {
  return lockstep(
    [
      'run',
      '--engine',
      'none',
      '--leader-address',
      address,
      '--pod-name',
      `${group}-${rank}`,
      '--rank',
      String(rank),
      // a cheap standard-library import stands in for torch: what is tested is the process handling
      '--warm-import',
      'json',
      ...extra,
      '--',
      PYTHON,
      '-c',
      ENGINE,
    ],
    { LOCKSTEP_ENV_FILE: join(work, group, `m${rank}`, 'group.env'), LOCKSTEP_LOG_LEVEL: 'info' },
  );
}

/** The pid of the process a member's engine runs in, for an epoch. */
const enginePid = async (proc: Proc, epoch: number) =>
  Number(/pid=(\d+)/.exec(await proc.waitFor(new RegExp(`engine epoch=${epoch} pid=\\d+`), 30_000))?.[1]);

/** Whether the wrapper's log says its engine of that epoch started in the standby. */
const startedWarm = async (proc: Proc, epoch: number) =>
  JSON.parse(await proc.waitFor(new RegExp(`"epoch":${epoch}.*"warm":(true|false).*starting the engine`)))
    .warm as boolean;

afterEach(() => {
  killAll();
  for (const pid of leftovers.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
});
afterAll(() => killAll());

describe('chaos: the warm standby', () => {
  it('is the default, and a double SIGKILL of the wrappers leaves no engine and no standby behind', async () => {
    const coordinator = await startCoordinator(['--group', 'wk', '--group-size', '2', '--heartbeat-timeout', '2s']);
    const members = [member(coordinator.address, 'wk', 0, []), member(coordinator.address, 'wk', 1, [])];
    const engines = await Promise.all(members.map((m) => enginePid(m, 1)));
    // each wrapper: its warm engine and, soon after, the next epoch's standby
    const trees = () => members.flatMap((m) => processTree(m.child.pid!).slice(1));
    const python = await until(
      'each wrapper holding its engine and the next standby',
      () => {
        const t = trees();
        return t.length >= 4 ? t : undefined;
      },
      20_000,
    );
    leftovers.push(...python);
    expect(await Promise.all(members.map((m) => startedWarm(m, 1)))).toEqual([true, true]);
    // the engine is the standby's own process: the pid that printed is a direct child of the wrapper
    for (const [rank, pid] of engines.entries()) expect(processTree(members[rank]!.child.pid!)).toContain(pid);
    for (const m of members) m.child.kill('SIGKILL');
    await Promise.all(members.map((m) => m.exited));
    const survivors = await until(
      'every engine and standby gone with its wrapper',
      () => (python.every((p) => !alive(p)) ? [] : undefined),
      10_000,
    ).catch(() => python.filter((p) => alive(p)));
    expect(survivors, 'processes that outlived their SIGKILLed wrapper').toEqual([]);
    coordinator.proc.child.kill('SIGTERM');
  }, 60_000);

  it.each([['--no-warm'], ['--cold']])(
    '%s starts the engine cold',
    async (flag) => {
      const group = `c${flag.length}`;
      const coordinator = await startCoordinator(['--group', group, '--group-size', '1']);
      const m = member(coordinator.address, group, 0, [flag]);
      await enginePid(m, 1);
      expect(await startedWarm(m, 1)).toBe(false);
      // no standby is kept: the wrapper's only child is the engine
      expect(processTree(m.child.pid!).length).toBe(2);
      m.child.kill('SIGTERM');
      expect(await m.exited).toBe(143);
      coordinator.proc.child.kill('SIGTERM');
    },
    60_000,
  );
});
