/**
 * ResourceClaim `status.devices` (FACTS.md §11): once the agent prepared a claim it reports each of its devices there,
 * as dranet does for the NICs it prepares: `driver`, `pool`, `device`, a `Ready` condition, and for a NIC its
 * `networkData` (host interface name, global IP addresses in CIDR form, MAC). Unprepare takes the entries away.
 *
 * The write is a read-modify-write of the status subresource with the claim's resourceVersion (a 409 reads again), and
 * touches only this driver's entries of this node's pool: another driver's entries of the same claim (dranet, a
 * vendor's GPU driver) stay as they are, so the API server's per-driver authorization (1.36's
 * `resourceclaims/driver` subresource, `associated-node:update`) is asked for lockstep's driver only. Best effort: the
 * status is for people and tools; a refused or failed write is logged and never fails a prepare or an unprepare.
 *
 * Threats: an interface name or address list longer than the API accepts (cut to its limits: 256 characters, 16
 * addresses, 128-character MAC), so a write is never refused for size; a status another writer changed meanwhile
 * (resourceVersion conflict: read again, at most a few times); a claim deleted meanwhile (404: nothing to do);
 * a caller without the grant (403/422: one warning, no retry loop).
 */
import { isNotFound } from '../../src/kube/client.js';
import { RESOURCE_CLAIMS, resourcePath } from '../../src/kube/resources.js';
import type { Logger } from '../../src/log.js';
import type { InterfaceAddresses } from '../discovery/net-addresses.js';
import type { PlannedDevice } from './claims.js';

/** One `status.devices` entry (resource.k8s.io/v1 AllocatedDeviceStatus), the fields lockstep writes. */
export interface AllocatedDeviceStatus {
  driver: string;
  pool: string;
  device: string;
  conditions?: {
    type: string;
    status: 'True' | 'False' | 'Unknown';
    reason: string;
    message: string;
    lastTransitionTime: string;
  }[];
  networkData?: { interfaceName?: string; ips?: string[]; hardwareAddress?: string };
}

/** The API's limits on networkData (pkg/apis/resource NetworkDeviceData*MaxLength, NetworkDeviceDataMaxIPs). */
const INTERFACE_NAME_MAX = 256;
const HARDWARE_ADDRESS_MAX = 128;
const IPS_MAX = 16;
const CONFLICT_RETRIES = 5;

/** What a prepared claim's devices look like in `status.devices`, for this driver and pool. */
export function preparedDeviceStatuses(input: {
  driver: string;
  pool: string;
  devices: readonly PlannedDevice[];
  addresses: InterfaceAddresses;
  /** RFC 3339, seconds */
  now: string;
  /** the entries already there: a Ready condition that was already True keeps its transition time */
  existing?: readonly unknown[];
}): AllocatedDeviceStatus[] {
  const before = new Map(
    (input.existing ?? []).filter(isEntry).map((entry) => [`${entry.driver}/${entry.pool}/${entry.device}`, entry]),
  );
  return input.devices.map(({ device, allocatedName }) => {
    const previous = before.get(`${input.driver}/${input.pool}/${allocatedName}`);
    const wasReady = previous?.conditions?.find((c) => c.type === 'Ready' && c.status === 'True');
    const entry: AllocatedDeviceStatus = {
      driver: input.driver,
      pool: input.pool,
      device: allocatedName,
      conditions: [
        {
          type: 'Ready',
          status: 'True',
          reason: 'DevicePrepared',
          message: `${device.kind === 'nic' ? 'NIC' : device.kind.toUpperCase()} prepared: its CDI spec is written for the claim's containers`,
          lastTransitionTime: wasReady?.lastTransitionTime ?? input.now,
        },
      ],
    };
    if (device.kind === 'nic' && device.ifName !== '') {
      const networkData: NonNullable<AllocatedDeviceStatus['networkData']> = {
        interfaceName: device.ifName.slice(0, INTERFACE_NAME_MAX),
      };
      const ips = [...new Set(input.addresses.get(device.ifName) ?? [])].slice(0, IPS_MAX);
      if (ips.length > 0) networkData.ips = ips;
      if (device.mac) networkData.hardwareAddress = device.mac.slice(0, HARDWARE_ADDRESS_MAX);
      entry.networkData = networkData;
    }
    return entry;
  });
}

function isEntry(value: unknown): value is AllocatedDeviceStatus {
  return typeof value === 'object' && value !== null && 'driver' in value && 'device' in value;
}

/** The status.devices list with this driver's entries of this pool replaced by `ours` (others kept, in order). */
export function replaceOwnEntries(
  existing: readonly unknown[],
  driver: string,
  pool: string,
  ours: readonly AllocatedDeviceStatus[],
): unknown[] {
  const others = existing.filter((entry) => !(isEntry(entry) && entry.driver === driver && entry.pool === pool));
  return [...others, ...ours];
}

interface ClaimObject {
  metadata: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
  status?: { devices?: unknown[]; [key: string]: unknown };
  [key: string]: unknown;
}

/** The API calls the writer makes: read a claim, replace its status (the agent's KubeClient). */
export interface ClaimStatusApi {
  get<T>(path: string): Promise<T>;
  replace<T>(path: string, body: unknown): Promise<T>;
}

/** Writes and clears this driver's `status.devices` entries, one claim at a time in call order. */
export class ClaimStatusWriter {
  private readonly queues = new Map<string, Promise<void>>();

  constructor(
    private readonly options: {
      api: ClaimStatusApi;
      driver: string;
      pool: string;
      log: Logger;
      /** the host's interface addresses now */
      addresses: () => Promise<InterfaceAddresses>;
      now?: () => Date;
    },
  ) {}

  /** Reports a prepared claim's devices (in the background; `idle()` waits for it). */
  prepared(claim: { namespace: string; name: string; uid: string }, devices: readonly PlannedDevice[]): Promise<void> {
    return this.enqueue(claim, async (existing) => {
      const now = (this.options.now?.() ?? new Date()).toISOString().replace(/\.\d+Z$/, 'Z');
      const addresses = devices.some((d) => d.device.kind === 'nic') ? await this.options.addresses() : new Map();
      const ours = preparedDeviceStatuses({
        driver: this.options.driver,
        pool: this.options.pool,
        devices,
        addresses,
        now,
        existing,
      });
      return replaceOwnEntries(existing, this.options.driver, this.options.pool, ours);
    });
  }

  /** Takes this driver's entries of this pool out of an unprepared claim's status. */
  unprepared(claim: { namespace: string; name: string; uid: string }): Promise<void> {
    return this.enqueue(claim, async (existing) =>
      replaceOwnEntries(existing, this.options.driver, this.options.pool, []),
    );
  }

  /** Resolves when every write queued so far is done. */
  async idle(): Promise<void> {
    while (this.queues.size > 0) await Promise.all([...this.queues.values()]);
  }

  private enqueue(
    claim: { namespace: string; name: string; uid: string },
    next: (existing: unknown[]) => Promise<unknown[]>,
  ): Promise<void> {
    const key = claim.uid;
    const previous = this.queues.get(key) ?? Promise.resolve();
    const run = previous.then(() => this.write(claim, next));
    const settled = run.finally(() => {
      if (this.queues.get(key) === settled) this.queues.delete(key);
    });
    this.queues.set(key, settled);
    return settled;
  }

  private async write(
    claim: { namespace: string; name: string; uid: string },
    next: (existing: unknown[]) => Promise<unknown[]>,
  ): Promise<void> {
    const { api, log } = this.options;
    const path = resourcePath(RESOURCE_CLAIMS, { namespace: claim.namespace, name: claim.name });
    const ref = `${claim.namespace}/${claim.name}`;
    for (let attempt = 0; attempt <= CONFLICT_RETRIES; attempt++) {
      let current: ClaimObject;
      try {
        current = await api.get<ClaimObject>(path);
      } catch (error) {
        if (!isNotFound(error)) log.warn({ claim: ref, error: String(error) }, 'cannot read claim for its status');
        return;
      }
      if (current.metadata.uid !== claim.uid) return; // deleted and made again: not the claim we prepared
      const existing = Array.isArray(current.status?.devices) ? current.status.devices : [];
      const devices = await next(existing);
      if (JSON.stringify(devices) === JSON.stringify(existing)) return;
      const status = { ...current.status, devices };
      if (devices.length === 0) delete (status as { devices?: unknown }).devices;
      try {
        await api.replace(`${path}/status`, { ...current, status });
        log.debug({ claim: ref, devices: devices.length }, 'claim device status written');
        return;
      } catch (error) {
        const status = (error as { status?: number }).status;
        if (status === 409 && attempt < CONFLICT_RETRIES) continue;
        if (status === 404) return;
        log.warn(
          { claim: ref, error: String(error) },
          status === 403 || status === 422
            ? 'cannot write the claim device status: the API refused it (RBAC: resourceclaims/status update, and on 1.36+ resourceclaims/driver associated-node:update)'
            : 'cannot write the claim device status',
        );
        return;
      }
    }
  }
}
