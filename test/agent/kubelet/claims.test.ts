import { describe, expect, it } from 'vitest';
import type { DiscoveredDevice } from '../../../agent/discovery/inventory.js';
import { baseRequestName, type PlanContext, planClaim, validateClaimRequest } from '../../../agent/kubelet/claims.js';
import { servedDevices } from '../../../agent/kubelet/plugin.js';
import { claimObject, h100Inventory } from './fixtures.js';

const UID = '0b7e3c0e-6d1e-4a57-9d3c-2f1a1c1e0001';
const request = { namespace: 'default', name: 'train', uid: UID };

function context(overrides: Partial<PlanContext> = {}): PlanContext {
  return {
    driver: 'lockstep.dev',
    nodeName: 'gpu-node-1',
    poolName: 'gpu-node-1',
    devices: servedDevices(h100Inventory()),
    health: () => undefined,
    ...overrides,
  };
}

describe('planClaim', () => {
  it('takes this driver’s results in this node’s pool, in allocation order', () => {
    const claim = claimObject({
      name: 'train',
      uid: UID,
      results: [
        { request: 'gpus', device: 'gpu-1' },
        { request: 'nic', device: 'nic-0000-1a-00-0' },
        { request: 'other', device: 'x', driver: 'gpu.nvidia.com', pool: 'elsewhere' },
        { request: 'gpus', device: 'gpu-0' },
      ],
    });
    const plan = planClaim(request, claim, context());
    expect(plan.ok).toBe(true);
    if (!plan.ok) return;
    expect(plan.devices.map((entry) => [entry.device.name, entry.requestNames])).toEqual([
      ['gpu-1', ['gpus']],
      ['nic-0000-1a-00-0', ['nic']],
      ['gpu-0', ['gpus']],
    ]);
  });

  it('merges requests that got the same device and strips subrequests', () => {
    const claim = claimObject({
      name: 'train',
      uid: UID,
      results: [
        { request: 'a/h100', device: 'gpu-2' },
        { request: 'b', device: 'gpu-2' },
      ],
    });
    const plan = planClaim(request, claim, context());
    expect(plan.ok && plan.devices.map((entry) => entry.requestNames)).toEqual([['a', 'b']]);
    expect(baseRequestName('gpus/h100')).toBe('gpus');
  });

  it('a claim with no results for this driver prepares nothing', () => {
    const claim = claimObject({ name: 'train', uid: UID, results: [{ request: 'x', device: 'd', driver: 'dra.net' }] });
    expect(planClaim(request, claim, context())).toEqual({ ok: true, devices: [] });
  });

  it.each([
    ['claim not found', undefined, /ResourceClaim default\/train not found in the API/],
    [
      'UID mismatch',
      claimObject({ name: 'train', uid: 'other-uid', results: [] }),
      /has UID other-uid in the API but the kubelet asked for UID 0b7e3c0e.*deleted and recreated/,
    ],
    ['not allocated', claimObject({ name: 'train', uid: UID, results: [], allocated: false }), /is not allocated/],
    [
      'device in another pool',
      claimObject({ name: 'train', uid: UID, results: [{ request: 'g', device: 'gpu-0', pool: 'gpu-node-2' }] }),
      /device gpu-node-2\/gpu-0 of ResourceClaim default\/train is not on node gpu-node-1/,
    ],
    [
      'device unknown on this node',
      claimObject({ name: 'train', uid: UID, results: [{ request: 'g', device: 'gpu-9' }] }),
      /device gpu-9 of ResourceClaim default\/train is not on node gpu-node-1: this node has no such device/,
    ],
  ])('%s → a per-claim error a user can act on', (_label, claim, message) => {
    const plan = planClaim(request, claim, context());
    expect(plan.ok).toBe(false);
    if (!plan.ok) expect(plan.error).toMatch(message);
  });

  it('refuses an unhealthy device with the monitor’s reason', () => {
    const claim = claimObject({ name: 'train', uid: UID, results: [{ request: 'g', device: 'gpu-4' }] });
    const plan = planClaim(
      request,
      claim,
      context({
        health: (device) =>
          device === 'gpu-4' ? { state: 'unhealthy', reason: 'XID 79: fallen off the bus' } : undefined,
      }),
    );
    expect(plan).toEqual({
      ok: false,
      error:
        'device gpu-4 of ResourceClaim default/train on node gpu-node-1 is unhealthy (XID 79: fallen off the bus): delete the pod so that the claim is allocated on a healthy device',
    });
  });

  it('falls back to discovery’s reading when the board has none', () => {
    const inventory = h100Inventory();
    (inventory.devices[0] as DiscoveredDevice).health = { state: 'unhealthy', reason: 'ECC' };
    const claim = claimObject({ name: 'train', uid: UID, results: [{ request: 'g', device: 'gpu-0' }] });
    const plan = planClaim(request, claim, context({ devices: servedDevices(inventory) }));
    expect(plan.ok).toBe(false);
  });
});

describe('validateClaimRequest', () => {
  it.each([
    [{ namespace: 'default', name: 'c', uid: '' }, /has no UID/],
    [{ namespace: 'default', name: 'c', uid: '../../etc/passwd' }, /malformed UID/],
    [{ namespace: 'default', name: 'c', uid: 'a/b' }, /malformed UID/],
    [{ namespace: '', name: 'c', uid: UID }, /lacks a name or namespace/],
    [{ namespace: 'default', name: '', uid: UID }, /lacks a name or namespace/],
  ])('%j is refused', (claim, message) => {
    expect(validateClaimRequest(claim)).toMatch(message);
  });

  it('accepts a normal claim', () => {
    expect(validateClaimRequest(request)).toBeUndefined();
  });
});
