import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type EnvFile, jsonPathFor, readEnvFile, renderShell, writeEnvFile } from '../../../leader/member/env-file.js';

function file(env: Record<string, string>): EnvFile {
  return {
    version: 1,
    group: 'g',
    namespace: 'ns',
    rank: 1,
    epoch: 1,
    size: 2,
    memberId: 'web-1',
    coordinator: '127.0.0.1:7470',
    env,
    release: { epoch: 1, group: 'g', namespace: 'ns', size: 2, rank: 1, members: [], masterPort: 29500, extraEnv: {} },
  };
}

/** What a POSIX shell sees after sourcing the file. */
function sourced(path: string, names: string[]): Record<string, string> {
  const script = `. "$1"; shift; for n in "$@"; do eval "printf '%s\\0' \\"\\$$n\\""; done`;
  const out = execFileSync('/bin/sh', ['-c', script, 'sh', path, ...names], { env: {} });
  const values = out.toString('utf8').split('\0').slice(0, names.length);
  return Object.fromEntries(names.map((n, i) => [n, values[i]!]));
}

describe('the environment file', () => {
  it('round-trips through the JSON twin and sources in /bin/sh to the same values', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-env-'));
    const path = join(dir, 'sub', 'group.env');
    const env = { A: "it's", B: 'two\nlines', C: '$(HOME) `x` $y "q"', D: '' };
    await writeEnvFile(path, file(env));
    expect((await readEnvFile(path))?.env).toEqual(env);
    expect(sourced(path, Object.keys(env))).toEqual(env);
    // atomic writes leave no temporary files behind
    expect(readdirSync(join(dir, 'sub')).sort()).toEqual(['group.env', 'group.env.json']);
  });

  it('quotes any value so the shell reads it back unchanged', () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-env-'));
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary' }).filter((s) => !s.includes('\0')),
        (value) => {
          const path = join(dir, 'p.env');
          writeFileSync(path, renderShell(file({ V: value })));
          return sourced(path, ['V']).V === value;
        },
      ),
      { numRuns: 40 },
    );
  });

  it('is absent before bootstrap ran, and a damaged one is an error that names the file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lockstep-env-'));
    expect(await readEnvFile(join(dir, 'none.env'))).toBeUndefined();
    writeFileSync(jsonPathFor(join(dir, 'bad.env')), '{"version":1');
    await expect(readEnvFile(join(dir, 'bad.env'))).rejects.toThrow(`${dir}/bad.env.json is not valid JSON`);
    writeFileSync(jsonPathFor(join(dir, 'old.env')), '{"version":99}');
    await expect(readEnvFile(join(dir, 'old.env'))).rejects.toThrow('is not a lockstep group environment file');
  });

  it('refuses variable names a shell cannot take', () => {
    expect(() => renderShell(file({ 'BAD-NAME': 'x' }))).toThrow('invalid name "BAD-NAME"');
  });
});
