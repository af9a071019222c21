import { describe, expect, it } from 'vitest';
import { GroupTable, JoinRefused } from '../../../leader/coordinator/group-table.js';
import { progressMessage } from '../../../leader/protocol/progress.js';
import { identity } from '../support/identity.js';

const table = (size = 4, extra: Partial<ConstructorParameters<typeof GroupTable>[0]> = {}) =>
  new GroupTable({ group: 'web', namespace: 'ns', size, masterPort: 29500, now: () => 1_000, ...extra });

function refusal(fn: () => unknown): JoinRefused {
  try {
    fn();
  } catch (err) {
    if (err instanceof JoinRefused) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('GroupTable admission', () => {
  it('keeps the workload rank (ordinal / LWS index) and makes the leader pod rank 0', () => {
    const t = table(4, { leaderPod: 'web-0' });
    expect(t.join(identity('web-2', { rankHint: 2, rankSource: 'ordinal of pod web-2' })).member.rank).toBe(2);
    expect(t.join(identity('web-0')).member.rank).toBe(0);
    expect(t.join(identity('web-3', { rankHint: 3 })).member.rank).toBe(3);
    expect(t.missingRanks()).toEqual([1]);
    expect(progressMessage(t.progress())).toBe('waiting for 3/4 members: missing rank 1');
  });

  it('refuses a duplicate rank and names both pods and where the rank came from', () => {
    const t = table(4);
    t.join(identity('web-3', { rankHint: 3, ip: '127.0.0.4', node: 'n1', rankSource: 'LWS_WORKER_INDEX=3' }));
    const err = refusal(() =>
      t.join(identity('other-3', { rankHint: 3, ip: '127.0.0.9', rankSource: 'LWS_WORKER_INDEX=3' })),
    );
    expect(err.code).toBe('ALREADY_EXISTS');
    expect(err.message).toBe(
      'rank 3 of group web is already held by pod web-3 (127.0.0.4, node n1); pod other-3 (127.0.0.9) claims it too (LWS_WORKER_INDEX=3): two pods of one group have the same rank',
    );
    // the refused pod left no trace
    expect(t.members().map((m) => m.id)).toEqual(['web-3']);
  });

  it('refuses rank 0 to anyone but the leader pod, and a leader pod that asks for another rank', () => {
    const t = table(4, { leaderPod: 'web-0' });
    expect(refusal(() => t.join(identity('web-9', { rankHint: 0, rankSource: 'x' }))).code).toBe('ALREADY_EXISTS');
    const e = refusal(() => t.join(identity('web-0', { rankHint: 2, rankSource: '--rank' })));
    expect(e.code).toBe('FAILED_PRECONDITION');
    expect(e.message).toContain('asks for rank 2 (--rank)');
  });

  it('refuses ranks outside the group', () => {
    const e = refusal(() => table(4).join(identity('web-4', { rankHint: 4, rankSource: 'ordinal of pod web-4' })));
    expect(e.code).toBe('OUT_OF_RANGE');
    expect(e.message).toBe('pod web-4 asks for rank 4 (ordinal of pod web-4), but group web has 4 members (ranks 0-3)');
  });

  it('refuses another group, namespace or size', () => {
    const t = table(4);
    expect(refusal(() => t.join(identity('a', { group: 'db' }))).message).toBe(
      'pod a belongs to group db, but this coordinator runs group web',
    );
    expect(refusal(() => t.join(identity('a', { namespace: 'x' }))).code).toBe('FAILED_PRECONDITION');
    expect(refusal(() => t.join(identity('a', { groupSize: 8 }))).message).toContain(
      'expects a group of 8 members, but group web has 4',
    );
    expect(refusal(() => t.join(identity(''))).code).toBe('INVALID_ARGUMENT');
  });

  it('gives free ranks to members without a hint and moves them when a fixed rank arrives', () => {
    const t = table(3);
    const a = t.join(identity('a')).member;
    expect(a.rank).toBe(0);
    expect(a.rankFinal).toBe(false);
    const outcome = t.join(identity('b', { rankHint: 0 }));
    expect(outcome.member.rank).toBe(0);
    expect(outcome.moved.map((m) => [m.id, m.rank])).toEqual([['a', 1]]);
    t.join(identity('c'));
    expect(t.isComplete()).toBe(true);
    expect(refusal(() => t.join(identity('d'))).message).toContain('group web is full');
  });

  it('lets the same pod join again (retried bootstrap) but never change its rank', () => {
    const t = table(2);
    t.join(identity('web-1', { rankHint: 1, ip: '10.0.0.1' }));
    const again = t.join(identity('web-1', { rankHint: 1, ip: '10.0.0.2' }));
    expect(again.rejoined).toBe(true);
    expect(again.member.identity.ip).toBe('10.0.0.2');
    expect(refusal(() => t.join(identity('web-1', { rankHint: 0 }))).message).toContain("a pod's rank cannot change");
  });
});

describe('GroupTable barrier and epochs', () => {
  it('opens epoch 1 only when whole, with one member list for all', () => {
    const t = table(2);
    t.join(identity('web-0', { rankHint: 0, ip: '127.0.0.10', devices: [{ id: '0', kind: 'gpu' }] }));
    expect(() => t.openEpoch()).toThrow('missing ranks 1');
    t.join(identity('web-1', { rankHint: 1, ip: '127.0.0.11' }));
    expect(t.openEpoch()).toBe(1);
    const releases = t.releases();
    expect(releases.get('web-1')).toMatchObject({ epoch: 1, rank: 1, size: 2, group: 'web', masterPort: 29500 });
    expect(releases.get('web-1')?.members).toEqual([
      { rank: 0, pod: 'web-0', ip: '127.0.0.10', node: '', hostname: '', gpus: 1, tpus: 0 },
      { rank: 1, pod: 'web-1', ip: '127.0.0.11', node: '', hostname: '', gpus: 0, tpus: 0 },
    ]);
    expect(t.snapshot()).toMatchObject({ epoch: 1, state: 'Running', restarts: 0, size: 2 });
    expect(t.snapshot().members.every((m) => m.ready)).toBe(true);
  });

  it('continues from the epoch recorded on the leader pod', () => {
    const t = table(1, { lastEpoch: 7 });
    t.join(identity('a'));
    expect(t.openEpoch()).toBe(8);
  });

  it('records engine exits as member state with a reason, ignoring reports about older epochs', () => {
    const t = table(1);
    t.join(identity('a'));
    t.openEpoch();
    t.recordEngine('a', { epoch: 0, state: 'ENGINE_RUNNING', exitCode: 0, signal: '', message: '' });
    expect(t.member('a')?.state).toBe('Running');
    t.recordEngine('a', { epoch: 1, state: 'ENGINE_EXITED', exitCode: 3, signal: '', message: '' });
    expect(t.member('a')).toMatchObject({ state: 'Exited', reason: 'engine exited with code 3' });
    expect(t.snapshot().members[0]).toMatchObject({ ready: false, reason: 'engine exited with code 3' });
    t.recordEngine('a', { epoch: 9, state: 'ENGINE_RUNNING', exitCode: 0, signal: '', message: '' });
    expect(t.member('a')?.state).toBe('Exited');
  });

  it('shows waiting members with the missing ranks in the status', () => {
    const t = table(3);
    t.join(identity('web-1', { rankHint: 1 }));
    expect(t.snapshot()).toMatchObject({
      state: 'Forming',
      epoch: 0,
      members: [{ rank: 1, pod: 'web-1', ready: false, reason: 'waiting for 1/3 members: missing ranks 0, 2' }],
    });
  });

  it('abbreviates long lists of missing ranks', () => {
    const t = table(40);
    expect(progressMessage(t.progress())).toBe(
      'waiting for 0/40 members: missing ranks 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 and 24 more',
    );
  });

  it('says what holds up pods that have not joined, until they join', () => {
    const t = table(3, { leaderPod: 'web-0' });
    t.join(identity('web-0'));
    expect(t.noteHeldUp('web-2', 'not scheduled: Unschedulable (0/4 nodes are available)')).toBe(true);
    // the same note again changes nothing members are told
    expect(t.noteHeldUp('web-2', 'not scheduled: Unschedulable (0/4 nodes are available)')).toBe(false);
    expect(t.noteHeldUp('web-1', 'init container lockstep-bootstrap waiting: ImagePullBackOff')).toBe(true);
    expect(progressMessage(t.progress())).toBe(
      'waiting for 1/3 members: missing ranks 1, 2 (pod web-1: init container lockstep-bootstrap waiting: ImagePullBackOff; pod web-2: not scheduled: Unschedulable (0/4 nodes are available))',
    );
    expect(t.snapshot().members[0]?.reason).toBe(progressMessage(t.progress()));
    // a member's pod is not shown while the member is in the group; a pod that joins drops its note
    const before = progressMessage(t.progress());
    t.noteHeldUp('web-0', 'being deleted');
    expect(progressMessage(t.progress())).toBe(before);
    t.noteHeldUp('web-0', undefined);
    t.join(identity('web-1', { rankHint: 1 }));
    expect(t.progress().notJoined).toBe('pod web-2: not scheduled: Unschedulable (0/4 nodes are available)');
    expect(t.noteHeldUp('web-2', undefined)).toBe(true);
    expect(progressMessage(t.progress())).toBe('waiting for 2/3 members: missing rank 2');
  });

  it('names a few held-up pods, then how many more', () => {
    const t = table(8);
    for (let i = 0; i < 6; i++) t.noteHeldUp(`web-${i}`, 'not scheduled: Unschedulable');
    expect(t.progress().notJoined).toBe(
      'pod web-0: not scheduled: Unschedulable; pod web-1: not scheduled: Unschedulable; pod web-2: not scheduled: Unschedulable; pod web-3: not scheduled: Unschedulable; and 2 more pods',
    );
  });

  it('says what holds up the pod that should bring a lost member back', () => {
    const t = table(2);
    t.join(identity('web-0', { rankHint: 0 }));
    t.join(identity('web-1', { rankHint: 1 }));
    t.openEpoch();
    t.setMemberState('web-1', 'Lost', 'pod web-1 was deleted');
    t.noteHeldUp('web-1', 'not scheduled: Unschedulable (0/2 nodes are available)');
    expect(t.snapshot().members[1]?.reason).toBe(
      'pod web-1 was deleted; pod now: not scheduled: Unschedulable (0/2 nodes are available)',
    );
    expect(t.progress().notJoined).toBe('pod web-1: not scheduled: Unschedulable (0/2 nodes are available)');
    t.noteHeldUp('web-1', undefined);
    expect(t.snapshot().members[1]?.reason).toBe('pod web-1 was deleted');
  });

  it('says why a released member’s engine has not started, while its pod says so', () => {
    const t = table(2);
    t.join(identity('web-0', { rankHint: 0 }));
    t.join(identity('web-1', { rankHint: 1 }));
    t.openEpoch();
    t.noteHeldUp('web-1', 'container engine waiting: ImagePullBackOff (Back-off pulling image "vllm:v9")');
    expect(t.snapshot().members[1]).toMatchObject({
      ready: true,
      reason: 'engine not started: container engine waiting: ImagePullBackOff (Back-off pulling image "vllm:v9")',
    });
    // the barrier is not held up by a released member
    expect(t.progress().notJoined).toBe('');
    t.recordEngine('web-1', { epoch: 1, state: 'ENGINE_RUNNING', exitCode: 0, signal: '', message: '' });
    expect(t.snapshot().members[1]?.reason).toBeUndefined();
  });
});
