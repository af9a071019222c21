import { describe, expect, it } from 'vitest';
import { GroupTable } from '../../../leader/coordinator/group-table.js';
import { StatusPublisher, type StatusSink } from '../../../leader/coordinator/status-publisher.js';
import { CONDITION_GROUP_READY } from '../../../src/contract/names.js';
import type { PodCondition } from '../../../src/kube/pod-condition.js';
import { silentLogger } from '../../../src/log.js';
import { identity } from '../support/identity.js';

class RecordingSink implements StatusSink {
  annotations: Array<Record<string, string>> = [];
  conditions: Array<[string, PodCondition]> = [];
  failNext = 0;
  async annotateLeader(_pod: string, a: Record<string, string>): Promise<void> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new Error('503 Service Unavailable');
    }
    this.annotations.push(a);
  }
  /** pods that answer 404 */
  missing = new Set<string>();
  async setCondition(pod: string, c: PodCondition): Promise<'written' | 'gone'> {
    this.conditions.push([pod, c]);
    return this.missing.has(pod) ? 'gone' : 'written';
  }
}

function setup(size: number) {
  const table = new GroupTable({ group: 'web', namespace: 'ns', size, masterPort: 1, leaderPod: 'web-0' });
  const sink = new RecordingSink();
  const publisher = new StatusPublisher({
    sink,
    leaderPod: 'web-0',
    snapshot: () => table.snapshot(),
    log: silentLogger(),
    retryMs: 10,
    now: () => new Date('2026-01-01T00:00:00Z'),
  });
  return { table, sink, publisher };
}

describe('StatusPublisher', () => {
  it('writes each member condition once while forming and once on release, not once per join', async () => {
    const { table, sink, publisher } = setup(8);
    publisher.start();
    for (let i = 0; i < 8; i++) {
      table.join(identity(`web-${i}`, { rankHint: i }));
      publisher.schedule();
    }
    await publisher.idle();
    table.openEpoch();
    publisher.schedule();
    await publisher.idle();
    const perPod = new Map<string, string[]>();
    for (const [pod, c] of sink.conditions) perPod.set(pod, [...(perPod.get(pod) ?? []), c.status]);
    expect(perPod.size).toBe(8);
    for (const statuses of perPod.values()) expect(statuses.at(-1)).toBe('True');
    // bursts coalesce: at most False then True per pod
    expect(sink.conditions.length).toBeLessThanOrEqual(16);
    expect(sink.conditions.at(-1)?.[1]).toMatchObject({
      type: CONDITION_GROUP_READY,
      status: 'True',
      reason: 'GroupReleased',
      lastTransitionTime: '2026-01-01T00:00:00.000Z',
    });
    expect(JSON.parse(sink.annotations.at(-1)!['lockstep.dev/group-status']!)).toMatchObject({
      epoch: 1,
      state: 'Running',
    });
    await publisher.stop();
  });

  it('never moves the stored epoch backwards: a late write of an older snapshot leaves the epoch store alone', async () => {
    const { table, publisher } = setup(1);
    // the leader pod's annotations, merged the way a merge patch merges them
    const stored: Record<string, string> = {};
    const sink: StatusSink = {
      annotateLeader: async (_pod, a) => void Object.assign(stored, a),
      setCondition: async () => 'written' as const,
    };
    const late = new StatusPublisher({
      sink,
      leaderPod: 'web-0',
      snapshot: () => table.snapshot(),
      log: silentLogger(),
    });
    table.join(identity('web-0'));
    // the recovery manager persists epoch 1 before opening it; the publisher still sees epoch 0
    stored['lockstep.dev/epoch'] = '1';
    late.start();
    await late.idle();
    expect(JSON.parse(stored['lockstep.dev/group-status']!)).toMatchObject({ epoch: 0, state: 'Forming' });
    expect(stored['lockstep.dev/epoch']).toBe('1');
    await late.stop();
    await publisher.stop();
  });

  it('retries a failed write and writes nothing when nothing changed', async () => {
    const { table, sink, publisher } = setup(1);
    table.join(identity('web-0'));
    sink.failNext = 1;
    publisher.start();
    await publisher.idle();
    expect(sink.annotations).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 50));
    await publisher.idle();
    expect(sink.annotations).toHaveLength(1);
    const writes = sink.annotations.length + sink.conditions.length;
    publisher.schedule();
    await publisher.idle();
    expect(sink.annotations.length + sink.conditions.length).toBe(writes);
    await publisher.stop();
  });

  it('writes nothing to a pod that is gone until it is back, whatever the group does meanwhile', async () => {
    const { table, sink, publisher } = setup(2);
    publisher.start();
    table.join(identity('web-0'));
    table.join(identity('web-1', { rankHint: 1 }));
    table.openEpoch();
    publisher.schedule();
    await publisher.idle();
    const to = (pod: string) => sink.conditions.filter(([p]) => p === pod).length;
    // web-1 is deleted: a write finds it gone (404), and the pod watch says so too
    sink.missing.add('web-1');
    table.setMemberState('web-1', 'Lost', 'pod web-1 was deleted');
    table.setState('Recovering', 'rank 1 lost');
    publisher.schedule();
    await publisher.idle();
    const afterFirst404 = to('web-1');
    for (let i = 0; i < 5; i++) {
      table.setState(i % 2 ? 'Recovering' : 'Running', `change ${i}`);
      publisher.schedule();
      await publisher.idle();
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(to('web-1')).toBe(afterFirst404);
    // the watch-driven path: gone before any write is tried
    publisher.podGone('web-0');
    const leaderWrites = to('web-0');
    table.setState('Recovering', 'again');
    publisher.schedule();
    await publisher.idle();
    expect(to('web-0')).toBe(leaderWrites);
    // the recreated pod gets the current condition once
    sink.missing.delete('web-1');
    publisher.podBack('web-1');
    await publisher.idle();
    expect(to('web-1')).toBe(afterFirst404 + 1);
    await publisher.stop();
  });
});
