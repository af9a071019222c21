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

/** Buckets of the scan-duration histogram, in seconds: from a sysfs read to a slow nvidia-smi. */
const SCAN_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2, 5, 10, 30];

/** The prom-client class of each kind of metric. */
const KINDS = { counter: Counter, gauge: Gauge, histogram: Histogram } as const;

/**
 * The agent's metrics, each declared once, in the order /metrics lists them: its kind, name, help text and label
 * names. The series' TypeScript label types follow from `labelNames`, so a label cannot be spelled twice.
 */
const DEFINITIONS = {
  driverRootUsable: {
    kind: 'gauge',
    name: 'lockstep_driver_root_nvidia_smi',
    help: 'Whether nvidia-smi was found under the driver root (--driver-root): 1 found, 0 missing (GPUs by PCI id only)',
    labelNames: ['root'],
  },
  /** state set per device: 1 for the current state, 0 for the others (kube-state-metrics style) */
  deviceHealth: {
    kind: 'gauge',
    name: 'lockstep_device_health',
    help: 'Device health as a state set: 1 for the current state (healthy, unhealthy, unknown), 0 otherwise',
    labelNames: ['device', 'type', 'state'],
  },
  healthChanges: {
    kind: 'counter',
    name: 'lockstep_device_health_changes_total',
    help: 'Health changes per device, by the state changed to',
    labelNames: ['device', 'state'],
  },
  xidEvents: {
    kind: 'counter',
    name: 'lockstep_xid_events_total',
    help: 'NVIDIA XID events read from the kernel log, by device and XID code (fault=false: application XIDs)',
    labelNames: ['device', 'xid', 'fault'],
  },
  scanDuration: {
    kind: 'histogram',
    name: 'lockstep_health_scan_duration_seconds',
    help: 'Duration of one pass of a health monitor (nvidia-smi, sysfs) or a discovery scan',
    labelNames: ['monitor'],
    buckets: SCAN_BUCKETS,
  },
  apiErrors: {
    kind: 'counter',
    name: 'lockstep_api_errors_total',
    help: 'Failed Kubernetes API calls, by component, verb, resource and HTTP status (0: no answer)',
    labelNames: ['component', 'verb', 'resource', 'code'],
  },
  kernelLogLostRecords: {
    kind: 'counter',
    name: 'lockstep_kernel_log_records_lost_total',
    help: 'Kernel log records overwritten before the agent could read them',
    labelNames: [],
  },
} as const;

type Definitions = typeof DEFINITIONS;
type LabelsOf<D extends Definitions[keyof Definitions]> = D['labelNames'][number];
/** The prom-client object a definition makes, its label names typed. */
type MetricOf<D extends Definitions[keyof Definitions]> = {
  counter: Counter<LabelsOf<D>>;
  gauge: Gauge<LabelsOf<D>>;
  histogram: Histogram<LabelsOf<D>>;
}[D['kind']];
type AgentSeries = { [K in keyof Definitions]: MetricOf<Definitions[K]> };

/** Makes every metric of DEFINITIONS in `registry`: the one place a definition becomes a prom-client object. */
function createSeries(registry: Registry): AgentSeries {
  const registers = [registry];
  const entries = Object.entries(DEFINITIONS).map(([key, { kind, ...configuration }]) => [
    key,
    new KINDS[kind]({ ...configuration, registers }),
  ]);
  return Object.fromEntries(entries) as AgentSeries;
}

/**
 * The agent's Prometheus metrics, one registry per agent (tests make many). Health monitors report through the
 * HealthHooks interface; other managers add their own metrics to `registry`.
 */
export class AgentMetrics implements HealthHooks {
  readonly registry = new Registry();
  private readonly series: AgentSeries;

  constructor(options: AgentMetricsOptions = {}) {
    if (options.labels) this.registry.setDefaultLabels(options.labels);
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry });
    this.series = createSeries(this.registry);
  }

  /** Records whether nvidia-smi was found under the driver root. */
  setDriverRoot(root: string, found: boolean): void {
    this.series.driverRootUsable.set({ root }, found ? 1 : 0);
  }

  /** Mirrors the board into lockstep_device_health; returns the unsubscribe function. */
  watchBoard(board: DeviceHealthBoard, typeOf: (device: string) => string = deviceType): () => void {
    const show = (entry: BoardEntry) => {
      for (const state of STATES) {
        this.series.deviceHealth.set(
          { device: entry.device, type: typeOf(entry.device), state },
          state === entry.state ? 1 : 0,
        );
      }
    };
    for (const entry of board.all()) show(entry);
    return board.subscribe((entry) => {
      show(entry);
      this.series.healthChanges.inc({ device: entry.device, state: entry.state });
    });
  }

  /** Drops the series of a device that is no longer published. */
  forgetDevice(device: string, typeOf: (device: string) => string = deviceType): void {
    for (const state of STATES) this.series.deviceHealth.remove({ device, type: typeOf(device), state });
  }

  // HealthHooks
  xid(xid: number, device: string | undefined, fault: boolean): void {
    this.series.xidEvents.inc({ device: device ?? 'unknown', xid: String(xid), fault: String(fault) });
  }

  scan(monitor: string, seconds: number): void {
    this.series.scanDuration.observe({ monitor }, seconds);
  }

  kernelLogLost(records: number): void {
    this.series.kernelLogLostRecords.inc(records);
  }

  apiError(component: string, verb: string, resource: string, code: number): void {
    this.series.apiErrors.inc({ component, verb, resource, code: String(code) });
  }
}

/** `gpu-3` → `gpu`, `nic-0000-1a-00-0` → `nic` (device names start with their type, DESIGN.md "Contracts"). */
export function deviceType(device: string): string {
  return /^([a-z]+)-/.exec(device)?.[1] ?? 'other';
}
