// What dist/ is built from, as one hash: scripts/build.mjs records it in dist/ after a build, and the tests that run
// the bundles (test/support/build.ts) rebuild only when it changed, so a test run that needs no bundle never builds.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/** Sources that end up in a bundle (the code, its .proto files) and what decides how they are bundled. */
const SOURCE_DIRS = ['src', 'agent', 'leader'];
const BUILD_FILES = ['scripts/build.mjs', 'scripts/build-inputs.mjs', 'package.json', 'package-lock.json'];

/** Where a build records the hash of the inputs it was made from. */
export const INPUTS_HASH_FILE = '.inputs-hash';

function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

/**
 * sha256 over every input's path and content, in a fixed order. Content, not mtimes: a checkout or rebase that
 * brings back an earlier file must not count as up to date with a build of the later one.
 */
export function buildInputsHash(root) {
  const files = [
    ...SOURCE_DIRS.flatMap((dir) => filesUnder(join(root, dir))),
    ...BUILD_FILES.map((f) => join(root, f)),
  ];
  const hash = createHash('sha256');
  for (const file of files.map((f) => relative(root, f)).sort()) {
    hash.update(`${file}\0`);
    hash.update(readFileSync(join(root, file)));
    hash.update('\0');
  }
  return hash.digest('hex');
}
