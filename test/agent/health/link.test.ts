import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LinkHysteresis, linkStatus, sysfsEnum } from '../../../agent/health/link.js';
import { describeRecorded } from '../../support/recorded.js';
import { ibstatPorts } from './ibstat.js';
import { FIXTURES } from './support.js';

describe('linkStatus', () => {
  it('is up for an active RoCE port with an up netdev', () => {
    expect(
      linkStatus({
        ifName: 'enp26s0np0',
        operState: 'up',
        carrier: true,
        ports: [{ device: 'mlx5_0', port: 1, state: '4: ACTIVE', physState: '5: LinkUp' }],
      }),
    ).toEqual({ up: true });
  });

  it('names every problem, the RDMA port first', () => {
    const s = linkStatus({
      ifName: 'enp27s0f0np0',
      operState: 'down',
      ports: [{ device: 'mlx5_2', port: 1, state: '1: DOWN', physState: '3: Disabled' }],
    });
    expect(s).toEqual({
      up: false,
      reason: 'rdma-port-down',
      message: 'mlx5_2 port 1: DOWN / Disabled; enp27s0f0np0: operstate down',
    });
  });

  it('uses carrier when operstate says unknown, and treats a vanished netdev as down', () => {
    expect(linkStatus({ ifName: 'ib0', operState: 'unknown', carrier: true, ports: [] }).up).toBe(true);
    expect(linkStatus({ ifName: 'ib0', operState: 'unknown', carrier: false, ports: [] })).toMatchObject({
      reason: 'no-carrier',
    });
    expect(linkStatus({ ifName: 'eth9', netdevMissing: true, ports: [] })).toMatchObject({ reason: 'netdev-missing' });
  });

  it('reads ports that are up but not yet ACTIVE (INIT, ARMED) as down', () => {
    expect(linkStatus({ ports: [{ device: 'mlx5_0', port: 1, state: '2: INIT', physState: '5: LinkUp' }] }).up).toBe(
      false,
    );
  });

  it('strips sysfs enum numbers', () => {
    expect(sysfsEnum('4: ACTIVE')).toBe('ACTIVE');
    expect(sysfsEnum('5: LinkUp\n')).toBe('LinkUp');
    expect(sysfsEnum('ACTIVE')).toBe('ACTIVE');
  });
});

describe('LinkHysteresis', () => {
  const up = { up: true };
  const down = (reason = 'netdev-down') => ({ up: false, reason, message: reason });

  it('is healthy at once when the link is up at the first look', () => {
    expect(new LinkHysteresis(10_000).observe(up, 0)).toEqual({ state: 'healthy' });
  });

  it('a port down since the first look is no fault; once it has been up, going down is', () => {
    const h = new LinkHysteresis(1000);
    const steps: [number, { up: boolean }, string][] = [
      [0, down('no-carrier'), 'healthy'],
      [5000, down('no-carrier'), 'healthy'],
      [6000, up, 'healthy'],
      [7000, down('netdev-down'), 'unhealthy'],
    ];
    for (const [t, status, want] of steps) expect([t, h.observe(status, t).state]).toEqual([t, want]);
  });

  it('stays unhealthy through a flap and turns healthy only after stableMs of uninterrupted up', () => {
    const h = new LinkHysteresis(10_000);
    const seen: string[] = [];
    const at = (t: number, s: { up: boolean }) => {
      const r = h.observe(s, t);
      seen.push(`${t}:${r.state}:${r.reason ?? ''}`);
    };
    at(0, up);
    at(1000, down('netdev-down'));
    at(2000, up);
    at(3000, down('no-carrier')); // flaps again: same report, first reason kept
    at(4000, up);
    at(13_999, up);
    at(14_000, up);
    expect(seen).toEqual([
      '0:healthy:',
      '1000:unhealthy:netdev-down',
      '2000:unhealthy:netdev-down',
      '3000:unhealthy:netdev-down',
      '4000:unhealthy:netdev-down',
      '13999:unhealthy:netdev-down',
      '14000:healthy:',
    ]);
    expect(h.settlesIn(14_000)).toBeUndefined();
  });

  it('says how long a settling link has left', () => {
    const h = new LinkHysteresis(5000);
    h.observe(up, 0);
    h.observe(down(), 0);
    h.observe(up, 1000);
    expect(h.settlesIn(3000)).toBe(3000);
  });
});

describeRecorded('the recorded ibstat "some ports down" (H100 node)', () => {
  const ports = () =>
    ibstatPorts(readFileSync(join(FIXTURES, 'infiniband', 'gpud__ibstat__h100-node__some-ports-down.txt'), 'utf8'));

  it('maps the Down/Disabled ports to down links and the Active/LinkUp ones to up', () => {
    const recorded = ports();
    const verdicts = new Map(recorded.map((p) => [p.device, linkStatus({ ports: [p] })]));
    const down = [...verdicts].filter(([, s]) => !s.up).map(([d]) => d);
    const up = [...verdicts].filter(([, s]) => s.up).map(([d]) => d);
    // checked by hand in the capture: mlx5_2, mlx5_7 and mlx5_8 are "Down / Disabled", the other 9 "Active / LinkUp"
    expect(recorded).toHaveLength(12);
    expect(down.sort()).toEqual(['mlx5_2', 'mlx5_7', 'mlx5_8']);
    expect(up).toHaveLength(9);
    for (const d of down) expect(verdicts.get(d)).toMatchObject({ reason: 'rdma-port-down' });
  });
});
