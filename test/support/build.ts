/**
 * Builds dist/ for the tests that run or read the bundles, and only for them: a run of pure test files never builds.
 * `ensureBuilt()` compares the hash of the build's inputs (scripts/build-inputs.mjs) with the one the last build
 * recorded in dist/, and rebuilds when they differ. Vitest runs test files in parallel workers: a lock file makes one
 * of them build while the others wait, then find dist/ up to date.
 *
 * Threats: a worker killed while building leaves its lock behind (a lock whose process is gone is taken over); a
 * build that fails leaves no recorded hash, so the next test tries again and reports the build's own error; a build
 * that hangs is given up on after BUILD_TIMEOUT_MS.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { buildInputsHash, INPUTS_HASH_FILE } from '../../scripts/build-inputs.mjs';

const REPO_ROOT = join(import.meta.dirname, '..', '..');
const DIST = join(REPO_ROOT, 'dist');

/** A cold build on a loaded machine takes tens of seconds; minutes means it hangs. */
const BUILD_TIMEOUT_MS = 5 * 60_000;
const LOCK_POLL_MS = 100;
const EMPTY_LOCK_MS = 10_000;

/**
 * In a vitest worker, a test file that imports this module (directly or through a helper that runs bundles) gets
 * dist/ built before its first test: a build inside a test would count against that test's timeout, and a cold build
 * on a fresh clone takes longer than one. Elsewhere (`npm run cluster`, the bench) `ensureBuilt` runs on first use.
 */
if (process.env.VITEST_WORKER_ID !== undefined) {
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

/**
 * The check behind `ensureBuilt` for any tree laid out like this repository: `build` runs, holding `<root>/dist/.build.lock`,
 * when the hash recorded in `<root>/dist` differs from the inputs' hash (the build records it itself).
 */
export function ensureBuiltAt(root: string, build: () => void): void {
  const dist = join(root, 'dist');
  if (recordedHash(dist) === buildInputsHash(root)) return;
  mkdirSync(dist, { recursive: true });
  withLock(join(dist, '.build.lock'), () => {
    // whoever held the lock before may have built these very sources
    if (recordedHash(dist) !== buildInputsHash(root)) build();
  });
}

/** The path of a bundle in dist/, built first when needed: what tests that run or read a bundle use. */
export function bundlePath(name: 'lockstep' | 'kubectl-lockstep' | 'kubectl_complete-lockstep'): string {
  const dist = ensureBuilt();
  return name === 'lockstep' ? join(dist, 'lockstep.mjs') : join(dist, 'plugin', `${name}.mjs`);
}

function recordedHash(dist: string): string | undefined {
  try {
    return readFileSync(join(dist, INPUTS_HASH_FILE), 'utf8').trim();
  } catch {
    return undefined;
  }
}

/** Runs `work` holding the lock file (created exclusively, holding our pid), waiting for another holder first. */
function withLock(lock: string, work: () => void): void {
  const deadline = Date.now() + BUILD_TIMEOUT_MS;
  for (;;) {
    let fd: number | undefined;
    try {
      fd = openSync(lock, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (fd !== undefined) {
      try {
        writeSync(fd, String(process.pid));
        closeSync(fd);
        work();
      } finally {
        rmSync(lock, { force: true });
      }
      return;
    }
    if (holderGone(lock)) {
      rmSync(lock, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`dist/ is still being built by another process after 5 minutes`);
    // a synchronous wait: the callers are synchronous test helpers, and nothing else of this worker runs meanwhile
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, LOCK_POLL_MS);
  }
}

/**
 * The lock's process is gone (killed mid-build). A lock still empty is being written, unless it stayed empty for
 * longer than writing a pid takes (its process died in between).
 */
function holderGone(lock: string): boolean {
  let pid: number;
  try {
    pid = Number(readFileSync(lock, 'utf8'));
    if (pid === 0) return Date.now() - statSync(lock).mtimeMs > EMPTY_LOCK_MS;
  } catch {
    return false;
  }
  if (!Number.isInteger(pid) || pid < 0) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
