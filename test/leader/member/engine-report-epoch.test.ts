/**
 * Two races between a member's session and the coordinator's recovery, each with a real coordinator and real sessions.
 *
 * An engine report names the epoch of the engine it is about, not the session's current epoch. The race it closes: a
 * member's engine dies (epoch 1), the coordinator stops the group and, since that member's engine is already gone,
 * opens epoch 2 as soon as the others stopped. The member's own answer to the Stop of epoch 1 can go out after the
 * Release of epoch 2 reached its session; stamped with the session's epoch it read as "epoch 2's engine stopped", and
 * the coordinator threw epoch 2 away (found under one core: epoch 2 stopped 17 ms after it opened).
 *
 * A member that attaches its run session after the Stop of the epoch it was released for went out still gets that Stop.
 * The race it closes: a member hands over from bootstrap's session to run's; meanwhile another member's engine dies and
 * the Stop goes to the sessions attached at that moment. Run then starts the engine of the release it holds, never
 * stopped, and the group waited for its answer for ever (found under one core: the chaos tests' crash loop and two
 * members killed at once after a coordinator restart hung).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { Coordinator } from '../../../leader/coordinator/coordinator.js';
import { attachSession, joinGroup, type MemberSession } from '../../../leader/member/client.js';
import type { EngineEvent, MemberIdentity, Release, Stop } from '../../../leader/protocol/messages.js';
import { coordinatorOptions } from '../support/coordinator.js';

const stops: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

function identity(pod: string, ip: string): MemberIdentity {
  return { pod, namespace: 'ns', ip, node: 'n1', rankSource: '', devices: [], group: 'g', groupSize: 2, hostname: '' };
}

async function until(what: string, fn: () => boolean): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    if (fn()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

interface RunMember {
  session: MemberSession;
  stops: Stop[];
  releases: Release[];
}

/**
 * Two members formed for real; each keeps a run session that records the coordinator's Stops and Releases. Members
 * in `handingOver` keep bootstrap's session open instead: the test attaches their run session with `attach`.
 */
async function runningGroup(onRelease: (member: number, release: Release) => void, handingOver: number[] = []) {
  const coordinator = new Coordinator(
    coordinatorOptions({
      recovery: {
        heartbeatTimeoutMs: 10_000,
        policy: 'InPlace',
        budget: 10,
        windowMs: 600_000,
        backoffInitialMs: 100,
        backoffMaxMs: 1000,
      },
    }),
  );
  const port = await coordinator.start();
  stops.push(() => coordinator.stop());
  const joined = await Promise.all(
    ['10.0.0.1', '10.0.0.2'].map((ip, i) =>
      joinGroup({
        target: { host: '127.0.0.1', port, source: 'test' },
        identity: identity(`g-${i}`, ip),
        token: '',
        role: 'ROLE_BOOTSTRAP',
        timeoutMs: 10_000,
        progressIntervalMs: 60_000,
        onProgress: () => {},
      }),
    ),
  );
  const attach = (i: number): RunMember => {
    const j = joined[i]!;
    j.session.close();
    const session = attachSession(`127.0.0.1:${port}`, j.reply, 500, 'ROLE_RUN');
    stops.push(() => session.close());
    const member: RunMember = { session, stops: [], releases: [] };
    session.keep(j.release.epoch, {
      onStop: (s) => member.stops.push(s),
      onRelease: (r) => {
        member.releases.push(r);
        onRelease(i, r);
      },
    });
    return member;
  };
  for (const j of joined) stops.push(() => j.session.close());
  const members: RunMember[] = [];
  for (const i of [0, 1]) if (!handingOver.includes(i)) members[i] = attach(i);
  return { coordinator, members, attach };
}

const event = (state: EngineEvent['state'], epoch: number, exit: Partial<EngineEvent> = {}): EngineEvent => ({
  state,
  epoch,
  exitCode: 0,
  signal: '',
  message: '',
  ...exit,
});

describe('engine reports across an epoch change', () => {
  it("a Stop answered after the next epoch's Release is no loss of the new epoch", async () => {
    let victimLate: (() => void) | undefined;
    const { coordinator, members } = await runningGroup((member, release) => {
      // the victim answers epoch 1's Stop only now, with epoch 2 already released to it
      if (member === 1 && release.epoch === 2) victimLate?.();
    });
    const [survivor, victim] = members as [RunMember, RunMember];
    for (const m of members) await m.session.reportEngine(event('ENGINE_RUNNING', 1), 1000);
    await until('epoch 1 running', () => coordinator.table.state === 'Running');

    victimLate = () => {
      void victim.session.reportEngine(event('ENGINE_STOPPED', 1, { message: 'engine killed by SIGKILL' }));
      void victim.session.reportEngine(event('ENGINE_RUNNING', 2));
    };
    await victim.session.reportEngine(event('ENGINE_EXITED', 1, { exitCode: 137, signal: 'SIGKILL' }), 1000);
    await until('the Stop of epoch 1', () => survivor.stops.length === 1);
    await survivor.session.reportEngine(event('ENGINE_STOPPED', 1), 1000);
    await until('epoch 2 released to both', () => members.every((m) => m.releases.some((r) => r.epoch === 2)));
    await survivor.session.reportEngine(event('ENGINE_RUNNING', 2), 1000);

    // long enough for the late report and a heartbeat to be handled
    await new Promise((r) => setTimeout(r, 1200));
    expect(coordinator.table.epoch).toBe(2);
    expect(coordinator.table.state).toBe('Running');
    for (const m of members) {
      expect(m.stops.map((s) => s.epoch)).toEqual([1]);
      expect(m.releases.map((r) => r.epoch)).toEqual([2]);
    }
  });

  it("a stop of the current epoch's engine is still a loss", async () => {
    const { coordinator, members } = await runningGroup(() => {});
    for (const m of members) await m.session.reportEngine(event('ENGINE_RUNNING', 1), 1000);
    await until('epoch 1 running', () => coordinator.table.state === 'Running');
    await members[1]!.session.reportEngine(event('ENGINE_STOPPED', 1, { message: 'health check failed' }), 1000);
    await until('the Stop of epoch 1', () => members.every((m) => m.stops.length === 1));
    expect(members[0]!.stops[0]!.reason).toContain('engine stopped by its wrapper: health check failed');
  });
});

describe('the handover from bootstrap to run', () => {
  it('a run session that attaches after the Stop of its released epoch went out gets that Stop', async () => {
    // member 0 still holds bootstrap's session when member 1's engine dies
    const { coordinator, members, attach } = await runningGroup(() => {}, [0]);
    const victim = members[1]!;
    await victim.session.reportEngine(event('ENGINE_RUNNING', 1), 1000);
    await victim.session.reportEngine(event('ENGINE_EXITED', 1, { exitCode: 137, signal: 'SIGKILL' }), 1000);
    await until('the Stop of epoch 1 at the victim', () => victim.stops.length === 1);
    expect(coordinator.table.state).toBe('Recovering');

    // run's session attaches only now, with the release of epoch 1 in hand (it starts that engine)
    const late = attach(0);
    await until('the Stop of epoch 1 at the late member', () => late.stops.length === 1);
    expect(late.stops[0]).toMatchObject({ epoch: 1, reason: expect.stringContaining('rank 1') });
    // the restart waits for its answer, then opens epoch 2 for both
    await late.session.reportEngine(event('ENGINE_RUNNING', 1), 1000);
    await new Promise((r) => setTimeout(r, 300));
    expect(coordinator.table.epoch).toBe(1);
    await late.session.reportEngine(event('ENGINE_STOPPED', 1, { message: 'rank 1 lost' }), 1000);
    await until('epoch 2 released to both', () => [late, victim].every((m) => m.releases.some((r) => r.epoch === 2)));
    expect(coordinator.table.state).toBe('Running');
  });
});
