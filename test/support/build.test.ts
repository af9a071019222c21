import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { buildInputsHash, INPUTS_HASH_FILE } from '../../scripts/build-inputs.mjs';
import { ensureBuiltAt } from './build-lock.js';

const REPO_ROOT = join(import.meta.dirname, '..', '..');

/** A tree with the inputs build-inputs.mjs hashes; `build` stands in for scripts/build.mjs and records the hash. */
function tree(): { root: string; builds: () => number; build: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'lockstep-build-'));
  for (const dir of ['src/cli', 'agent', 'leader', 'scripts']) mkdirSync(join(root, dir), { recursive: true });
  for (const file of ['src/cli/lockstep.ts', 'scripts/build.mjs', 'scripts/build-inputs.mjs']) {
    writeFileSync(join(root, file), `// ${file}\n`);
  }
  writeFileSync(join(root, 'package.json'), '{}\n');
  writeFileSync(join(root, 'package-lock.json'), '{}\n');
  let count = 0;
  const build = () => {
    count += 1;
    mkdirSync(join(root, 'dist'), { recursive: true });
    writeFileSync(join(root, 'dist', INPUTS_HASH_FILE), `${buildInputsHash(root)}\n`);
  };
  return { root, builds: () => count, build };
}

const children: ReturnType<typeof spawn>[] = [];
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL');
});

describe('ensureBuilt: the build runs only for tests that need dist/, and only when its sources changed', () => {
  it('builds a tree never built, then not again until a source changes', () => {
    const t = tree();
    ensureBuiltAt(t.root, t.build);
    expect(t.builds()).toBe(1);
    ensureBuiltAt(t.root, t.build);
    expect(t.builds()).toBe(1);
    writeFileSync(join(t.root, 'src/cli/lockstep.ts'), '// changed\n');
    ensureBuiltAt(t.root, t.build);
    expect(t.builds()).toBe(2);
    writeFileSync(join(t.root, 'agent', 'new.ts'), '// a new file\n');
    ensureBuiltAt(t.root, t.build);
    expect(t.builds()).toBe(3);
  });

  it('a source brought back to an earlier content counts as changed from the later build', () => {
    const t = tree();
    ensureBuiltAt(t.root, t.build);
    writeFileSync(join(t.root, 'leader', 'x.ts'), '// later\n');
    ensureBuiltAt(t.root, t.build);
    writeFileSync(join(t.root, 'leader', 'x.ts'), '// earlier\n');
    ensureBuiltAt(t.root, t.build);
    expect(t.builds()).toBe(3);
  });

  it('takes over the lock of a builder that died, and leaves no lock behind', () => {
    const t = tree();
    mkdirSync(join(t.root, 'dist'));
    // a pid that is not running: one past the kernel's usual maximum
    writeFileSync(join(t.root, 'dist', '.build.lock'), '4194305');
    ensureBuiltAt(t.root, t.build);
    expect(t.builds()).toBe(1);
    expect(readdirSync(join(t.root, 'dist'))).toEqual([INPUTS_HASH_FILE]);
  });

  it('waits for a live builder and uses what it built instead of building again', async () => {
    const t = tree();
    mkdirSync(join(t.root, 'dist'));
    const lock = join(t.root, 'dist', '.build.lock');
    const hash = buildInputsHash(t.root);
    // the other builder: holds the lock, records the hash after a moment, then lets go
    const other = spawn(
      'sh',
      [
        '-c',
        `echo $$ > '${lock}'; sleep 0.5; echo ${hash} > '${join(t.root, 'dist', INPUTS_HASH_FILE)}'; rm '${lock}'`,
      ],
      { stdio: 'ignore' },
    );
    children.push(other);
    await new Promise<void>((resolve, reject) => {
      const poll = setInterval(() => {
        try {
          if (readFileSync(lock, 'utf8').trim() !== '') {
            clearInterval(poll);
            resolve();
          }
        } catch {
          // not written yet
        }
      }, 10);
      other.on('exit', () => {
        clearInterval(poll);
        reject(new Error('the other builder ended before it took the lock'));
      });
    });
    ensureBuiltAt(t.root, t.build);
    expect(t.builds()).toBe(0);
  });

  it('every test reaches dist/ through bundlePath or ensureBuilt, so none runs a bundle it did not build', () => {
    // test/bench runs after `npm run bench` built dist/; test/release reads dist/release, made by `npm run package`;
    // test/cluster/main.ts only checks for the bundle to print a hint; this file builds trees of its own
    const exempt = /^test\/(bench\/|release\/|cluster\/main\.ts$|support\/build(-lock|\.test)?\.ts$)/;
    const offenders: string[] = [];
    for (const entry of readdirSync(join(REPO_ROOT, 'test'), { withFileTypes: true, recursive: true })) {
      if (!entry.isFile() || !entry.name.endsWith('.ts')) continue;
      const path = relative(REPO_ROOT, join(entry.parentPath, entry.name));
      if (exempt.test(path)) continue;
      const code = readFileSync(join(REPO_ROOT, path), 'utf8')
        .split('\n')
        .filter((line) => !/^\s*(\/\/|\*|\/\*\*)/.test(line));
      for (const line of code) if (/['"`]dist['"`/]/.test(line)) offenders.push(`${path}: ${line.trim()}`);
    }
    expect(offenders).toEqual([]);
  });
});
