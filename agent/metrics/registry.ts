import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import type { BoardEntry, DeviceHealthBoard } from '../health/board.js';
import type { HealthHooks } from '../health/hooks.js';

export interface AgentMetricsOptions {
  /** process_* and nodejs_* metrics (resident memory, CPU, event-loop lag); on by default */
  defaultMetrics?: boolean;
  /** labels on every series, e.g. `{ node: 'gpu-node-1' }` */
  labels?: Record<string, string>;
}

const STATES = ['healthy', 'unhealthy', 'unknown'] as const;

/**
 * The agent's Prometheus metrics, one registry per agent (tests make many). Health monitors report through the
 * HealthHooks interface; other managers add their own metrics to `registry`.
 */
export class AgentMetrics implements HealthHooks {
  readonly registry = new Registry();
  /** state set per device: 1 for the current state, 0 for the others (kube-state-metrics style) */
  readonly deviceHealth: Gauge<'device' | 'type' | 'state'>;
  readonly healthChanges: Counter<'device' | 'state'>;
  readonly xidEvents: Counter<'device' | 'xid' | 'fault'>;
  readonly scanDuration: Histogram<'monitor'>;
  readonly apiErrors: Counter<'component' | 'verb' | 'resource' | 'code'>;
  readonly kernelLogLostRecords: Counter;
  readonly driverRootUsable: Gauge<'root'>;

  constructor(options: AgentMetricsOptions = {}) {
    if (options.labels) this.registry.setDefaultLabels(options.labels);
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    this.driverRootUsable = new Gauge({
      name: 'lockstep_driver_root_nvidia_smi',
      help: 'Whether nvidia-smi was found under the driver root (--driver-root): 1 found, 0 missing (GPUs by PCI id only)',
      labelNames: ['root'],
      registers,
    });
    this.deviceHealth = new Gauge({
      name: 'lockstep_device_health',
      help: 'Device health as a state set: 1 for the current state (healthy, unhealthy, unknown), 0 otherwise',
      labelNames: ['device', 'type', 'state'],
      registers,
    });
    this.healthChanges = new Counter({
      name: 'lockstep_device_health_changes_total',
      help: 'Health changes per device, by the state changed to',
      labelNames: ['device', 'state'],
      registers,
    });
    this.xidEvents = new Counter({
      name: 'lockstep_xid_events_total',
      help: 'NVIDIA XID events read from the kernel log, by device and XID code (fault=false: application XIDs)',
      labelNames: ['device', 'xid', 'fault'],
      registers,
    });
    this.scanDuration = new Histogram({
      name: 'lockstep_health_scan_duration_seconds',
      help: 'Duration of one pass of a health monitor (nvidia-smi, sysfs) or a discovery scan',
      labelNames: ['monitor'],
      buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30],
      registers,
    });
    this.apiErrors = new Counter({
      name: 'lockstep_api_errors_total',
      help: 'Failed Kubernetes API calls, by component, verb, resource and HTTP status (0: no answer)',
      labelNames: ['component', 'verb', 'resource', 'code'],
      registers,
    });
    this.kernelLogLostRecords = new Counter({
      name: 'lockstep_kernel_log_records_lost_total',
      help: 'Kernel log records overwritten before the agent could read them',
      registers,
    });
  }

  /** Records whether nvidia-smi was found under the driver root. */
  setDriverRoot(root: string, found: boolean): void {
    this.driverRootUsable.set({ root }, found ? 1 : 0);
  }

  /** Mirrors the board into lockstep_device_health; returns the unsubscribe function. */
  watchBoard(board: DeviceHealthBoard, typeOf: (device: string) => string = deviceType): () => void {
    const show = (entry: BoardEntry) => {
      for (const state of STATES) {
        this.deviceHealth.set(
          { device: entry.device, type: typeOf(entry.device), state },
          state === entry.state ? 1 : 0,
        );
      }
    };
    for (const entry of board.all()) show(entry);
    return board.subscribe((entry) => {
      show(entry);
      this.healthChanges.inc({ device: entry.device, state: entry.state });
    });
  }

  /** Drops the series of a device that is no longer published. */
  forgetDevice(device: string, typeOf: (device: string) => string = deviceType): void {
    for (const state of STATES) this.deviceHealth.remove({ device, type: typeOf(device), state });
  }

  // HealthHooks
  xid(xid: number, device: string | undefined, fault: boolean): void {
    this.xidEvents.inc({ device: device ?? 'unknown', xid: String(xid), fault: String(fault) });
  }

  scan(monitor: string, seconds: number): void {
    this.scanDuration.observe({ monitor }, seconds);
  }

  kernelLogLost(records: number): void {
    this.kernelLogLostRecords.inc(records);
  }

  apiError(component: string, verb: string, resource: string, code: number): void {
    this.apiErrors.inc({ component, verb, resource, code: String(code) });
  }
}

/** `gpu-3` → `gpu`, `nic-0000-1a-00-0` → `nic` (device names start with their type, DESIGN.md "Contracts"). */
export function deviceType(device: string): string {
  return /^([a-z]+)-/.exec(device)?.[1] ?? 'other';
}
