import type { DeviceHealthMessage } from '../../../agent/kubeletplugin/protos.js';

/**
 * The kubelet's device health cache (pkg/kubelet/cm/dra/healthinfo.go, KEP-4680; FACTS.md §3): per driver, the last
 * reported health of each `<pool>/<device>`, stamped with the kubelet's own clock when reported. A device not
 * reported for its timeout (healthCheckTimeoutSeconds when > 0, else 30 s) reads Unknown. When a driver's stream
 * ends, everything of that driver is forgotten.
 */
export type ResourceHealth = 'Healthy' | 'Unhealthy' | 'Unknown';

export const DEFAULT_HEALTH_TIMEOUT_MS = 30_000;

interface Entry {
  health: ResourceHealth;
  message: string;
  lastUpdated: number;
  timeoutMs: number;
}

export interface ChangedDevice {
  driver: string;
  pool: string;
  device: string;
}

/** The kubelet's cut: at most 1024 characters, longer text becomes its first 1021 and "..." (FACTS.md §11). */
function truncateHealthMessage(message: string): string {
  return message.length <= 1024 ? message : `${message.slice(0, 1021)}...`;
}

function fromWire(health: string): ResourceHealth {
  return health === 'HEALTHY' ? 'Healthy' : health === 'UNHEALTHY' ? 'Unhealthy' : 'Unknown';
}

export class HealthCache {
  private readonly drivers = new Map<string, Map<string, Entry>>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly defaultTimeoutMs = DEFAULT_HEALTH_TIMEOUT_MS,
  ) {}

  /** One stream message (the driver's complete list). Returns the devices whose health, message or timeout changed. */
  update(driver: string, devices: DeviceHealthMessage[]): ChangedDevice[] {
    const now = this.now();
    let known = this.drivers.get(driver);
    if (!known) {
      known = new Map();
      this.drivers.set(driver, known);
    }
    const changed: ChangedDevice[] = [];
    const reported = new Set<string>();
    for (const device of devices) {
      const pool = device.device?.poolName ?? '';
      const name = device.device?.deviceName ?? '';
      const key = `${pool}/${name}`;
      reported.add(key);
      const seconds = Number(device.healthCheckTimeoutSeconds ?? 0);
      const entry: Entry = {
        health: fromWire(device.health),
        message: truncateHealthMessage(device.message ?? ''),
        lastUpdated: now,
        timeoutMs: seconds > 0 ? seconds * 1000 : this.defaultTimeoutMs,
      };
      const before = known.get(key);
      if (
        !before ||
        before.health !== entry.health ||
        before.message !== entry.message ||
        before.timeoutMs !== entry.timeoutMs
      ) {
        changed.push({ driver, pool, device: name });
      }
      known.set(key, entry);
    }
    for (const [key, entry] of known) {
      if (reported.has(key)) continue;
      if (entry.health !== 'Unknown' && now - entry.lastUpdated > entry.timeoutMs) {
        known.set(key, { ...entry, health: 'Unknown', message: '', lastUpdated: now });
        const slash = key.indexOf('/');
        changed.push({ driver, pool: key.slice(0, slash), device: key.slice(slash + 1) });
      }
    }
    return changed;
  }

  get(driver: string, pool: string, device: string): { health: ResourceHealth; message: string } {
    const entry = this.drivers.get(driver)?.get(`${pool}/${device}`);
    if (!entry || this.now() - entry.lastUpdated > entry.timeoutMs) return { health: 'Unknown', message: '' };
    return { health: entry.health, message: entry.message };
  }

  clearDriver(driver: string): void {
    this.drivers.delete(driver);
  }
}
