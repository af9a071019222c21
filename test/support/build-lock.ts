/**
 * The up-to-date check and the lock behind test/support/build.ts, for any tree laid out like this repository (its
 * tests use temporary trees). Threats: a worker killed while building leaves its lock behind (a lock whose process
 * is gone is taken over); a build that fails leaves no recorded hash, so the next caller tries again and reports the
 * build's own error; a holder that never lets go is given up on after BUILD_TIMEOUT_MS.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { buildInputsHash, INPUTS_HASH_FILE } from '../../scripts/build-inputs.mjs';

/** A cold build on a loaded machine takes tens of seconds; minutes means it hangs. */
export const BUILD_TIMEOUT_MS = 5 * 60_000;
const LOCK_POLL_MS = 100;
const EMPTY_LOCK_MS = 10_000;

/**
 * `build` runs, holding `<root>/dist/.build.lock`, when the hash recorded in `<root>/dist` differs from the hash of
 * the tree's build inputs (the build records it itself); a caller that waited for another's build re-checks first.
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
