import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isAtomicTempName, removeFileDurable, writeFileAtomic } from '../../src/fs/atomic-file.js';

const scratch = () => mkdtempSync(join(tmpdir(), 'lockstep-atomic-'));

describe('writeFileAtomic', () => {
  it('writes, replaces, and leaves no temporary files behind', async () => {
    const dir = scratch();
    const path = join(dir, 'state.json');
    await writeFileAtomic(path, '{"v":1}');
    await writeFileAtomic(path, '{"v":2}');
    expect(readFileSync(path, 'utf8')).toBe('{"v":2}');
    expect(readdirSync(dir)).toEqual(['state.json']);
  });

  it('creates missing parent directories and applies the mode', async () => {
    const dir = scratch();
    const path = join(dir, 'a', 'b', 'checkpoint.json');
    await writeFileAtomic(path, 'x', 0o600);
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('fails with the cause and keeps the old content when the target cannot be replaced', async () => {
    const dir = scratch();
    const blocked = join(dir, 'blocked');
    writeFileSync(blocked, 'a file where a directory is needed');
    await expect(writeFileAtomic(join(blocked, 'x.json'), 'new')).rejects.toThrow(/EEXIST|ENOTDIR/);
    expect(readFileSync(blocked, 'utf8')).toBe('a file where a directory is needed');
  });

  it('removes durably, and absent files are fine', async () => {
    const dir = scratch();
    const path = join(dir, 'gone.json');
    await writeFileAtomic(path, 'x');
    await removeFileDurable(path);
    await removeFileDurable(path);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('names its temporaries so directory scans can skip them', () => {
    expect(isAtomicTempName('.claim-1.json.123.abcd.tmp')).toBe(true);
    expect(isAtomicTempName('claim-1.json')).toBe(false);
  });
});
