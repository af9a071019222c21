import { describe, expect, it } from 'vitest';
import { keepDeviceTypes, parseDeviceTypes } from '../../../agent/discovery/device-types.js';
import { parseLockstep } from '../../support/parse-command.js';
import { h100Inventory } from '../slices/h100-inventory.js';

describe('--device-types', () => {
  it('parses comma-separated kinds, case and spaces aside, without repeats', () => {
    expect(parseDeviceTypes('gpu')).toEqual(['gpu']);
    expect(parseDeviceTypes(' GPU, nic ,gpu')).toEqual(['gpu', 'nic']);
  });

  it('refuses unknown or empty lists and names the allowed values', () => {
    expect(() => parseDeviceTypes('gpu,fpga')).toThrow(
      /"gpu,fpga" is not a list of device types \(allowed: gpu, tpu, nic/,
    );
    expect(() => parseDeviceTypes(' , ')).toThrow(/not a list of device types/);
  });

  it('is a usage error on the command line and in its env twin', async () => {
    const flagged = await parseLockstep(['agent', '--device-types', 'fpga']);
    expect(flagged.status).toBe(2);
    expect(flagged.stderr).toMatch(/^error: .*"fpga" is not a list of device types/);
    const twin = await parseLockstep(['agent'], { LOCKSTEP_DEVICE_TYPES: 'fpga', NODE_NAME: 'n1' });
    expect(twin.status).toBe(2);
  });
});

describe('keepDeviceTypes on the recorded 8x H100 node', () => {
  const inventory = h100Inventory();
  const count = (inv: typeof inventory, kind: string) => inv.devices.filter((d) => d.kind === kind).length;

  it('gpu-only keeps the GPUs and drops NICs, also from the GPU↔NIC affinity', () => {
    const gpuOnly = keepDeviceTypes(inventory, ['gpu']);
    expect(count(gpuOnly, 'gpu')).toBe(count(inventory, 'gpu'));
    expect(count(gpuOnly, 'gpu')).toBeGreaterThan(0);
    expect(count(gpuOnly, 'nic')).toBe(0);
    expect(gpuOnly.affinity.length).toBe(inventory.affinity.length);
    expect(gpuOnly.affinity.every((a) => a.nics.length === 0)).toBe(true);
  });

  it('nic-only keeps the NICs and no affinity rows', () => {
    const nicOnly = keepDeviceTypes(inventory, ['nic']);
    expect(count(nicOnly, 'nic')).toBe(count(inventory, 'nic'));
    expect(count(nicOnly, 'gpu')).toBe(0);
    expect(nicOnly.affinity).toEqual([]);
  });

  it('all kinds change nothing', () => {
    expect(keepDeviceTypes(inventory, ['gpu', 'tpu', 'nic'])).toEqual(inventory);
  });
});
