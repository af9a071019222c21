/**
 * The checked-in protocol types match the .proto files: regenerating them (scripts/generate-proto.mjs, buf + ts-proto)
 * into a temporary folder gives the same files, byte for byte. A .proto changed without `npm run generate:proto`
 * fails here, in CI.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const checkedIn = join(root, 'src', 'proto', 'generated');

describe('generated protocol types', () => {
  const fresh = mkdtempSync(join(tmpdir(), 'lockstep-proto-'));
  afterAll(() => rmSync(fresh, { recursive: true, force: true }));

  it('are what the .proto files generate today', () => {
    execFileSync(process.execPath, [join(root, 'scripts', 'generate-proto.mjs'), fresh], { cwd: root, stdio: 'pipe' });
    const files = readdirSync(fresh).sort();
    const protos = readdirSync(join(root, 'src', 'proto')).filter((f) => f.endsWith('.proto'));
    expect(files).toEqual(protos.map((f) => f.replace(/\.proto$/, '.ts')).sort());
    expect(readdirSync(checkedIn).sort()).toEqual(files);
    for (const file of files) {
      expect(readFileSync(join(checkedIn, file), 'utf8'), `${file}: run npm run generate:proto`).toBe(
        readFileSync(join(fresh, file), 'utf8'),
      );
    }
  });
});
