import { EventEmitter } from 'node:events';
import type { ServerWritableStream } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { DeviceHealthBoard } from '../../../agent/health/board.js';
import { deviceHealthText, HealthStreamServer, healthMessage } from '../../../agent/kubeletplugin/health-stream.js';
import type { NodeWatchResourcesResponse } from '../../../agent/kubeletplugin/protos.js';
import { silentLogger } from '../../../src/log.js';

/** A server stream whose client reads nothing: write() reports a full buffer until drain is emitted. */
class StalledCall extends EventEmitter {
  written: NodeWatchResourcesResponse[] = [];
  full = true;
  write(message: NodeWatchResourcesResponse): boolean {
    this.written.push(message);
    return !this.full;
  }
  end(): void {}
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('HealthStreamServer', () => {
  it('keeps at most one pending list for a stalled reader and sends only the newest on drain', async () => {
    const board = new DeviceHealthBoard(() => 5_000);
    board.set('gpu-0', { state: 'healthy' });
    const server = new HealthStreamServer({
      poolName: 'n1',
      snapshot: () => board.all().map((entry) => ({ ...entry })),
      subscribe: (onChange) => board.subscribe(onChange),
      timeoutSeconds: 60,
      resendIntervalMs: 60_000,
      log: silentLogger(),
    });
    server.start();
    const call = new StalledCall();
    server.handler(call as unknown as ServerWritableStream<unknown, NodeWatchResourcesResponse>);
    expect(call.written).toHaveLength(1);
    for (let i = 0; i < 100; i++) {
      board.set('gpu-0', { state: i % 2 ? 'healthy' : 'unhealthy', reason: `change ${i}` });
      await tick();
    }
    // Blocked since the first write: nothing more was written while it stayed full.
    expect(call.written).toHaveLength(1);
    call.full = false;
    call.emit('drain');
    expect(call.written).toHaveLength(2);
    expect(call.written[1]?.devices[0]).toMatchObject({ health: 'HEALTHY', message: 'change 99' });
    call.emit('cancelled');
    expect(server.connections()).toBe(0);
    server.stop();
  });

  it('maps states and clamps the message to 1024 characters', () => {
    const message = healthMessage(
      'n1',
      [
        { device: 'a', state: 'healthy', since: 2_500 },
        { device: 'b', state: 'unhealthy', reason: 'x'.repeat(2000) },
        { device: 'c', state: 'unknown' },
      ],
      30,
      10_000,
    );
    expect(message.devices.map((device) => [device.health, device.lastUpdatedTime, device.message.length])).toEqual([
      ['HEALTHY', 2, 0],
      ['UNHEALTHY', 10, 1024],
      ['UNKNOWN', 10, 0],
    ]);
    expect(message.devices[1]?.message.endsWith('x...')).toBe(true);
    expect(message.devices.every((device) => device.healthCheckTimeoutSeconds === 30)).toBe(true);
  });

  it.each([
    [
      'the fault in words wins over the short reason',
      { reason: 'xid-79', message: 'XID 79: GPU has fallen off the bus' },
      'XID 79: GPU has fallen off the bus',
    ],
    ['the reason when there are no words', { reason: 'nvidia-smi-failed' }, 'nvidia-smi-failed'],
    ['nothing for a healthy device', {}, ''],
    ['exactly 1024 characters are kept whole', { message: 'y'.repeat(1024) }, 'y'.repeat(1024)],
    ['1025 characters are cut as the kubelet cuts them', { message: 'z'.repeat(1025) }, `${'z'.repeat(1021)}...`],
  ])('message: %s', (_name, reading, expected) => {
    expect(deviceHealthText(reading)).toBe(expected);
  });
});
