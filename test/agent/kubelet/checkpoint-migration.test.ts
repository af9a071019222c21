import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  CHECKPOINT_VERSION,
  type CheckpointMigration,
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

  it('this agent writes version 1 and knows every older version it may meet (none yet)', () => {
    expect(CHECKPOINT_VERSION).toBe(1);
    expect(Object.keys(MIGRATIONS).map(Number).sort()).toEqual(
      Array.from({ length: CHECKPOINT_VERSION - 1 }, (_, i) => i + 1),
    );
    expect(() => parseCheckpoint('{"version":2,"claims":{}}')).toThrow(/newer than this agent's 1/);
  });
});
