import type { DiscoveredDevice, Inventory } from './inventory.js';

/** Device kinds an agent can be told to serve (`--device-types`, e.g. the gpu-only and nic-only overlays). */
export const DEVICE_TYPES = ['gpu', 'tpu', 'nic'] as const;
export type DeviceType = (typeof DEVICE_TYPES)[number];

/** Parses `gpu,nic`; unknown or empty lists are errors that name the allowed values. */
export function parseDeviceTypes(value: string): DeviceType[] {
  const items = value
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter(Boolean);
  const unknown = items.filter((s) => !(DEVICE_TYPES as readonly string[]).includes(s));
  if (items.length === 0 || unknown.length > 0) {
    throw new Error(`"${value}" is not a list of device types (allowed: ${DEVICE_TYPES.join(', ')}; e.g. gpu,nic)`);
  }
  return [...new Set(items)] as DeviceType[];
}

/**
 * The inventory restricted to the kinds this agent serves: what it does not serve it neither publishes, prepares nor
 * watches. GPU↔NIC affinity keeps only devices that remain, so nothing downstream names a device it cannot see.
 */
export function keepDeviceTypes(inventory: Inventory, types: readonly DeviceType[]): Inventory {
  const keep = (d: DiscoveredDevice) => d.kind !== 'accelerator' && types.includes(d.kind);
  const devices = inventory.devices.filter(keep);
  const kept = new Set(devices.map((d) => d.name));
  const affinity = inventory.affinity
    .filter((a) => kept.has(a.gpu))
    .map((a) => ({ ...a, nics: a.nics.filter((n) => kept.has(n.nic)) }));
  return { ...inventory, devices, affinity };
}
