/**
 * Device names from before names came from PCI addresses: `gpu-<n>` was the n-th NVIDIA GPU in PCI order,
 * `gpu-<n>-mig-<gi>-<ci>` a MIG device of it, `tpu-<n>` the n-th TPU. Claims allocated and prepared by an older agent
 * hold those names (in the API's allocation results, in the plugin checkpoint, in pods' conditions), so after an
 * upgrade the agent maps each old name to the hardware it meant when the upgrade happened — once, frozen in a file,
 * so a GPU that falls off the bus later cannot shift the map the way it shifted the old names.
 *
 * Threats: a damaged or hand-edited alias file (it is parsed strictly and entries that do not map a legacy-shaped
 * name to a DNS label are dropped, never trusted); an old name that maps to hardware no longer present (resolves to
 * nothing, so the claim fails like any claim whose device is gone); a fresh install (no legacy state: an empty map is
 * frozen, so a later start on a degraded node never invents aliases).
 */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../../src/fs/atomic-file.js';
import type { GpuDevice, Inventory, TpuDevice } from './inventory.js';
import { isDnsLabel } from './names.js';

/** A name in the old positional scheme. */
const LEGACY_NAME = /^(gpu|tpu)-\d{1,4}(-mig-\d{1,4}-\d{1,4})?$/;

export function isLegacyName(name: string): boolean {
  return LEGACY_NAME.test(name);
}

/** legacy name → current name */
export type DeviceAliases = ReadonlyMap<string, string>;

/**
 * The old names of the inventory's devices as the old agent computed them: positions in PCI order among NVIDIA GPUs
 * (the old scan sorted them by address) and among TPUs (pure).
 */
export function legacyAliases(inventory: Inventory): Map<string, string> {
  const byAddress = <T extends { pci: { address: string } }>(list: T[]) =>
    [...list].sort((a, b) => (a.pci.address < b.pci.address ? -1 : 1));
  const gpus = byAddress(inventory.devices.filter((d): d is GpuDevice => d.kind === 'gpu' && d.vendor === 'nvidia'));
  const tpus = byAddress(inventory.devices.filter((d): d is TpuDevice => d.kind === 'tpu'));
  const aliases = new Map<string, string>();
  gpus.forEach((gpu, index) => {
    aliases.set(`gpu-${index}`, gpu.name);
    for (const mig of gpu.migDevices) {
      aliases.set(`gpu-${index}-mig-${mig.gpuInstanceId}-${mig.computeInstanceId}`, mig.name);
    }
  });
  for (const [index, tpu] of tpus.entries()) aliases.set(`tpu-${index}`, tpu.name);
  return aliases;
}

interface AliasFile {
  version: 1;
  /** legacy name → current name; empty when there was no legacy state to map */
  aliases: Record<string, string>;
}

/** Parses the alias file; throws with the reason when it is not one. Bad entries are dropped (pure). */
export function parseAliasFile(text: string): Map<string, string> {
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null) throw new Error('not a JSON object');
  const file = parsed as Partial<AliasFile>;
  if (file.version !== 1) throw new Error(`unknown alias file version ${String(file.version)}`);
  if (typeof file.aliases !== 'object' || file.aliases === null) throw new Error('no aliases map');
  const out = new Map<string, string>();
  for (const [legacy, current] of Object.entries(file.aliases)) {
    if (isLegacyName(legacy) && typeof current === 'string' && isDnsLabel(current) && !isLegacyName(current)) {
      out.set(legacy, current);
    }
  }
  return out;
}

export function renderAliasFile(aliases: DeviceAliases): string {
  const file: AliasFile = {
    version: 1,
    aliases: Object.fromEntries([...aliases].sort(([a], [b]) => (a < b ? -1 : 1))),
  };
  return `${JSON.stringify(file, null, 2)}\n`;
}

/**
 * Legacy device names a plugin checkpoint (as parsed JSON, untrusted) records as prepared: only the device name of
 * each prepared device counts, never other strings (a node may well be called `gpu-1`). Read before the plugin
 * migrates the file, so both versions' spellings count: `deviceName` (version 2) and `device_name` (version 1, which
 * is exactly what an older agent with legacy names left).
 */
export function legacyNamesInCheckpoint(checkpoint: unknown): string[] {
  const names = new Set<string>();
  const claims = (checkpoint as { claims?: unknown } | null)?.claims;
  if (!claims || typeof claims !== 'object') return [];
  for (const entry of Object.values(claims)) {
    const devices = (entry as { devices?: unknown } | null)?.devices;
    if (!Array.isArray(devices)) continue;
    for (const d of devices) {
      const device = d as { deviceName?: unknown; device_name?: unknown } | null;
      const name = device?.deviceName ?? device?.device_name;
      if (typeof name === 'string' && isLegacyName(name)) names.add(name);
    }
  }
  return [...names].sort();
}

export interface FreezeOptions {
  /** `<state-dir>/device-aliases.json` */
  path: string;
  /** the first inventory of this start */
  inventory: Inventory;
  /**
   * whether anything an older agent left behind uses legacy names (checkpoint, this node's slices); undefined when
   * that cannot be told now (the API is unreachable)
   */
  legacyStateFound: () => Promise<boolean | undefined>;
}

/**
 * The alias map of this node: read from the file when there is one; otherwise decided now (from the first inventory
 * when legacy state exists, else empty) and written, so it is decided exactly once per node. When it cannot be told
 * whether legacy state exists, the map is used for this run (aliases for names nobody holds are harmless) but not
 * written, so the next start decides again.
 */
export async function loadOrFreezeAliases(
  options: FreezeOptions,
): Promise<{ aliases: DeviceAliases; frozen: boolean }> {
  let text: string | undefined;
  try {
    text = await readFile(options.path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  if (text !== undefined) {
    try {
      return { aliases: parseAliasFile(text), frozen: false };
    } catch {
      // a damaged file is decided again below (and rewritten), as on first start
    }
  }
  const found = await options.legacyStateFound();
  if (found === undefined) return { aliases: legacyAliases(options.inventory), frozen: false };
  const aliases = found ? legacyAliases(options.inventory) : new Map<string, string>();
  await writeFileAtomic(options.path, renderAliasFile(aliases), 0o600);
  return { aliases, frozen: true };
}
