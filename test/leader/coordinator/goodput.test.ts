/**
 * Group goodput: the ledger's accounting per state (table-driven over transition sequences), the annotation's shape
 * and how a reader adds the open interval, the parser that guards what kubectl reads from a pod annotation
 * (fast-check: never throws, keeps only well-formed values), and the Prometheus series computed from the table.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GoodputLedger } from '../../../leader/coordinator/goodput.js';
import { GroupTable } from '../../../leader/coordinator/group-table.js';
import { groupMetrics } from '../../../leader/coordinator/metrics.js';
import {
  type GroupGoodput,
  type GroupState,
  parseGroupStatus,
  readGoodput,
  servingFraction,
} from '../../../src/contract/group-status.js';
import { identity } from '../support/identity.js';

type Step = [at: number, state: GroupState];

describe('GoodputLedger', () => {
  it.each<[string, Step[], number, Record<GroupState, number>]>([
    ['forming only', [], 5_000, { Forming: 5, Running: 0, Recovering: 0, Failed: 0 }],
    ['formed then served', [[2_000, 'Running']], 12_000, { Forming: 2, Running: 10, Recovering: 0, Failed: 0 }],
    [
      'a recovery in the middle',
      [
        [1_000, 'Running'],
        [11_000, 'Recovering'],
        [14_000, 'Running'],
      ],
      20_000,
      { Forming: 1, Running: 16, Recovering: 3, Failed: 0 },
    ],
    [
      'the same state twice changes nothing',
      [
        [1_000, 'Running'],
        [5_000, 'Running'],
      ],
      6_000,
      { Forming: 1, Running: 5, Recovering: 0, Failed: 0 },
    ],
    [
      'failed at the end',
      [
        [1_000, 'Running'],
        [2_000, 'Recovering'],
        [4_000, 'Failed'],
      ],
      10_000,
      { Forming: 1, Running: 1, Recovering: 2, Failed: 6 },
    ],
    [
      'a clock that went back counts nothing negative',
      [[-5_000, 'Running']],
      1_000,
      {
        Forming: 0,
        Running: 1,
        Recovering: 0,
        Failed: 0,
      },
    ],
  ])('%s', (_name, steps, now, want) => {
    const ledger = new GoodputLedger('Forming', 0);
    for (const [at, state] of steps) ledger.transition(state, at);
    expect(ledger.secondsAt(now)).toEqual(want);
  });

  it('counts recoveries by loss and keeps the last duration; the snapshot runs to the last transition', () => {
    const ledger = new GoodputLedger('Forming', Date.parse('2026-12-07T00:00:00Z'));
    const t = (s: number) => Date.parse('2026-12-07T00:00:00Z') + s * 1000;
    ledger.transition('Running', t(10));
    ledger.transition('Recovering', t(70));
    ledger.transition('Running', t(72));
    ledger.recovered(2_000, 'engine');
    ledger.transition('Recovering', t(100));
    ledger.transition('Running', t(101.5));
    ledger.recovered(1_500, 'session');
    ledger.transition('Recovering', t(200));
    ledger.transition('Running', t(203));
    ledger.recovered(3_000, 'engine');
    expect(ledger.snapshot()).toEqual({
      since: '2026-12-07T00:00:00.000Z',
      asOf: '2026-12-07T00:03:23.000Z',
      seconds: { Forming: 10, Running: 186.5, Recovering: 6.5, Failed: 0 },
      recoveries: 3,
      lastRecoveryMs: 3_000,
      recoveriesByLoss: { engine: 2, session: 1 },
    });
    // a reader 97 s later, still Running: 283.5 of 300 s served
    expect(servingFraction(ledger.snapshot(), 'Running', t(300))).toBeCloseTo(283.5 / 300, 6);
    // the same snapshot read while Recovering: the open interval counts against serving
    expect(servingFraction(ledger.snapshot(), 'Recovering', t(300))).toBeCloseTo(186.5 / 300, 6);
  });
});

describe('the goodput in the status annotation', () => {
  const good: GroupGoodput = {
    since: '2026-12-07T00:00:00.000Z',
    asOf: '2026-12-07T00:01:00.000Z',
    seconds: { Forming: 5, Running: 55 },
    recoveries: 1,
    lastRecoveryMs: 900,
    recoveriesByLoss: { heartbeat: 1 },
  };

  it.each<[string, unknown, GroupGoodput | undefined]>([
    ['well formed', good, good],
    [
      'no recovery yet',
      { ...good, lastRecoveryMs: undefined, recoveriesByLoss: undefined },
      {
        since: good.since,
        asOf: good.asOf,
        seconds: good.seconds,
        recoveries: 1,
      },
    ],
    ['a negative duration', { ...good, seconds: { Running: -1 } }, undefined],
    ['a count that is text', { ...good, recoveries: '3' }, undefined],
    ['a date that is not one', { ...good, asOf: 'yesterday' }, undefined],
    ['an infinite last recovery', { ...good, lastRecoveryMs: Number.POSITIVE_INFINITY }, undefined],
    ['null', null, undefined],
  ])('%s', (_name, value, want) => {
    expect(readGoodput(value)).toEqual(want);
  });

  it('a malformed goodput is dropped from a status that is otherwise read', () => {
    const status = parseGroupStatus(
      JSON.stringify({ group: 'g', epoch: 2, members: [], goodput: { since: 1, asOf: 2 } }),
    );
    expect(status).toBeDefined();
    expect(status?.goodput).toBeUndefined();
  });

  it('never throws, and whatever it keeps has finite, non-negative numbers', () => {
    fc.assert(
      fc.property(fc.anything(), fc.jsonValue(), (anything, json) => {
        for (const value of [anything, json, { ...good, ...(typeof json === 'object' ? json : {}) }]) {
          const read = readGoodput(value);
          if (!read) continue;
          const numbers = [read.recoveries, read.lastRecoveryMs ?? 0, ...Object.values(read.seconds)];
          expect(numbers.every((n) => Number.isFinite(n) && n >= 0)).toBe(true);
        }
      }),
    );
  });
});

describe('groupMetrics', () => {
  it('computes every series from the table when scraped', async () => {
    let now = 0;
    const table = new GroupTable({ group: 'web', namespace: 'ns', size: 2, masterPort: 29500, now: () => now });
    table.join(identity('web-0', { rankHint: 0 }));
    table.join(identity('web-1', { rankHint: 1 }));
    now = 4_000;
    table.openEpoch();
    now = 40_000;
    table.setState('Recovering', 'rank 1: engine killed by SIGKILL');
    now = 42_500;
    table.openEpoch('recovered');
    table.goodput.recovered(2_500, 'engine');
    now = 44_000;
    const text = await groupMetrics(table, () => now).metrics();
    const labels = 'group="web",namespace="ns"';
    expect(text).toContain(`lockstep_group_state_seconds_total{state="Forming",${labels}} 4`);
    expect(text).toContain(`lockstep_group_state_seconds_total{state="Running",${labels}} 37.5`);
    expect(text).toContain(`lockstep_group_state_seconds_total{state="Recovering",${labels}} 2.5`);
    expect(text).toContain(`lockstep_group_serving_fraction{${labels}} ${37.5 / 44}`);
    expect(text).toContain(`lockstep_group_state{state="Running",${labels}} 1`);
    expect(text).toContain(`lockstep_group_state{state="Recovering",${labels}} 0`);
    expect(text).toContain(`lockstep_group_epoch{${labels}} 2`);
    expect(text).toContain(`lockstep_group_recoveries_total{loss="engine",${labels}} 1`);
    expect(text).toContain(`lockstep_group_recovery_duration_seconds_bucket{le="2",${labels}} 0`);
    expect(text).toContain(`lockstep_group_recovery_duration_seconds_bucket{le="5",${labels}} 1`);
    expect(text).toContain(`lockstep_group_recovery_duration_seconds_count{${labels}} 1`);
    expect(text).toContain(`lockstep_group_last_recovery_seconds{${labels}} 2.5`);
    // a second scrape does not count the same recovery twice
    expect(await groupMetrics(table, () => now).metrics()).toContain(
      `lockstep_group_recoveries_total{loss="engine",${labels}} 1`,
    );
  });
});
