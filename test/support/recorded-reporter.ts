/**
 * Prints one line after a run saying how many tests were skipped because ../shared (the recorded data) is absent,
 * e.g. `recorded-data tests: 41 skipped (no ../shared/fixtures)`. Tests are counted by the mark that
 * ./recorded.ts appends to the names of the tests it skips.
 */
import { existsSync } from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';
import { RECORDED_FIXTURES, RECORDED_K8S, RECORDED_SKIP_MARK } from './recorded.js';

export function recordedSummary(skipped: number, missingDirs: readonly string[]): string {
  if (missingDirs.length === 0) return `recorded-data tests: ${skipped} skipped (../shared present)`;
  return `recorded-data tests: ${skipped} skipped (no ${missingDirs.join(', no ')})`;
}

export default class RecordedReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let skipped = 0;
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        if (test.result().state === 'skipped' && test.fullName.includes(RECORDED_SKIP_MARK)) skipped++;
      }
    }
    const missingDirs = [
      ['../shared/fixtures', RECORDED_FIXTURES],
      ['../shared/k8s', RECORDED_K8S],
    ]
      .filter(([, dir]) => !existsSync(dir as string))
      .map(([label]) => label as string);
    process.stdout.write(`${recordedSummary(skipped, missingDirs)}\n`);
  }
}
