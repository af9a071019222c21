/**
 * The recovery reducer on plain data: every loss kind in every group state, and the sequences that matter (immediate
 * first restart, backoff from the second failure in a row, budget, two losses at once, a restarted coordinator,
 * persisted epochs, RecreateGroup). A small simulator applies the actions to a fake member table the way the shell
 * applies them to GroupTable.
 */
import { describe, expect, it } from 'vitest';
import type { MemberState } from '../../../leader/coordinator/group-table.js';
import {
  type GroupView,
  initialRecoveryState,
  LOSS_KINDS,
  type LossKind,
  type RecoveryAction,
  type RecoveryConfig,
  type RecoveryEvent,
  type RecoveryState,
  reduce,
} from '../../../leader/coordinator/recovery-reducer.js';
import type { GroupState } from '../../../src/contract/group-status.js';

const BASE: RecoveryConfig = {
  heartbeatTimeoutMs: 1000,
  runAttachTimeoutMs: 60_000,
  policy: 'InPlace',
  stopGraceMs: 0,
  persistEpochs: false,
  healthyAfterMs: 10_000,
  budget: 3,
  windowMs: 600_000,
  backoffInitialMs: 1000,
  backoffMaxMs: 8000,
};

type Body = RecoveryEvent extends infer E ? (E extends RecoveryEvent ? Omit<E, 'now'> : never) : never;

interface FakeMember {
  id: string;
  rank: number;
  state: MemberState;
  lastSeen: number;
}

/** The reducer plus a fake table: what the shell does, without gRPC or timers. */
class Sim {
  state: RecoveryState = initialRecoveryState();
  now = 1_000_000;
  epoch: number;
  floor = 0;
  lastReason: string | undefined;
  readonly members: FakeMember[];
  /** every action, in order */
  readonly log: RecoveryAction[] = [];
  last: RecoveryAction[] = [];
  timerAt: number | undefined;

  constructor(
    readonly config: RecoveryConfig = BASE,
    size = 4,
    epoch = 0,
  ) {
    this.epoch = epoch;
    this.members = Array.from({ length: size }, (_, r) => ({ id: `p${r}`, rank: r, state: 'Joined', lastSeen: 0 }));
  }

  view(): GroupView {
    return {
      epoch: this.epoch,
      nextEpoch: Math.max(this.epoch, this.floor) + 1,
      size: this.members.length,
      lastReason: this.lastReason,
      members: this.members.map((m) => ({ ...m })),
    };
  }

  get phase(): GroupState {
    return this.state.phase;
  }

  step(event: Body): RecoveryAction[] {
    if (event.kind === 'engine' && (!event.engine.epoch || event.engine.epoch === this.epoch)) {
      // what GroupTable.recordEngine does before the server calls the hook
      const m = this.members.find((x) => x.id === event.id)!;
      m.state = event.engine.state === 'ENGINE_RUNNING' ? 'Running' : 'Exited';
    }
    const before = this.state;
    const frozen = JSON.stringify(before);
    const out = reduce(before, { ...event, now: this.now } as RecoveryEvent, this.view(), this.config);
    // pure: the state it was given is untouched
    expect(JSON.stringify(before)).toBe(frozen);
    this.state = out.state;
    for (const a of out.actions) {
      if (a.kind === 'set-member-state') this.members.find((m) => m.id === a.id)!.state = a.state;
      if (a.kind === 'set-group-state') this.lastReason = a.reason;
      if (a.kind === 'open-epoch') {
        this.epoch = Math.max(this.epoch, this.floor) + 1;
        if (a.reason) this.lastReason = a.reason;
        for (const m of this.members) m.state = 'Released';
      }
      if (a.kind === 'arm-timer') this.timerAt = this.now + a.delayMs;
      if (a.kind === 'cancel-timer') this.timerAt = undefined;
    }
    this.log.push(...out.actions);
    this.last = out.actions;
    return out.actions;
  }

  advance(ms: number): void {
    this.now += ms;
    for (const m of this.members) m.lastSeen = this.now;
  }

  /** Fires the restart timer when it is due (as setTimeout would). */
  fireTimer(): RecoveryAction[] {
    if (this.timerAt === undefined) return [];
    if (this.now < this.timerAt) this.advance(this.timerAt - this.now);
    this.timerAt = undefined;
    return this.step({ kind: 'timer' });
  }

  attachAll(): void {
    for (const m of this.members) this.step({ kind: 'attach', id: m.id, role: 'ROLE_RUN', epoch: 0 });
  }

  engines(state: 'ENGINE_RUNNING' | 'ENGINE_STOPPED', ids = this.members.map((m) => m.id)): RecoveryAction[] {
    const all: RecoveryAction[] = [];
    for (const id of ids) {
      all.push(
        ...this.step({
          kind: 'engine',
          id,
          engine: {
            epoch: this.epoch,
            state,
            exitCode: 0,
            signal: '',
            message: state === 'ENGINE_STOPPED' ? 'stop' : '',
          },
        }),
      );
    }
    return all;
  }

  /** Forming → Running(1), every engine running. */
  form(): void {
    this.advance(0);
    this.attachAll();
    this.step({ kind: 'barrier-complete' });
    this.engines('ENGINE_RUNNING');
  }

  /** A loss of the given kind for member `id`, through the event that reports it. */
  lose(kind: LossKind, id: string): RecoveryAction[] {
    switch (kind) {
      case 'session':
        return this.step({ kind: 'session-closed', id, role: 'ROLE_RUN' });
      case 'heartbeat': {
        this.advance(0);
        this.members.find((m) => m.id === id)!.lastSeen = this.now - 5000;
        return this.step({ kind: 'tick' });
      }
      case 'engine':
        return this.step({
          kind: 'engine',
          id,
          engine: { epoch: this.epoch, state: 'ENGINE_EXITED', exitCode: 1, signal: '', message: '' },
        });
      case 'rejoin':
        return this.step({ kind: 'rejoin', id, released: true });
      default:
        return this.step({ kind: 'loss', id, reason: `${kind} of ${id}`, loss: kind });
    }
  }

  /** A lost member comes back: a fresh run attaches (its pod is back first when it was gone). */
  back(id: string): void {
    this.step({ kind: 'pod-present', id });
    this.step({ kind: 'attach', id, role: 'ROLE_RUN', epoch: 0 });
  }
}

const kinds = (actions: readonly RecoveryAction[]) => actions.map((a) => a.kind);
const of = <K extends RecoveryAction['kind']>(actions: readonly RecoveryAction[], kind: K) =>
  actions.filter((a): a is Extract<RecoveryAction, { kind: K }> => a.kind === kind);

/** Builds the group in a given state; member p2 is the one that will be lost in the table below. */
const SETUPS: Record<string, () => Sim> = {
  forming: () => {
    const s = new Sim();
    s.advance(0);
    s.attachAll();
    return s;
  },
  running: () => {
    const s = new Sim();
    s.form();
    s.advance(20_000);
    return s;
  },
  recovering: () => {
    const s = new Sim();
    s.form();
    s.advance(20_000);
    s.step({ kind: 'session-closed', id: 'p1', role: 'ROLE_RUN' });
    return s;
  },
  'backing off': () => {
    const s = new Sim();
    s.form();
    s.advance(20_000);
    s.lose('engine', 'p1');
    s.engines('ENGINE_STOPPED');
    expect(s.epoch).toBe(2);
    s.engines('ENGINE_RUNNING');
    s.advance(100);
    // a second failure in a row: the restart waits
    s.lose('engine', 'p1');
    s.engines('ENGINE_STOPPED', ['p0', 'p2', 'p3']);
    expect(s.timerAt).toBeGreaterThan(s.now);
    return s;
  },
  failed: () => {
    const s = new Sim({ ...BASE, budget: 0 });
    s.form();
    s.lose('engine', 'p1');
    expect(s.phase).toBe('Failed');
    return s;
  },
};

interface Expect {
  phase: GroupState;
  /** a Stop went to every member */
  stops: boolean;
  /** p2 was marked Lost */
  lost: boolean;
}

const NOTHING_IN_FORMING: readonly LossKind[] = ['heartbeat', 'engine', 'rejoin'];
const NOT_A_LOSS_WHILE_STOPPING: readonly LossKind[] = ['engine', 'rejoin'];

function expected(setup: string, kind: LossKind): Expect {
  switch (setup) {
    case 'forming':
      return { phase: 'Forming', stops: false, lost: !NOTHING_IN_FORMING.includes(kind) };
    case 'running':
      return { phase: 'Recovering', stops: true, lost: kind !== 'engine' };
    case 'recovering':
    case 'backing off':
      return { phase: 'Recovering', stops: false, lost: !NOT_A_LOSS_WHILE_STOPPING.includes(kind) };
    default:
      return { phase: 'Failed', stops: false, lost: false };
  }
}

describe('recovery reducer: every loss kind in every group state', () => {
  const rows = Object.keys(SETUPS).flatMap((setup) => LOSS_KINDS.map((kind) => [setup, kind] as const));
  it.each(rows)('%s + loss by %s', (setup, kind) => {
    const sim = SETUPS[setup]!();
    const timerBefore = sim.timerAt;
    const actions = sim.lose(kind, 'p2');
    const want = expected(setup, kind);
    expect(sim.phase).toBe(want.phase);
    expect(of(actions, 'stop-all').length > 0).toBe(want.stops);
    expect(
      of(actions, 'set-member-state').some((a) => a.id === 'p2' && a.state === 'Lost'),
      `p2 marked Lost (${kinds(actions).join(', ')})`,
    ).toBe(want.lost);
    if (want.stops) {
      const [stop] = of(actions, 'stop-all');
      expect(stop!.epoch).toBe(1);
      expect(stop!.reason).toMatch(/^rank 2 \(pod p2\): /);
      // the first failure after a healthy run: no backoff timer
      expect(of(actions, 'arm-timer')).toEqual([]);
    }
    // a device loss in place deletes the pod (rescheduled away from the device), unless the group already failed
    expect(of(actions, 'delete-pod').map((a) => a.pod)).toEqual(kind === 'device' && setup !== 'failed' ? ['p2'] : []);
    if (setup === 'failed') expect(actions).toEqual([]);
    // a loss while backing off never cuts the backoff short
    if (setup === 'backing off') expect(sim.timerAt).toBe(timerBefore);
    // no epoch opens on a loss
    expect(of(actions, 'open-epoch')).toEqual([]);
  });
});

describe('recovery reducer: sequences', () => {
  it('the first restart after a healthy run opens the next epoch as soon as every engine stopped', () => {
    const s = new Sim();
    s.form();
    expect(s.epoch).toBe(1);
    s.advance(20_000);
    s.lose('engine', 'p3');
    const opened = s.engines('ENGINE_STOPPED', ['p0', 'p1', 'p2']);
    expect(kinds(opened)).toContain('open-epoch');
    expect(s.epoch).toBe(2);
    expect(of(opened, 'recovered')).toEqual([{ kind: 'recovered', ms: 0, loss: 'engine' }]);
    expect(of(s.log, 'arm-timer')).toEqual([]);
  });

  it('backoff applies from the second failure in a row and doubles; a healthy run resets it', () => {
    const s = new Sim({ ...BASE, budget: 10 });
    s.form();
    s.advance(100);
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      const began = s.lose('engine', 'p1');
      delays.push(of(began, 'arm-timer')[0]?.delayMs ?? 0);
      const stopped = s.engines('ENGINE_STOPPED', ['p0', 'p2', 'p3']);
      if (delays[i]! > 0) {
        // stopped before the backoff is over: the timer is re-armed for what is left, nothing opens yet
        expect(kinds(stopped)).not.toContain('open-epoch');
        expect(kinds(s.fireTimer())).toContain('open-epoch');
      }
      s.engines('ENGINE_RUNNING');
      s.advance(100);
    }
    expect(delays).toEqual([0, 1000, 2000, 4000]);
    s.advance(20_000);
    expect(of(s.lose('engine', 'p1'), 'arm-timer')).toEqual([]);
  });

  it('a timer that fires early re-arms for the rest of the backoff', () => {
    const s = SETUPS['backing off']!();
    const due = s.timerAt!;
    s.now = due - 300;
    const actions = s.step({ kind: 'timer' });
    expect(actions).toEqual([{ kind: 'arm-timer', delayMs: 300 }]);
    s.now = due;
    expect(kinds(s.step({ kind: 'timer' }))).toContain('open-epoch');
  });

  it('past the budget the group fails: every member is stopped and told', () => {
    const s = new Sim({ ...BASE, budget: 1 });
    s.form();
    s.lose('engine', 'p1');
    s.engines('ENGINE_STOPPED', ['p0', 'p2', 'p3']);
    expect(s.epoch).toBe(2);
    const actions = s.lose('engine', 'p1');
    expect(s.phase).toBe('Failed');
    expect(of(actions, 'set-group-state')[0]?.reason).toMatch(
      /rank 1 \(pod p1\): engine exited with code 1; restart budget exhausted: 1 group restart within 10m \(budget 1\)/,
    );
    expect(of(actions, 'stop-all')[0]?.reason).toMatch(/^group failed: /);
    expect(kinds(actions)).toContain('progress-all');
    // nothing brings a failed group back
    expect(s.engines('ENGINE_STOPPED')).toEqual([]);
    expect(s.step({ kind: 'timer' })).toEqual([]);
  });

  it('two members lost at once: one Stop, and the restart waits for both', () => {
    const s = new Sim();
    s.form();
    s.advance(20_000);
    const first = s.lose('session', 'p1');
    const second = s.lose('session', 'p3');
    expect(of(first, 'stop-all')).toHaveLength(1);
    expect(of(second, 'stop-all')).toHaveLength(0);
    s.engines('ENGINE_STOPPED', ['p0', 'p2']);
    s.back('p1');
    expect(s.epoch).toBe(1);
    s.back('p3');
    expect(s.epoch).toBe(2);
  });

  it('a deleted pod is back only when its pod exists again and a run attached', () => {
    const s = new Sim();
    s.form();
    s.advance(20_000);
    s.lose('pod-deleted', 'p2');
    s.engines('ENGINE_STOPPED', ['p0', 'p1', 'p3']);
    s.step({ kind: 'attach', id: 'p2', role: 'ROLE_RUN', epoch: 0 });
    expect(s.epoch).toBe(1);
    s.step({ kind: 'pod-present', id: 'p2' });
    expect(s.epoch).toBe(2);
  });

  it.each([
    // [what, phase the run attaches in, the epoch it attaches with, whether it is sent the Stop]
    ['with the release of the epoch being stopped, while recovering', 'Recovering', 1, true],
    ['with no epoch (a restarted run: it waits for a release), while recovering', 'Recovering', 0, false],
    ['with the release of the running epoch', 'Running', 1, false],
  ] as const)('a run that attaches %s', (_what, phase, epoch, stopped) => {
    const s = new Sim();
    s.form();
    s.advance(20_000);
    if (phase === 'Recovering') {
      s.lose('engine', 'p1');
      s.engines('ENGINE_STOPPED', ['p0', 'p3']);
    }
    expect(s.phase).toBe(phase);
    // p2 joined again (bootstrap's session, or its run's rejoin) and attaches its run session only now
    const actions = s.step({ kind: 'attach', id: 'p2', role: 'ROLE_RUN', epoch });
    const stops = of(actions, 'stop-member');
    if (stopped) {
      expect(stops).toEqual([
        { kind: 'stop-member', id: 'p2', epoch: 1, reason: s.lastReason, gracePeriodMs: BASE.stopGraceMs },
      ]);
      // it starts the epoch's engine from its release: the restart waits for its answer to the Stop
      expect(s.epoch).toBe(1);
      s.engines('ENGINE_RUNNING', ['p2']);
      expect(s.epoch).toBe(1);
      s.engines('ENGINE_STOPPED', ['p2']);
    } else {
      expect(stops).toEqual([]);
    }
    expect(s.epoch).toBe(phase === 'Recovering' ? 2 : 1);
  });

  it('a container restart reported right after the session broke is the same loss', () => {
    const s = new Sim();
    s.form();
    s.advance(20_000);
    s.lose('session', 'p2');
    s.advance(2000);
    expect(s.lose('pod-restarted', 'p2')).toEqual([]);
  });

  it('a hung member heard from again is back; a finished job ends its session cleanly', () => {
    const s = new Sim();
    s.form();
    s.advance(20_000);
    s.lose('heartbeat', 'p2');
    expect(s.members[2]!.state).toBe('Lost');
    s.step({ kind: 'heartbeat', id: 'p2' });
    expect(s.members[2]!.state).toBe('Joined');

    const done = new Sim();
    done.form();
    done.step({
      kind: 'engine',
      id: 'p1',
      engine: { epoch: 1, state: 'ENGINE_EXITED', exitCode: 0, signal: '', message: '' },
    });
    expect(done.step({ kind: 'session-closed', id: 'p1', role: 'ROLE_RUN' })).toEqual([]);
    expect(done.phase).toBe('Running');
  });

  it('an engine report about an older epoch is no loss', () => {
    const s = new Sim();
    s.form();
    s.lose('engine', 'p1');
    s.engines('ENGINE_STOPPED', ['p0', 'p2', 'p3']);
    expect(s.epoch).toBe(2);
    const late = s.step({
      kind: 'engine',
      id: 'p3',
      engine: { epoch: 1, state: 'ENGINE_EXITED', exitCode: 1, signal: '', message: '' },
    });
    expect(kinds(late)).not.toContain('stop-all');
    expect(s.phase).toBe('Running');
  });

  it('a restarted coordinator continues above the highest epoch its members report', () => {
    // the fresh coordinator starts at epoch 0; the members' Joins raised the floor to 7 (GroupTable.noteMemberEpoch)
    const s = new Sim();
    s.floor = 7;
    s.advance(0);
    s.attachAll();
    const actions = s.step({ kind: 'barrier-complete' });
    expect(kinds(actions)).toContain('open-epoch');
    expect(s.epoch).toBe(8);
  });

  it('with an API the epoch is persisted before it opens; a failed save is retried, never skipped', () => {
    const s = new Sim({ ...BASE, persistEpochs: true }, 2, 4);
    s.advance(0);
    s.attachAll();
    expect(s.step({ kind: 'barrier-complete' })).toEqual([{ kind: 'save-epoch', epoch: 5 }]);
    // a second trigger while saving does not save twice
    expect(s.step({ kind: 'barrier-complete' })).toEqual([]);
    expect(kinds(s.step({ kind: 'epoch-save-failed', epoch: 5, error: 'etcd down' }))).toEqual(['log', 'arm-timer']);
    expect(s.epoch).toBe(4);
    expect(s.fireTimer()).toEqual([{ kind: 'save-epoch', epoch: 5 }]);
    expect(kinds(s.step({ kind: 'epoch-saved', epoch: 5 }))).toContain('open-epoch');
    expect(s.epoch).toBe(5);
    // the same for a restart
    s.engines('ENGINE_RUNNING');
    s.lose('engine', 'p1');
    expect(of(s.engines('ENGINE_STOPPED', ['p0']), 'save-epoch')).toEqual([{ kind: 'save-epoch', epoch: 6 }]);
    expect(s.epoch).toBe(5);
    s.step({ kind: 'epoch-saved', epoch: 6 });
    expect(s.epoch).toBe(6);
  });

  it('RecreateGroup deletes every pod, the leader (rank 0) last', () => {
    const s = new Sim({ ...BASE, policy: 'RecreateGroup' });
    s.form();
    const actions = s.lose('session', 'p2');
    expect(of(actions, 'delete-pod').map((a) => a.pod)).toEqual(['p3', 'p2', 'p1', 'p0']);
  });

  it('nothing happens after shutdown', () => {
    const s = new Sim();
    s.form();
    s.step({ kind: 'shutdown' });
    expect(s.lose('session', 'p1')).toEqual([]);
  });
});

describe('recovery reducer: the hand-over from bootstrap to run', () => {
  const DEADLINE = BASE.runAttachTimeoutMs;

  /** Forms the group the way pods do: bootstraps wait at the barrier, exit after the release, then runs attach. */
  function formThroughBootstrap(config: RecoveryConfig = BASE, withoutRun: readonly string[] = ['p2']): Sim {
    const s = new Sim(config);
    s.advance(0);
    for (const m of s.members) s.step({ kind: 'attach', id: m.id, role: 'ROLE_BOOTSTRAP', epoch: 0 });
    s.step({ kind: 'barrier-complete' });
    expect(s.epoch).toBe(1);
    for (const m of s.members) s.step({ kind: 'session-closed', id: m.id, role: 'ROLE_BOOTSTRAP' });
    const running = s.members.map((m) => m.id).filter((id) => !withoutRun.includes(id));
    for (const id of running) s.step({ kind: 'attach', id, role: 'ROLE_RUN', epoch: 1 });
    s.engines('ENGINE_RUNNING', running);
    return s;
  }

  /** Advances the clock and runs the watchdog, as the shell's interval does. */
  function tickAfter(s: Sim, ms: number): RecoveryAction[] {
    s.advance(ms);
    return s.step({ kind: 'tick' });
  }

  it.each([
    // [what, deadline, ms after the release, whether p2's run attached by then, whether p2 is lost]
    ['a run that never attaches, past the deadline', DEADLINE, DEADLINE + 1, false, true],
    ['a run that never attaches, at the deadline', DEADLINE, DEADLINE, false, false],
    ['a run that attached, long after', DEADLINE, 10 * DEADLINE, true, false],
    ['no deadline (0s), long after', 0, 10 * DEADLINE, false, false],
  ] as const)('%s', (_what, deadline, after, attached, lost) => {
    const s = formThroughBootstrap({ ...BASE, runAttachTimeoutMs: deadline });
    if (attached) s.step({ kind: 'attach', id: 'p2', role: 'ROLE_RUN', epoch: 1 });
    const actions = tickAfter(s, after);
    expect(s.members[2]!.state === 'Lost').toBe(lost);
    expect(s.phase).toBe(lost ? 'Recovering' : 'Running');
    if (!lost) {
      expect(actions).toEqual([]);
      return;
    }
    const [marked] = of(actions, 'set-member-state');
    expect(marked).toMatchObject({ id: 'p2', state: 'Lost' });
    expect(marked!.reason).toBe(
      'its lockstep run did not attach within 1m of its release: the engine container did not start (image pull, or a command that fails before lockstep run)',
    );
    expect(of(actions, 'stop-all')).toEqual([
      { kind: 'stop-all', epoch: 1, reason: `rank 2 (pod p2): ${marked!.reason}`, gracePeriodMs: 0 },
    ]);
    // counted as its own kind in the restarts-by-reason metric once the group runs again
    expect(s.state.recoveryKind).toBe('handover');
  });

  it.each([
    // [what the pod watch reported, in order; what the reason gives as the cause]
    [
      ['container engine waiting: ImagePullBackOff (Back-off pulling image "vllm:v9")'],
      'container engine waiting: ImagePullBackOff (Back-off pulling image "vllm:v9")',
    ],
    [['container engine waiting: ErrImagePull', undefined], 'image pull, or a command that fails before lockstep run'],
  ] as const)('the loss names why the kubelet has not started the container: %j', (reports, cause) => {
    const s = formThroughBootstrap();
    for (const waiting of reports) {
      s.step(
        waiting === undefined ? { kind: 'pod-held-up', id: 'p2' } : { kind: 'pod-held-up', id: 'p2', why: waiting },
      );
    }
    const [marked] = of(tickAfter(s, DEADLINE + 1), 'set-member-state');
    expect(marked!.reason).toBe(
      `its lockstep run did not attach within 1m of its release: the engine container did not start (${cause})`,
    );
  });

  it('the late run is sent the Stop of the epoch it was released for, and the group restarts with it', () => {
    const s = formThroughBootstrap();
    tickAfter(s, DEADLINE + 1);
    s.engines('ENGINE_STOPPED', ['p0', 'p1', 'p3']);
    expect(s.epoch).toBe(1);
    // the image was pulled at last: its run starts the engine of the release bootstrap got, and attaches
    const attached = s.step({ kind: 'attach', id: 'p2', role: 'ROLE_RUN', epoch: 1 });
    expect(of(attached, 'stop-member').map((a) => a.epoch)).toEqual([1]);
    expect(s.members[2]!.state).toBe('Joined');
    const restarted = s.engines('ENGINE_STOPPED', ['p2']);
    expect(of(restarted, 'recovered')).toEqual([{ kind: 'recovered', ms: 0, loss: 'handover' }]);
    expect(s.epoch).toBe(2);
    // its run session stays across epochs: no deadline runs for it any more
    s.engines('ENGINE_RUNNING');
    expect(tickAfter(s, 10 * DEADLINE)).toEqual([]);
  });

  it('while the group already recovers, the deadline marks the member lost without a second Stop', () => {
    const s = formThroughBootstrap();
    s.advance(20_000);
    s.lose('engine', 'p1');
    s.engines('ENGINE_STOPPED', ['p0', 'p1', 'p3']);
    expect(s.phase).toBe('Recovering');
    const actions = tickAfter(s, DEADLINE);
    expect(s.members[2]!.state).toBe('Lost');
    expect(of(actions, 'stop-all')).toEqual([]);
    expect(of(actions, 'event').map((e) => e.reason)).toEqual(['MemberLost']);
    expect(s.epoch).toBe(1);
  });

  it('a member lost some other way is not lost again when the deadline passes', () => {
    const s = formThroughBootstrap();
    s.lose('pod-deleted', 'p2');
    expect(tickAfter(s, 10 * DEADLINE)).toEqual([]);
  });

  it('a member recreated during recovery waits for its run again after the restart', () => {
    const s = formThroughBootstrap(BASE, []);
    s.advance(20_000);
    s.lose('pod-deleted', 'p3');
    s.step({ kind: 'session-closed', id: 'p3', role: 'ROLE_RUN' });
    s.engines('ENGINE_STOPPED', ['p0', 'p1', 'p2']);
    // the new pod's bootstrap joins and waits at the barrier; the restart releases it there
    s.step({ kind: 'pod-present', id: 'p3' });
    s.step({ kind: 'attach', id: 'p3', role: 'ROLE_BOOTSTRAP', epoch: 0 });
    expect(s.epoch).toBe(2);
    s.step({ kind: 'session-closed', id: 'p3', role: 'ROLE_BOOTSTRAP' });
    s.engines('ENGINE_RUNNING', ['p0', 'p1', 'p2']);
    expect(tickAfter(s, DEADLINE)).toEqual([]);
    const lost = tickAfter(s, 1);
    expect(of(lost, 'set-member-state')).toMatchObject([{ id: 'p3', state: 'Lost' }]);
  });
});
