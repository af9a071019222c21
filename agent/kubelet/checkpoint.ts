import { createHash } from 'node:crypto';
import { readFile, rename } from 'node:fs/promises';
import { writeFileAtomic } from '../../src/fs/atomic-file.js';
import type { PreparedDevice } from '../kubeletplugin/protos.js';

/**
 * The plugin's memory of what it prepared, on disk: written atomically before every reply to the kubelet, so that
 * after a crash (even kill -9 halfway through a prepare) the next start knows exactly which CDI specs are its own.
 * The spec file content is recorded too, so a missing or damaged spec is rewritten byte for byte without re-reading
 * the API or the hardware.
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
  version: 1;
  driver: string;
  node: string;
  claims: Record<string, CheckpointEntry>;
}

interface CheckpointFile extends CheckpointData {
  /** sha256 of the JSON of the rest: a damaged file is noticed, not trusted */
  checksum: string;
}

export function emptyCheckpoint(driver: string, node: string): CheckpointData {
  return { version: 1, driver, node, claims: {} };
}

function checksum(data: CheckpointData): string {
  return createHash('sha256').update(JSON.stringify(data)).digest('hex');
}

export function renderCheckpoint(data: CheckpointData): string {
  const file: CheckpointFile = { ...data, checksum: checksum(data) };
  return `${JSON.stringify(file, null, 2)}\n`;
}

/** The version this agent writes. Older versions are migrated on load (MIGRATIONS); newer ones cannot be trusted. */
export const CHECKPOINT_VERSION = 1;

/** A checkpoint file as read: its version, its checksum and whatever fields that version had. */
type VersionedFile = Record<string, unknown> & { version?: unknown; checksum?: unknown };

/** Turns a verified checkpoint of version N (without its checksum) into the fields of version N + 1. */
export type CheckpointMigration = (old: Record<string, unknown>) => Record<string, unknown>;

/**
 * One entry per on-disk format change, keyed by the version it reads: a file written by an older agent is carried up
 * one version at a time, so an upgrade never forgets what the old agent prepared. Version 1 is the first format.
 */
export const MIGRATIONS: Readonly<Record<number, CheckpointMigration>> = {};

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
    version: 1,
    driver: String(fields.driver ?? ''),
    node: String(fields.node ?? ''),
    claims: fields.claims as Record<string, CheckpointEntry>,
  };
}

/** Parses a checkpoint file of this or an older version; throws with the reason when it cannot be trusted. */
export function parseCheckpoint(text: string): CheckpointData {
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null) throw new Error('not a JSON object');
  const file = migrateCheckpoint(parsed as VersionedFile) as Partial<CheckpointFile>;
  if (typeof file.claims !== 'object' || file.claims === null) throw new Error('no claims map');
  const data = currentData(file);
  if (file.checksum !== checksum(data)) throw new Error('checksum mismatch (file damaged or edited)');
  return data;
}

export type CheckpointLoad =
  | { state: 'missing'; data: CheckpointData }
  | { state: 'loaded'; data: CheckpointData }
  | { state: 'corrupt'; data: CheckpointData; error: string; movedTo: string };

export class CheckpointStore {
  constructor(
    readonly path: string,
    private readonly driver: string,
    private readonly node: string,
  ) {}

  /** A corrupt file is moved aside (kept for a person to look at) and the plugin starts from the CDI directory. */
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
    try {
      return { state: 'loaded', data: parseCheckpoint(text) };
    } catch (error) {
      const movedTo = `${this.path}.corrupt-${Date.now()}`;
      await rename(this.path, movedTo);
      return { state: 'corrupt', data: emptyCheckpoint(this.driver, this.node), error: String(error), movedTo };
    }
  }

  async save(data: CheckpointData): Promise<void> {
    await writeFileAtomic(this.path, renderCheckpoint(data), 0o600);
  }
}
