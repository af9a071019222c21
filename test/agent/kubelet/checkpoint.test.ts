import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
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
    expect(() => parseCheckpoint('{"version":2,"claims":{}}')).toThrow(/unknown checkpoint version 2/);
    expect(() => parseCheckpoint('{"version":1')).toThrow();
  });

  it('a missing file is empty; a damaged one is moved aside, not trusted', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ckpt-'));
    const store = new CheckpointStore(join(dir, 'checkpoint.json'), 'lockstep.dev', 'n1');
    expect((await store.load()).state).toBe('missing');
    const data = emptyCheckpoint('lockstep.dev', 'n1');
    await store.save(data);
    expect(await store.load()).toEqual({ state: 'loaded', data });
    await writeFile(join(dir, 'checkpoint.json'), '{"version":1,"claims":{}, "checksum":"bad"}');
    const load = await store.load();
    expect(load.state).toBe('corrupt');
    expect((await readdir(dir)).some((name) => name.startsWith('checkpoint.json.corrupt-'))).toBe(true);
    if (load.state === 'corrupt') expect(await readFile(load.movedTo, 'utf8')).toContain('"bad"');
  });
});
