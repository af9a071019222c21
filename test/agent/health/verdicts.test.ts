import { describe, expect, it } from 'vitest';
import { DeviceHealthBoard } from '../../../agent/health/board.js';
import { combineReadings, HealthVerdicts } from '../../../agent/health/verdicts.js';

describe('combineReadings', () => {
  it('is healthy with no readings and when every source says healthy', () => {
    expect(combineReadings([])).toEqual({ state: 'healthy', source: 'discovery' });
    expect(combineReadings([{ state: 'healthy', source: 'link' }]).state).toBe('healthy');
  });

  it('takes the worst state, and among equals the more decisive source', () => {
    const r = combineReadings([
      { state: 'unknown', reason: 'nvidia-smi-missing', source: 'nvidia-smi' },
      { state: 'unhealthy', reason: 'aer-fatal', source: 'aer' },
      { state: 'unhealthy', reason: 'XID-79-fallen-off-bus', source: 'xid' },
    ]);
    expect(r).toMatchObject({ state: 'unhealthy', reason: 'XID-79-fallen-off-bus', source: 'xid' });
    expect(
      combineReadings([
        { state: 'unhealthy', reason: 'XID-79-fallen-off-bus', source: 'xid' },
        { state: 'unhealthy', reason: 'gone', source: 'discovery' },
      ]).reason,
    ).toBe('gone');
  });
});

describe('HealthVerdicts', () => {
  it('reports to the board only when the combination changes', () => {
    const board = new DeviceHealthBoard();
    const verdicts = new HealthVerdicts(board);
    const changes: string[] = [];
    board.subscribe((e) => changes.push(`${e.device}:${e.state}:${e.reason ?? ''}:${e.source ?? ''}`));
    verdicts.track('gpu-0');
    verdicts.report('gpu-0', 'link', { state: 'healthy' });
    verdicts.report('gpu-0', 'xid', { state: 'unhealthy', reason: 'XID-48-double-bit-ecc', message: 'x'.repeat(2000) });
    verdicts.report('gpu-0', 'aer', { state: 'unhealthy', reason: 'aer-fatal' }); // xid still wins: no change
    verdicts.report('gpu-0', 'xid', { state: 'healthy' }); // now aer shows
    verdicts.withdraw('gpu-0', 'aer');
    expect(changes).toEqual([
      'gpu-0:healthy::discovery',
      'gpu-0:unhealthy:XID-48-double-bit-ecc:xid',
      'gpu-0:unhealthy:aer-fatal:aer',
      // healthy again: the source shown is the most decisive one that spoke (xid)
      'gpu-0:healthy::xid',
    ]);
    expect(verdicts.reading('gpu-0', 'xid')?.state).toBe('healthy');
  });

  it('caps the board message at the kubelet stream limit (1024 chars)', () => {
    const board = new DeviceHealthBoard();
    new HealthVerdicts(board).report('gpu-1', 'xid', { state: 'unhealthy', reason: 'r', message: 'y'.repeat(5000) });
    expect(board.get('gpu-1')?.message).toHaveLength(1024);
  });
});
