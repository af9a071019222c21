/** `lockstep run` as a real process: joins a one-member group by itself, then runs the command. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { queryStatus } from '../../../leader/member/client.js';
import { readEnvFile } from '../../../leader/member/env-file.js';
import { EXIT } from '../../../src/cli/exit-codes.js';
import { killAll, lockstep, startCoordinator } from '../../leader/support/processes.js';

afterEach(killAll);

async function solo(
  pod: string,
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  coordinatorArgs: readonly string[] = [],
) {
  const coordinator = await startCoordinator([
    '--group',
    'solo',
    '--group-size',
    '1',
    '--master-port',
    '29999',
    ...coordinatorArgs,
  ]);
  const envFile = join(mkdtempSync(join(tmpdir(), 'lockstep-run-')), 'group.env');
  const proc = lockstep(
    ['run', '--leader-address', coordinator.address, '--pod-name', pod, '--pod-ip', '127.0.0.70', ...args],
    { LOCKSTEP_ENV_FILE: envFile, ...env },
  );
  return { coordinator, proc, envFile };
}

/** The full status, as the member whose environment file this is may read it. */
async function memberStatus(address: string, envFile: string) {
  const file = await readEnvFile(envFile);
  if (!file?.sessionSecret) throw new Error(`${envFile} carries no session secret`);
  return queryStatus(address, { memberId: file.memberId, sessionSecret: file.sessionSecret });
}

describe('lockstep run', () => {
  it('expands $(VAR) from the group environment without a shell, as the kubelet does', async () => {
    const { proc } = await solo('solo-0', [
      '--',
      process.execPath,
      '-e',
      'console.log(JSON.stringify(process.argv.slice(1)))',
      '$(LOCKSTEP_RANK)@$(MASTER_ADDR):$(MASTER_PORT)',
      '$$(LOCKSTEP_RANK)',
      '$(NOT_SET)',
      '$HOME',
    ]);
    expect(await proc.exited).toBe(0);
    expect(JSON.parse(proc.stdout())).toEqual(['0@127.0.0.70:29999', '$(LOCKSTEP_RANK)', '$(NOT_SET)', '$HOME']);
  });

  it('uses a shell only when asked', async () => {
    const { proc } = await solo('solo-0', ['--shell', '--', 'echo "$LOCKSTEP_GROUP/$WORLD_SIZE"']);
    expect(await proc.exited).toBe(0);
    expect(proc.stdout().trim()).toBe('solo/1');
  });

  it('reports a failed engine to the coordinator, and exits non-zero once the group has no restarts left', async () => {
    // a failed engine is a lost member: the group would restart it; with no budget the group fails at once
    const { proc, coordinator, envFile } = await solo('solo-0', ['--', '/bin/sh', '-c', 'exit 7'], {}, [
      '--restart-budget',
      '0',
    ]);
    expect(await proc.exited).toBe(EXIT.groupFailed);
    expect(proc.stderr()).toContain(
      'error: group solo failed: rank 0 (pod solo-0): engine exited with code 7; restart budget exhausted',
    );
    const status = await memberStatus(coordinator.address, envFile);
    expect(status).toMatchObject({ group: 'solo', epoch: 1, state: 'Failed', restarts: 0 });
    expect(status.lastReason).toMatch(/^rank 0 \(pod solo-0\): engine exited with code 7; restart budget exhausted/);
    expect(status.members).toEqual([
      expect.objectContaining({
        pod: 'solo-0',
        rank: 0,
        ready: false,
        state: 'Exited',
        reason: 'engine stopped: group failed',
      }),
    ]);
  });

  it('forwards SIGTERM to the engine and exits with what the engine returns', async () => {
    const script =
      "process.on('SIGTERM', () => { console.log('engine got SIGTERM'); process.exit(42); }); console.log('ready'); setInterval(() => {}, 1000);";
    const { proc } = await solo('solo-0', ['--', process.execPath, '-e', script]);
    await proc.waitFor(/^ready$/);
    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(42);
    expect(proc.stdout()).toContain('engine got SIGTERM');
  });

  it("keeps the container's own MASTER_ADDR/MASTER_PORT over the group's and says so; a service link does not win", async () => {
    const { proc } = await solo(
      'solo-0',
      [
        '--',
        process.execPath,
        '-e',
        'console.log([process.env.MASTER_ADDR, process.env.MASTER_PORT, process.env.RANK].join(" "))',
      ],
      // MASTER_PORT as the kubelet writes it for a Service named "master": not the user's setting
      { MASTER_ADDR: 'trainer-0.trainer', MASTER_PORT: 'tcp://10.96.0.9:29500', RANK: '0' },
    );
    expect(await proc.exited).toBe(0);
    expect(proc.stdout().trim()).toBe('trainer-0.trainer 29999 0');
    expect(proc.stderr()).toContain("MASTER_ADDR: the container's value wins over the group's");
    expect(proc.stderr()).toContain('"group":"127.0.0.70"');
    expect(proc.stderr()).toContain(
      "MASTER_PORT: the group's value replaces the container's (a Kubernetes service link",
    );
    // the same value is no conflict
    expect(proc.stderr()).not.toContain('RANK:');
  });

  it('refuses a VLLM_PORT that is a service link before starting vLLM (exit 2)', async () => {
    const { proc } = await solo('solo-0', ['--engine', 'vllm', '--', 'vllm', 'serve', 'm'], {
      VLLM_PORT: 'tcp://10.96.0.7:8000',
    });
    expect(await proc.exited).toBe(2);
    expect(proc.stderr()).toMatch(
      /error: VLLM_PORT is "tcp:\/\/10.96.0.7:8000", which vLLM would read as its own port/,
    );
  });

  it('says when the command does not exist, as exit 127 to the coordinator', async () => {
    const { proc, coordinator, envFile } = await solo('solo-0', ['--', 'lockstep-no-such-engine'], {}, [
      '--restart-budget',
      '0',
    ]);
    expect(await proc.exited).toBe(EXIT.groupFailed);
    expect(proc.stderr()).toContain(
      'engine exited with code 127: cannot start lockstep-no-such-engine: command not found',
    );
    expect((await memberStatus(coordinator.address, envFile)).lastReason).toContain(
      'engine exited with code 127: cannot start lockstep-no-such-engine: command not found',
    );
  });

  it("uses bootstrap's environment file without joining again, heartbeats, and reports the engine", async () => {
    const coordinator = await startCoordinator(['--group', 'pair', '--group-size', '1']);
    const envFile = join(mkdtempSync(join(tmpdir(), 'lockstep-run-')), 'group.env');
    const env = { LOCKSTEP_ENV_FILE: envFile };
    const member = ['--leader-address', coordinator.address, '--pod-name', 'pair-0', '--pod-ip', '127.0.0.71'];
    expect(await lockstep(['bootstrap', ...member], env).exited).toBe(0);
    const script = "console.log('ready'); setInterval(() => {}, 1000);";
    const run = lockstep(['run', ...member, '--', process.execPath, '-e', script], env);
    await run.waitFor(/^ready$/);
    const running = await (async () => {
      for (let i = 0; i < 100; i++) {
        const s = await memberStatus(coordinator.address, envFile);
        if (s.members[0]?.state === 'Running') return s;
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error('the member never showed Running');
    })();
    expect(running.members[0]).toMatchObject({ pod: 'pair-0', ready: true, state: 'Running' });
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(143);
    expect(run.stderr()).toContain('using the environment bootstrap wrote');
    // a wrapper told to stop (its pod is terminating) takes its member out of the group: the others will recover
    const after = (await memberStatus(coordinator.address, envFile)).members[0];
    expect(after).toMatchObject({ state: 'Lost', ready: false });
    expect(after?.reason).toMatch(/engine stopped by its wrapper|lockstep run session broke/);
    // one Join only: bootstrap's
    expect(coordinator.proc.stdout().match(/"msg":"member joined/g)).toHaveLength(1);
  });

  it('needs a command', async () => {
    const proc = lockstep(['run']);
    expect(await proc.exited).toBe(2);
    expect(proc.stderr()).toContain("error: missing required argument 'command'");
  });
});
