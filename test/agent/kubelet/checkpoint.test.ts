import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CheckpointStore,
  emptyCheckpoint,
  parseCheckpoint,
  renderCheckpoint,
} from '../../../agent/kubelet/checkpoint.js';

describe('checkpoint', () => {
  it('round-trips and detects damage', () => {
    const data = emptyCheckpoint('lockstep.dev', 'n1');
    data.claims.u1 = { uid: 'u1', namespace: 'ns', name: 'c', devices: [], specFile: 'f.json', specContent: '{}' };
    const text = renderCheckpoint(data);
    expect(parseCheckpoint(text)).toEqual(data);
    expect(() => parseCheckpoint(text.replace('"ns"', '"nz"'))).toThrow(/checksum mismatch/);
    expect(() => parseCheckpoint('{"version":3,"claims":{}}')).toThrow(/unknown checkpoint version 3/);
    expect(() => parseCheckpoint('{"version":1')).toThrow();
  });

  it('a missing file is empty; a damaged one is moved aside, not trusted', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ckpt-'));
    const store = new CheckpointStore(join(dir, 'checkpoint.json'), 'lockstep.dev', 'n1');
    expect((await store.load()).state).toBe('missing');
    const data = emptyCheckpoint('lockstep.dev', 'n1');
    await store.save(data);
    expect(await store.load()).toEqual({ state: 'loaded', data });
    await writeFile(join(dir, 'checkpoint.json'), '{"version":2,"claims":{}, "checksum":"bad"}');
    const load = await store.load();
    expect(load.state).toBe('corrupt');
    expect((await readdir(dir)).some((name) => name.startsWith('checkpoint.json.corrupt-'))).toBe(true);
    if (load.state === 'corrupt') expect(await readFile(load.movedTo, 'utf8')).toContain('"bad"');
  });
});

describe('checkpoint properties', () => {
  const entry = fc.record({
    uid: fc.uuid(),
    namespace: fc.stringMatching(/^[a-z0-9-]{1,20}$/),
    name: fc.stringMatching(/^[a-z0-9-]{1,30}$/),
    devices: fc.array(
      fc.record({
        requestNames: fc.array(fc.string(), { maxLength: 3 }),
        poolName: fc.string(),
        deviceName: fc.string(),
        cdiDeviceIds: fc.array(fc.string(), { maxLength: 2 }),
      }),
      { maxLength: 4 },
    ),
    specFile: fc.string(),
    specContent: fc.string(),
  });

  it('round-trips any record', () => {
    fc.assert(
      fc.property(fc.array(entry, { maxLength: 5 }), (entries) => {
        const data = emptyCheckpoint('lockstep.dev', 'n1');
        for (const e of entries) data.claims[e.uid] = e;
        expect(parseCheckpoint(renderCheckpoint(data))).toEqual(data);
      }),
    );
  });

  it('never trusts a truncated file (what a torn write would leave)', () => {
    fc.assert(
      fc.property(fc.array(entry, { minLength: 1, maxLength: 3 }), fc.nat(), (entries, cut) => {
        const data = emptyCheckpoint('lockstep.dev', 'n1');
        for (const e of entries) data.claims[e.uid] = e;
        const text = renderCheckpoint(data);
        const at = cut % (text.length - 2);
        expect(() => parseCheckpoint(text.slice(0, at))).toThrow();
      }),
    );
  });
});
