import { describe, expect, it } from 'vitest';
import { DRIVER } from '../../../src/contract/names.js';
import { holdersByDevice } from '../../../src/kubectl/model/claims.js';
import { claim } from '../fixtures.js';

describe('holdersByDevice', () => {
  it('maps pool/device to claim and pods, for this driver only', () => {
    const c = claim('ml', 'c1', { name: 'p1', uid: 'u1' }, [{ pool: 'h100-a', device: 'gpu-0' }]);
    const foreign = claim('ml', 'c2', undefined, [{ pool: 'h100-a', device: 'gpu-1' }]);
    foreign.status!.allocation!.devices!.results![0]!.driver = 'gpu.nvidia.com';
    const map = holdersByDevice([c, foreign], DRIVER);
    expect([...map.keys()]).toEqual(['h100-a/gpu-0']);
    expect(map.get('h100-a/gpu-0')).toEqual({ namespace: 'ml', claim: 'c1', request: 'gpus', pods: ['p1'] });
  });
});
