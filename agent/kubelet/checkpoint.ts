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

/** Parses a checkpoint file; throws with the reason when it cannot be trusted. */
export function parseCheckpoint(text: string): CheckpointData {
  const parsed: unknown = JSON.parse(text);
  if (typeof parsed !== 'object' || parsed === null) throw new Error('not a JSON object');
  const file = parsed as Partial<CheckpointFile>;
  if (file.version !== 1) throw new Error(`unknown checkpoint version ${String(file.version)}`);
  if (typeof file.claims !== 'object' || file.claims === null) throw new Error('no claims map');
  const data: CheckpointData = {
    version: 1,
    driver: String(file.driver ?? ''),
    node: String(file.node ?? ''),
    claims: file.claims,
  };
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
