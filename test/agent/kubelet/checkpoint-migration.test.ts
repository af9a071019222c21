import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CHECKPOINT_VERSION,
  type CheckpointMigration,
  CheckpointStore,
  CheckpointVersionError,
  MIGRATIONS,
  migrateCheckpoint,
  parseCheckpoint,
} from '../../../agent/kubelet/checkpoint.js';

/** A file of an older format as that agent wrote it: its fields, then the checksum of their JSON. */
function written(fields: Record<string, unknown>): Record<string, unknown> {
  return { ...fields, checksum: createHash('sha256').update(JSON.stringify(fields)).digest('hex') };
}

/** Made-up history for the table: v1 named the node `host`, v2 kept claims as a list, v3 is today's shape. */
const HISTORY: Record<number, CheckpointMigration> = {
  1: ({ host, ...rest }) => ({ ...rest, node: host }),
  2: ({ claims, ...rest }) => ({
    ...rest,
    claims: Object.fromEntries((claims as Array<{ uid: string }>).map((claim) => [claim.uid, claim])),
  }),
};
const claim = { uid: 'u1', namespace: 'ns', name: 'c', devices: [], specFile: 'f.json', specContent: '{}' };

describe('checkpoint versions', () => {
  it.each([
    {
      name: 'v1 carried through v2 to v3',
      file: written({ version: 1, driver: 'd', host: 'n1', claims: [claim] }),
      result: { version: 3, driver: 'd', node: 'n1', claims: { u1: claim } },
    },
    {
      name: 'v2 carried to v3',
      file: written({ version: 2, driver: 'd', node: 'n1', claims: [claim] }),
      result: { version: 3, driver: 'd', node: 'n1', claims: { u1: claim } },
    },
    {
      name: 'v3 is read as it is',
      file: { version: 3, driver: 'd', node: 'n1', claims: {}, checksum: 'checked by the caller' },
      result: { version: 3, driver: 'd', node: 'n1', claims: {} },
    },
  ])('$name', ({ file, result }) => {
    expect(migrateCheckpoint(file, HISTORY, 3)).toMatchObject(result);
  });

  it.each([
    {
      name: 'a newer version than this agent writes',
      file: { version: 4, claims: {} },
      error: /unknown checkpoint version 4 \(newer/,
    },
    {
      name: 'a version with no migration',
      file: written({ version: 0, claims: {} }),
      error: /no migration from version 0/,
    },
    { name: 'no version at all', file: { claims: {} }, error: /unknown checkpoint version undefined/ },
    { name: 'a version that is no integer', file: { version: '2', claims: {} }, error: /unknown checkpoint version 2/ },
    {
      name: 'an old file that was damaged',
      file: { ...written({ version: 1, driver: 'd', host: 'n1', claims: [claim] }), host: 'n2' },
      error: /checksum mismatch/,
    },
  ])('refuses $name', ({ file, error }) => {
    expect(() => migrateCheckpoint(file, HISTORY, 3)).toThrow(error);
  });

  it('a migrated file parses as the current format, checksum and all', () => {
    const migrated = migrateCheckpoint(written({ version: 1, driver: 'd', host: 'n1', claims: [claim] }), HISTORY, 3);
    expect(migrated.checksum).toMatch(/^[0-9a-f]{64}$/);
    expect(migrated).toMatchObject({ node: 'n1', claims: { u1: claim } });
  });

  it('this agent writes version 2 and knows every older version it may meet', () => {
    expect(CHECKPOINT_VERSION).toBe(2);
    expect(Object.keys(MIGRATIONS).map(Number).sort()).toEqual(
      Array.from({ length: CHECKPOINT_VERSION - 1 }, (_, i) => i + 1),
    );
    expect(() => parseCheckpoint('{"version":3,"claims":{}}')).toThrow(/newer than this agent's 2/);
  });
});

/**
 * checkpoint-v1.json was written by the version-1 agent's own code (checkpoint.ts and cdi.ts before version 2, run
 * from a checkout of that commit): one claim with an H100 GPU and its aligned NIC, devices under the kubelet proto's
 * snake_case names, the spec content and the checksum as that agent rendered them.
 */
const V1_FILE = join(import.meta.dirname, 'checkpoint-v1.json');
const V1_UID = '0b6f3d2e-5c1a-4f7e-9d8b-2a4c6e8f0a1b';

describe('checkpoint version 1 → 2', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'ckpt-v1-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('the recorded v1 file is migrated: the same claims, their devices camelCase', async () => {
    const v1 = JSON.parse(await readFile(V1_FILE, 'utf8'));
    const data = parseCheckpoint(await readFile(V1_FILE, 'utf8'));
    expect(data.version).toBe(2);
    expect(Object.keys(data.claims)).toEqual([V1_UID]);
    const entry = data.claims[V1_UID]!;
    expect(entry).toMatchObject({
      uid: V1_UID,
      namespace: 'inference',
      name: 'vllm-0-devices-x7k2p',
      specFile: v1.claims[V1_UID].specFile,
      specContent: v1.claims[V1_UID].specContent,
    });
    expect(entry.devices).toEqual([
      {
        requestNames: ['gpu'],
        poolName: 'gpu-node-1',
        deviceName: 'gpu-0',
        cdiDeviceIds: [`k8s.lockstep.dev/claim=${V1_UID}-gpu-0`],
      },
      {
        requestNames: ['nic'],
        poolName: 'gpu-node-1',
        deviceName: 'nic-0000-1a-00-0',
        cdiDeviceIds: [`k8s.lockstep.dev/claim=${V1_UID}-nic-0000-1a-00-0`],
      },
    ]);
  });

  it('a v1 file on disk is read and rewritten as v2, atomically, and then loads as v2', async () => {
    const path = join(dir, 'checkpoint.json');
    await copyFile(V1_FILE, path);
    const store = new CheckpointStore(path, 'lockstep.dev', 'gpu-node-1');
    const first = await store.load();
    expect(first).toMatchObject({ state: 'loaded', migratedFrom: 1 });
    // rewritten in place through the atomic write: no temporary file left, no file moved aside
    expect(await readdir(dir)).toEqual(['checkpoint.json']);
    const onDisk = await readFile(path, 'utf8');
    expect(JSON.parse(onDisk)).toMatchObject({ version: 2 });
    expect(onDisk).not.toContain('device_name');
    expect(parseCheckpoint(onDisk)).toEqual(first.data);
    const second = await store.load();
    expect(second).toEqual({ state: 'loaded', data: first.data });
  });

  it('a damaged v1 file is not migrated: moved aside as corrupt', async () => {
    const path = join(dir, 'checkpoint.json');
    await writeFile(path, (await readFile(V1_FILE, 'utf8')).replace('"gpu-0"', '"gpu-1"'));
    const load = await new CheckpointStore(path, 'lockstep.dev', 'gpu-node-1').load();
    expect(load).toMatchObject({ state: 'corrupt', error: expect.stringContaining('checksum mismatch') });
  });

  it('a file of a newer agent is refused with a clear error and left where it is', async () => {
    const path = join(dir, 'checkpoint.json');
    const newer = '{"version":3,"driver":"lockstep.dev","node":"gpu-node-1","claims":{},"checksum":"x"}\n';
    await writeFile(path, newer);
    const load = new CheckpointStore(path, 'lockstep.dev', 'gpu-node-1').load();
    await expect(load).rejects.toBeInstanceOf(CheckpointVersionError);
    await expect(load).rejects.toThrow(
      `checkpoint ${path} is version 3, newer than this agent's 2: it was written by a newer lockstep agent`,
    );
    expect(await readdir(dir)).toEqual(['checkpoint.json']);
    expect(await readFile(path, 'utf8')).toBe(newer);
  });
});
