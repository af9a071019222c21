/**
 * The kubelet's device health stream (KEP-4680, FACTS.md §3, §11): every message is the complete device list, the same
 * for the v1, v1beta1 and v1alpha1 packages (one handler serves all three). Sent on
 * connect, on every change, and again every `resendIntervalMs`, because the kubelet reads a device as Unknown when it
 * has not been reported for its timeout (30 s in 1.34, which ignores healthCheckTimeoutSeconds). Many kubelet
 * connections may be open at once; a reader that does not keep up gets only the newest list once it drains (one
 * pending list per connection at most), so it never holds the agent up or grows memory.
 */
import type { ServerWritableStream } from '@grpc/grpc-js';
import type { Logger } from '../../src/log.js';
import type { DeviceHealthMessage, NodeWatchResourcesResponse, WireHealthStatus } from './protos.js';

/** A device's health as the driver judges it. */
export interface DeviceHealthReading {
  state: 'healthy' | 'unhealthy' | 'unknown';
  /** short, label-value safe */
  reason?: string;
  /** the fault in words */
  message?: string;
}

/** One device's health as the stream reports it. */
export interface DeviceHealthSnapshot extends DeviceHealthReading {
  device: string;
  /** Unix ms of the last change */
  since?: number;
}

export interface HealthStreamOptions {
  poolName: string;
  /** every device of this node with its current health */
  snapshot: () => DeviceHealthSnapshot[];
  /** calls back on any health change; returns the unsubscribe function */
  subscribe: (onChange: () => void) => () => void;
  /** healthCheckTimeoutSeconds sent with every device */
  timeoutSeconds: number;
  resendIntervalMs: number;
  now?: () => number;
  log: Logger;
}

/** The kubelet keeps at most 1024 characters of `message` and cuts longer text to 1021 + "..." (FACTS §11). */
const MAX_HEALTH_MESSAGE = 1024;

/**
 * The `message` of one device: the fault in words (the board's `message`, e.g. "XID 79 on 0000:1b:00.0: GPU has
 * fallen off the bus …"), else the short reason, else nothing for a healthy device. Cut the way the kubelet would, so
 * what it shows is what we sent.
 */
export function deviceHealthText(reading: Pick<DeviceHealthReading, 'reason' | 'message'>): string {
  const text = (reading.message ?? reading.reason ?? '').trim();
  if (text.length <= MAX_HEALTH_MESSAGE) return text;
  return `${text.slice(0, MAX_HEALTH_MESSAGE - 3)}...`;
}

function toWireHealth(state: DeviceHealthReading['state']): WireHealthStatus {
  return state === 'healthy' ? 'HEALTHY' : state === 'unhealthy' ? 'UNHEALTHY' : 'UNKNOWN';
}

export function healthMessage(
  poolName: string,
  devices: DeviceHealthSnapshot[],
  timeoutSeconds: number,
  fallbackSince: number,
): NodeWatchResourcesResponse {
  return {
    devices: devices.map(
      (entry): DeviceHealthMessage => ({
        device: { poolName, deviceName: entry.device },
        health: toWireHealth(entry.state),
        lastUpdatedTime: Math.floor((entry.since ?? fallbackSince) / 1000),
        healthCheckTimeoutSeconds: timeoutSeconds,
        message: deviceHealthText(entry),
      }),
    ),
  };
}

type Call = ServerWritableStream<unknown, NodeWatchResourcesResponse>;

interface Watcher {
  call: Call;
  blocked: boolean;
  pending: boolean;
}

export class HealthStreamServer {
  private readonly watchers = new Set<Watcher>();
  private readonly startedAt: number;
  private unsubscribe: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private scheduled = false;

  constructor(private readonly options: HealthStreamOptions) {
    this.startedAt = (options.now ?? Date.now)();
  }

  start(): void {
    this.unsubscribe ??= this.options.subscribe(() => this.broadcast());
    this.timer ??= setInterval(() => this.broadcast(), this.options.resendIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const watcher of this.watchers) watcher.call.end();
    this.watchers.clear();
  }

  connections(): number {
    return this.watchers.size;
  }

  /** The gRPC handler for NodeWatchResources. */
  readonly handler = (call: Call): void => {
    const watcher: Watcher = { call, blocked: false, pending: false };
    this.watchers.add(watcher);
    this.options.log.info({ connections: this.watchers.size }, 'kubelet opened the device health stream');
    const drop = () => {
      if (this.watchers.delete(watcher)) {
        this.options.log.info({ connections: this.watchers.size }, 'kubelet closed the device health stream');
      }
    };
    call.on('cancelled', drop);
    call.on('close', drop);
    call.on('error', drop);
    call.on('drain', () => {
      watcher.blocked = false;
      if (watcher.pending) this.send(watcher, this.message());
    });
    this.send(watcher, this.message());
  };

  /** Sends the current list to every connection soon (changes in one tick are coalesced into one message). */
  broadcast(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.watchers.size === 0) return;
      const message = this.message();
      for (const watcher of this.watchers) this.send(watcher, message);
    });
  }

  private message(): NodeWatchResourcesResponse {
    return healthMessage(this.options.poolName, this.options.snapshot(), this.options.timeoutSeconds, this.startedAt);
  }

  private send(watcher: Watcher, message: NodeWatchResourcesResponse): void {
    if (watcher.blocked) {
      watcher.pending = true;
      return;
    }
    watcher.pending = false;
    try {
      if (!watcher.call.write(message)) watcher.blocked = true;
    } catch (error) {
      this.options.log.warn({ error: String(error) }, 'health stream write failed; dropping the connection');
      this.watchers.delete(watcher);
    }
  }
}
