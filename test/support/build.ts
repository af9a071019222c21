/**
 * Builds dist/ for the tests that run or read the bundles, and only for them: a run of pure test files never builds.
 * `ensureBuilt()` compares the hash of the build's inputs (scripts/build-inputs.mjs) with the one the last build
 * recorded in dist/, and rebuilds when they differ. Vitest runs test files in parallel workers: a lock file makes one
 * of them build while the others wait, then find dist/ up to date.
 * The check and the lock, with their threats: ./build-lock.ts.
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { BUILD_TIMEOUT_MS, ensureBuiltAt } from './build-lock.js';

const REPO_ROOT = join(import.meta.dirname, '..', '..');
const DIST = join(REPO_ROOT, 'dist');

/**
 * In a vitest worker, a test file that imports this module (directly or through a helper that runs bundles) gets
 * dist/ built before its first test: a build inside a test would count against that test's timeout, and a cold build
 * on a fresh clone takes longer than one. Elsewhere (`npm run cluster`, the bench) `ensureBuilt` runs on first use.
 * A vitest worker is told by the worker state vitest keeps on globalThis, not by its VITEST_* variables: processes a
 * test starts (the playground, `npm run cluster`) inherit those, and registering a hook outside a runner throws.
 */
if ('__vitest_worker__' in globalThis) {
  const { beforeAll } = await import('vitest');
  beforeAll(() => {
    ensureBuilt();
  }, BUILD_TIMEOUT_MS);
}

/** Once per process: later calls of a worker trust the check it already made. */
let checked = false;

/** Builds dist/ unless it was built from the current sources; returns dist/. Blocks while another worker builds. */
export function ensureBuilt(): string {
  if (!checked) {
    ensureBuiltAt(REPO_ROOT, () =>
      execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build.mjs')], {
        cwd: REPO_ROOT,
        stdio: ['ignore', 'inherit', 'inherit'],
        timeout: BUILD_TIMEOUT_MS,
      }),
    );
    checked = true;
  }
  return DIST;
}

/** The path of a bundle in dist/, built first when needed: what tests that run or read a bundle use. */
export function bundlePath(name: 'lockstep' | 'kubectl-lockstep' | 'kubectl_complete-lockstep'): string {
  const dist = ensureBuilt();
  return name === 'lockstep' ? join(dist, 'lockstep.mjs') : join(dist, 'plugin', `${name}.mjs`);
}
