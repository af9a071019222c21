import { describe, expect, it } from 'vitest';
import type { BoardEntry } from '../../../agent/health/board.js';
import {
  claimNamesOfPod,
  currentCondition,
  desiredCondition,
  devicesOfClaim,
} from '../../../agent/health/pod-conditions.js';
import type { Pod, ResourceClaim } from '../../../src/kube/types.js';

const pod = (extra: Partial<Pod['spec']>, status?: Pod['status']): Pod => ({
  metadata: { name: 'p', namespace: 'ns' },
  spec: { containers: [{ name: 'c' }], ...extra },
  ...(status ? { status } : {}),
});

describe('claimNamesOfPod', () => {
  it('takes direct claim names from the spec and generated ones from the status', () => {
    const p = pod(
      {
        resourceClaims: [
          { name: 'a', resourceClaimName: 'shared' },
          { name: 'b', resourceClaimTemplateName: 'tpl' },
        ],
      },
      { resourceClaimStatuses: [{ name: 'b', resourceClaimName: 'p-b-x7k2' }] },
    );
    expect(claimNamesOfPod(p).sort()).toEqual(['p-b-x7k2', 'shared']);
    expect(claimNamesOfPod(pod({ resourceClaims: [{ name: 'b', resourceClaimTemplateName: 'tpl' }] }))).toEqual([]);
  });
});

describe('devicesOfClaim', () => {
  it('keeps only this driver and pool', () => {
    const claim: ResourceClaim = {
      metadata: { name: 'c' },
      spec: {},
      status: {
        allocation: {
          devices: {
            results: [
              { request: 'r', driver: 'lockstep.dev', pool: 'node-a', device: 'gpu-0' },
              { request: 'r', driver: 'lockstep.dev', pool: 'node-b', device: 'gpu-1' },
              { request: 'r', driver: 'gpu.nvidia.com', pool: 'node-a', device: 'gpu-2' },
              { request: 's', driver: 'lockstep.dev', pool: 'node-a', device: 'gpu-0' },
            ],
          },
        },
      },
    };
    expect(devicesOfClaim(claim, 'lockstep.dev', 'node-a')).toEqual(['gpu-0']);
    expect(devicesOfClaim({ metadata: {}, spec: {} }, 'lockstep.dev', 'node-a')).toEqual([]);
  });
});

describe('desiredCondition', () => {
  const board = new Map<string, BoardEntry>([
    ['gpu-0', { device: 'gpu-0', state: 'healthy', since: 0 }],
    ['gpu-1', { device: 'gpu-1', state: 'unhealthy', reason: 'ecc-uncorrectable', message: '3 errors', since: 0 }],
    ['gpu-2', { device: 'gpu-2', state: 'unknown', reason: 'nvidia-smi-missing', since: 0 }],
  ]);
  const health = (d: string) => board.get(d);

  it('is True when every device is healthy, so a healthy member reads Healthy rather than Unknown', () => {
    expect(desiredCondition(['gpu-0'], health, undefined)).toEqual({
      type: 'lockstep.dev/DevicesHealthy',
      status: 'True',
      reason: 'DevicesHealthy',
      message: 'healthy: gpu-0',
    });
  });

  it('writes no first condition while a device is unknown or not yet on the board (no guess)', () => {
    expect(desiredCondition(['gpu-0', 'gpu-2'], health, undefined)).toBeUndefined();
    expect(desiredCondition(['gpu-0', 'gpu-9'], health, undefined)).toBeUndefined();
  });

  it('is False naming the unhealthy devices', () => {
    expect(desiredCondition(['gpu-0', 'gpu-1'], health, undefined)).toEqual({
      type: 'lockstep.dev/DevicesHealthy',
      status: 'False',
      reason: 'DeviceUnhealthy',
      message: 'unhealthy: gpu-1: ecc-uncorrectable (3 errors)',
    });
  });

  it('turns True (or Unknown) once a condition exists', () => {
    const was = {
      type: 'lockstep.dev/DevicesHealthy',
      status: 'False' as const,
      reason: 'DeviceUnhealthy',
      message: '',
    };
    expect(desiredCondition(['gpu-0'], health, was)?.status).toBe('True');
    expect(desiredCondition(['gpu-0', 'gpu-2'], health, was)).toMatchObject({
      status: 'Unknown',
      reason: 'DeviceHealthUnknown',
    });
    expect(desiredCondition(['gpu-9'], health, was)).toMatchObject({
      status: 'Unknown',
      message: 'health unknown: gpu-9: not checked yet',
    });
  });

  it('reads the current condition from the pod', () => {
    const p = pod(
      {},
      {
        conditions: [{ type: 'lockstep.dev/DevicesHealthy', status: 'False', reason: 'DeviceUnhealthy', message: 'm' }],
      },
    );
    expect(currentCondition(p)).toEqual({
      type: 'lockstep.dev/DevicesHealthy',
      status: 'False',
      reason: 'DeviceUnhealthy',
      message: 'm',
    });
    expect(currentCondition(pod({}))).toBeUndefined();
  });
});
