import { createHash } from 'node:crypto';
import { readFile, rename } from 'node:fs/promises';
import { DomainError } from '../../src/errors.js';
import { writeFileAtomic } from '../../src/fs/atomic-file.js';
import type { PreparedDevice } from '../kubeletplugin/protos.js';

/**
 * The plugin's memory of what it prepared, on disk: written atomically before every reply to the kubelet, so that
 * after a crash (even kill -9 halfway through a prepare) the next start knows exactly which CDI specs are its own.
 * The spec file content is recorded too, so a missing or damaged spec is rewritten byte for byte without re-reading
 * the API or the hardware.
 *
 * The file is versioned, and a file an older agent wrote is carried up to this agent's version (MIGRATIONS) and
 * written back at once, atomically, as NVIDIA's DRA driver does with its versioned checkpoints: an upgrade never
 * forgets what the old agent prepared. Versions: 1 kept each prepared device as the kubelet proto's snake_case
 * fields (`request_names`, `pool_name`, `device_name`, `cdi_device_ids`, `share_id`); 2 keeps them camelCase, the one
 * convention of every protocol type in memory.
 *
 * Threats: a damaged or hand-edited file (the checksum is checked before any migration, and a damaged file is moved
 * aside, never trusted); a file of a newer agent after a downgrade (refused with CheckpointVersionError and left as
 * it is: moving it aside would forget claims the newer agent prepared); a crash during the rewrite (atomic write: the
 * old file or the new one, never half of each).
 */
export interface CheckpointEntry {
  uid: string;
  namespace: string;
  name: string;
  devices: PreparedDevice[];
  specFile: string;
  specContent: string;
}

export interface CheckpointData {
  version: typeof CHECKPOINT_VERSION;
  driver: string;
  node: string;
  claims: Record<string, CheckpointEntry>;
}

interface CheckpointFile extends CheckpointData {
  /** sha256 of the JSON of the rest: a damaged file is noticed, not trusted */
  checksum: string;
}

export function emptyCheckpoint(driver: string, node: string): CheckpointData {
  return { version: CHECKPOINT_VERSION, driver, node, claims: {} };
}

function checksum(data: CheckpointData): string {
  return createHash('sha256').update(JSON.stringify(data)).digest('hex');
}

export function renderCheckpoint(data: CheckpointData): string {
  const file: CheckpointFile = { ...data, checksum: checksum(data) };
  return `${JSON.stringify(file, null, 2)}\n`;
}

/** The version this agent writes. Older versions are migrated on load (MIGRATIONS); newer ones cannot be trusted. */
export const CHECKPOINT_VERSION = 2;

/** A checkpoint written by a newer agent than this one (a downgrade): what it holds cannot be read here. */
export class CheckpointVersionError extends DomainError {
  override name = 'CheckpointVersionError';
  constructor(
    readonly path: string,
    readonly version: number,
  ) {
    super(
      'failed',
      `checkpoint ${path} is version ${version}, newer than this agent's ${CHECKPOINT_VERSION}: it was written by a newer lockstep agent; run that version again (or remove the file, forgetting what it prepared)`,
    );
  }
}

/** A checkpoint file as read: its version, its checksum and whatever fields that version had. */
type VersionedFile = Record<string, unknown> & { version?: unknown; checksum?: unknown };

/** Turns a verified checkpoint of version N (without its checksum) into the fields of version N + 1. */
export type CheckpointMigration = (old: Record<string, unknown>) => Record<string, unknown>;

/** Version 1's prepared device: the kubelet proto's fields under their snake_case names. */
const V1_DEVICE_FIELDS: Readonly<Record<string, keyof PreparedDevice>> = {
  request_names: 'requestNames',
  pool_name: 'poolName',
  device_name: 'deviceName',
  cdi_device_ids: 'cdiDeviceIds',
  share_id: 'shareId',
};

/** Version 1 → 2: each prepared device's snake_case fields renamed camelCase; anything else is kept as it was. */
function camelCaseDevices(old: Record<string, unknown>): Record<string, unknown> {
  const claims = old.claims;
  if (typeof claims !== 'object' || claims === null) return old;
  const renamed = Object.fromEntries(
    Object.entries(claims).map(([uid, entry]) => {
      const devices = (entry as { devices?: unknown } | null)?.devices;
      if (!Array.isArray(devices)) return [uid, entry];
      return [
        uid,
        {
          ...(entry as object),
          devices: devices.map((device: unknown) =>
            typeof device === 'object' && device !== null
              ? Object.fromEntries(Object.entries(device).map(([key, value]) => [V1_DEVICE_FIELDS[key] ?? key, value]))
              : device,
          ),
        },
      ];
    }),
  );
  return { ...old, claims: renamed };
}

/**
 * One entry per on-disk format change, keyed by the version it reads: a file written by an older agent is carried up
 * one version at a time, so an upgrade never forgets what the old agent prepared.
 */
export const MIGRATIONS: Readonly<Record<number, CheckpointMigration>> = { 1: camelCaseDevices };

/**
 * The current format's fields from a file of any version this agent knows: the checksum of the file as written is
 * checked first (a damaged file is never migrated into a trusted one), then each migration from its version up.
 */
export function migrateCheckpoint(
  file: VersionedFile,
  migrations: Readonly<Record<number, CheckpointMigration>> = MIGRATIONS,
  current: number = CHECKPOINT_VERSION,
): Record<string, unknown> {
  const version = file.version;
  if (typeof version !== 'number' || !Number.isInteger(version)) {
    throw new Error(`unknown checkpoint version ${String(version)}`);
  }
  if (version > current) {
    throw new Error(`unknown checkpoint version ${version} (newer than this agent's ${current})`);
  }
  if (version === current) return file;
  const { checksum: written, ...rest } = file;
  if (written !== createHash('sha256').update(JSON.stringify(rest)).digest('hex')) {
    throw new Error('checksum mismatch (file damaged or edited)');
  }
  let fields: Record<string, unknown> = rest;
  for (let from = version; from < current; from++) {
    const step = migrations[from];
    if (!step) throw new Error(`unknown checkpoint version ${version} (no migration from version ${from})`);
    fields = { ...step(fields), version: from + 1 };
  }
  return { ...fields, checksum: checksum(currentData(fields)) };
}

function currentData(fields: Record<string, unknown>): CheckpointData {
  return {
    version: CHECKPOINT_VERSION,
    driver: String(fields.driver ?? ''),
    node: String(fields.node ?? ''),
    claims: fields.claims as Record<string, CheckpointEntry>,
  };
}

/** Parses a checkpoint file of this or an older version; throws with the reason when it cannot be trusted. */
export function parseCheckpoint(text: string): CheckpointData {
  return readCheckpoint(text).data;
}

/** The version a checkpoint's text says it has (undefined when it is no object with an integer version). */
function versionOf(parsed: unknown): number | undefined {
  const version = (parsed as { version?: unknown } | null)?.version;
  return typeof version === 'number' && Number.isInteger(version) ? version : undefined;
}

/** The checkpoint's data in the current format, and the version it was written in. */
function readCheckpoint(text: string): { data: CheckpointData; writtenAs: number } {
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null) throw new Error('not a JSON object');
  const file = migrateCheckpoint(parsed as VersionedFile) as Partial<CheckpointFile>;
  if (typeof file.claims !== 'object' || file.claims === null) throw new Error('no claims map');
  const data = currentData(file);
  if (file.checksum !== checksum(data)) throw new Error('checksum mismatch (file damaged or edited)');
  return { data, writtenAs: versionOf(parsed) ?? CHECKPOINT_VERSION };
}

export type CheckpointLoad =
  | { state: 'missing'; data: CheckpointData }
  /** `migratedFrom`: the older version the file had; it has been rewritten in the current one */
  | { state: 'loaded'; data: CheckpointData; migratedFrom?: number }
  | { state: 'corrupt'; data: CheckpointData; error: string; movedTo: string };

export class CheckpointStore {
  constructor(
    readonly path: string,
    private readonly driver: string,
    private readonly node: string,
  ) {}

  /**
   * A corrupt file is moved aside (kept for a person to look at) and the plugin starts from the CDI directory; an
   * older version is migrated and written back in the current one before it is used; a newer version throws
   * CheckpointVersionError and stays where it is.
   */
  async load(): Promise<CheckpointLoad> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        return { state: 'missing', data: emptyCheckpoint(this.driver, this.node) };
      }
      throw error;
    }
    let read: { data: CheckpointData; writtenAs: number };
    try {
      read = readCheckpoint(text);
    } catch (error) {
      const newer = newerVersion(text);
      if (newer !== undefined) throw new CheckpointVersionError(this.path, newer);
      const movedTo = `${this.path}.corrupt-${Date.now()}`;
      await rename(this.path, movedTo);
      return { state: 'corrupt', data: emptyCheckpoint(this.driver, this.node), error: String(error), movedTo };
    }
    if (read.writtenAs === CHECKPOINT_VERSION) return { state: 'loaded', data: read.data };
    await this.save(read.data);
    return { state: 'loaded', data: read.data, migratedFrom: read.writtenAs };
  }

  async save(data: CheckpointData): Promise<void> {
    await writeFileAtomic(this.path, renderCheckpoint(data), 0o600);
  }
}

/** The version of a checkpoint text that is valid JSON and newer than this agent's; undefined otherwise. */
function newerVersion(text: string): number | undefined {
  try {
    const version = versionOf(JSON.parse(text));
    return version !== undefined && version > CHECKPOINT_VERSION ? version : undefined;
  } catch {
    return undefined;
  }
}
