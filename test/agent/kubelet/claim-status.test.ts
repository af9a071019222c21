/**
 * The claims' `status.devices` entries (agent/kubelet/claim-status.ts): what a prepared claim reports, other drivers'
 * entries left alone, the API's limits kept, and the writer's read-modify-write (conflicts read again, refusals logged).
 */
import { describe, expect, it } from 'vitest';
import type { DiscoveredDevice, NicDevice } from '../../../agent/discovery/inventory.js';
import { ClaimStatusWriter, preparedDeviceStatuses, replaceOwnEntries } from '../../../agent/kubelet/claim-status.js';
import type { PlannedDevice } from '../../../agent/kubelet/claims.js';
import { ApiError } from '../../../src/kube/client.js';
import { silentLogger } from '../../../src/log.js';
import { h100Inventory } from './fixtures.js';

const inventory = h100Inventory();
const gpu = inventory.devices.find((d) => d.kind === 'gpu');
const nic = inventory.devices.find((d) => d.kind === 'nic' && d.ifName !== '') as NicDevice;
const planned = (device: DiscoveredDevice, name = device.name): PlannedDevice => ({
  device,
  allocatedName: name,
  requestNames: ['r'],
});

describe('status.devices entries', () => {
  it('reports Ready for every device and networkData for a NIC', () => {
    if (!gpu) throw new Error('fixture has a GPU');
    const addresses = new Map([[nic.ifName, ['10.0.0.5/24', 'fd00::5/64']]]);
    const entries = preparedDeviceStatuses({
      driver: 'lockstep.dev',
      pool: 'node-1',
      devices: [planned(gpu), planned(nic)],
      addresses,
      now: '2026-12-07T03:00:00Z',
    });
    expect(entries.map((e) => [e.driver, e.pool, e.device])).toEqual([
      ['lockstep.dev', 'node-1', gpu.name],
      ['lockstep.dev', 'node-1', nic.name],
    ]);
    for (const entry of entries)
      expect(entry.conditions).toEqual([
        expect.objectContaining({ type: 'Ready', status: 'True', lastTransitionTime: '2026-12-07T03:00:00Z' }),
      ]);
    expect(entries[0]?.networkData).toBeUndefined();
    expect(entries[1]?.networkData).toEqual({
      interfaceName: nic.ifName,
      ips: ['10.0.0.5/24', 'fd00::5/64'],
      ...(nic.mac ? { hardwareAddress: nic.mac } : {}),
    });
  });

  it('keeps the transition time of a Ready condition already there, and the API limits', () => {
    const long = { ...nic, ifName: 'x'.repeat(300), mac: 'm'.repeat(200) };
    const many = Array.from({ length: 20 }, (_, i) => `10.0.${i}.1/24`);
    const first = preparedDeviceStatuses({
      driver: 'd',
      pool: 'p',
      devices: [planned(long, 'nic-a')],
      addresses: new Map([[long.ifName, many]]),
      now: '2026-12-07T03:00:00Z',
    });
    expect(first[0]?.networkData?.interfaceName).toHaveLength(256);
    expect(first[0]?.networkData?.hardwareAddress).toHaveLength(128);
    expect(first[0]?.networkData?.ips).toHaveLength(16);
    const again = preparedDeviceStatuses({
      driver: 'd',
      pool: 'p',
      devices: [planned(long, 'nic-a')],
      addresses: new Map(),
      now: '2026-12-07T04:00:00Z',
      existing: first,
    });
    expect(again[0]?.conditions?.[0]?.lastTransitionTime).toBe('2026-12-07T03:00:00Z');
  });

  it.each([
    ['replaces own entries of this pool only', [{ driver: 'd', pool: 'p', device: 'old' }], 1],
    ['keeps another driver', [{ driver: 'dra.net', pool: 'p', device: 'eth1' }], 2],
    ['keeps another pool of the same driver', [{ driver: 'd', pool: 'other', device: 'x' }], 2],
  ])('%s', (_name, existing, total) => {
    const ours = [{ driver: 'd', pool: 'p', device: 'new' }];
    const next = replaceOwnEntries(existing, 'd', 'p', ours);
    expect(next).toHaveLength(total);
    expect(next.at(-1)).toEqual(ours[0]);
    expect(replaceOwnEntries(next, 'd', 'p', [])).toEqual(
      existing.filter((e) => !(e.driver === 'd' && e.pool === 'p')),
    );
  });
});

describe('ClaimStatusWriter', () => {
  function fakeApi(fail: number[]) {
    let claim: Record<string, unknown> = {
      metadata: { name: 'c', namespace: 'ns', uid: 'u1', resourceVersion: '1' },
      status: { devices: [{ driver: 'dra.net', pool: 'node-1', device: 'eth1' }] },
    };
    const puts: unknown[] = [];
    return {
      puts,
      current: () => claim,
      api: {
        get: async <T>() => structuredClone(claim) as T,
        replace: async <T>(_path: string, body: unknown) => {
          const code = fail.shift();
          if (code) throw new ApiError(code, 'PUT', _path, { message: 'no' });
          puts.push(body);
          claim = body as Record<string, unknown>;
          return body as T;
        },
      },
    };
  }

  it('writes after a conflict, leaves other drivers alone, and clears on unprepare', async () => {
    const fake = fakeApi([409]);
    const writer = new ClaimStatusWriter({
      api: fake.api,
      driver: 'lockstep.dev',
      pool: 'node-1',
      log: silentLogger(),
      addresses: async () => new Map([[nic.ifName, ['10.0.0.5/24']]]),
    });
    const ref = { namespace: 'ns', name: 'c', uid: 'u1' };
    await writer.prepared(ref, [planned(nic)]);
    const devices = (fake.current().status as { devices: { driver: string; networkData?: unknown }[] }).devices;
    expect(devices.map((d) => d.driver)).toEqual(['dra.net', 'lockstep.dev']);
    expect(devices[1]?.networkData).toMatchObject({ ips: ['10.0.0.5/24'] });
    await writer.unprepared(ref);
    expect((fake.current().status as { devices: unknown[] }).devices).toEqual([
      { driver: 'dra.net', pool: 'node-1', device: 'eth1' },
    ]);
    await writer.unprepared(ref); // nothing left of ours: no write
    expect(fake.puts).toHaveLength(2);
  });

  it('gives up quietly when refused, and skips a claim recreated under the same name', async () => {
    const fake = fakeApi([422]);
    const writer = new ClaimStatusWriter({
      api: fake.api,
      driver: 'lockstep.dev',
      pool: 'node-1',
      log: silentLogger(),
      addresses: async () => new Map(),
    });
    await expect(writer.prepared({ namespace: 'ns', name: 'c', uid: 'u1' }, [planned(nic)])).resolves.toBeUndefined();
    await writer.prepared({ namespace: 'ns', name: 'c', uid: 'other-uid' }, [planned(nic)]);
    await writer.idle();
    expect(fake.puts).toHaveLength(0);
  });
});
