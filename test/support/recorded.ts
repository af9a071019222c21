/**
 * Recorded data: the hardware recordings and official Kubernetes schemas kept in `../shared` beside the checkout
 * (`../shared/fixtures`, `../shared/k8s`). They may not be copied into the project, so a fresh clone has none of them.
 * Tests that read them declare it with {@link describeRecorded} / {@link itRecorded}: where the data exists they run as
 * usual; where it does not they are collected as skipped, their names carry {@link RECORDED_SKIP_MARK}, and the
 * reporter in ./recorded-reporter.ts prints how many were skipped. Everything else runs on fixtures and simulated-node
 * models the project authors itself (test/cluster/nodes).
 *
 * A test that needs recorded data must read it inside the test or a hook (never at module top level or in a
 * describe body), because skipped suites are still collected.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'vitest';

/** The repository root (this file is test/support/recorded.ts). */
const REPO_ROOT = join(import.meta.dirname, '..', '..');

/** `../shared` beside the checkout, as CI and the developers' worktrees lay it out. */
const SHARED_DIR = join(REPO_ROOT, '..', 'shared');
/** Hardware recordings (lspci, nvidia-smi, sysfs, kernel logs, …); see SOURCES.md there. */
export const RECORDED_FIXTURES = join(SHARED_DIR, 'fixtures');
/** Official Kubernetes API documents (resource.k8s.io/v1 OpenAPI, the LeaderWorkerSet CRD). */
export const RECORDED_K8S = join(SHARED_DIR, 'k8s');

export type RecordedSet = 'fixtures' | 'k8s';

const RECORDED_DIRS: Record<RecordedSet, string> = { fixtures: RECORDED_FIXTURES, k8s: RECORDED_K8S };

/** Whether the recorded data set is present (checked once per test file). */
function hasRecorded(set: RecordedSet = 'fixtures'): boolean {
  return existsSync(RECORDED_DIRS[set]);
}

export const HAS_RECORDED_FIXTURES = hasRecorded('fixtures');

/** Appended to the name of every test skipped for want of recorded data; the reporter counts tests by it. */
export const RECORDED_SKIP_MARK = '[needs ../shared]';

/** A path inside ../shared/fixtures (only meaningful where {@link HAS_RECORDED_FIXTURES}). */
export function recordedFixture(...parts: string[]): string {
  return join(RECORDED_FIXTURES, ...parts);
}

function missing(needs: RecordedSet | readonly RecordedSet[]): boolean {
  const sets: readonly RecordedSet[] = typeof needs === 'string' ? [needs] : needs;
  return sets.some((s) => !hasRecorded(s));
}

/** `describe` for a suite that reads ../shared: skipped (and counted) where the data is absent. */
export function describeRecorded(
  name: string,
  body: () => void,
  needs: RecordedSet | readonly RecordedSet[] = 'fixtures',
): void {
  if (!missing(needs)) {
    describe(name, body);
    return;
  }
  describe.skip(`${name} ${RECORDED_SKIP_MARK}`, () => {
    // A body that reads recorded data while it is collected throws here: the tests it declared before that are
    // skipped and counted, and one placeholder stands for the rest.
    try {
      body();
    } catch {
      it.skip(`(the rest of this suite reads ../shared while it is collected) ${RECORDED_SKIP_MARK}`, () => {});
    }
  });
}

/** `it` for a single test that reads ../shared: skipped (and counted) where the data is absent. */
export function itRecorded(
  name: string,
  body: () => unknown,
  timeoutOrOptions: number | { needs?: RecordedSet | readonly RecordedSet[]; timeout?: number } = {},
): void {
  const options = typeof timeoutOrOptions === 'number' ? { timeout: timeoutOrOptions } : timeoutOrOptions;
  if (missing(options.needs ?? 'fixtures')) it.skip(`${name} ${RECORDED_SKIP_MARK}`, body);
  else it(name, body, options.timeout);
}
