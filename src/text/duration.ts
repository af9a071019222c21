/**
 * A duration as people write it, in the grammar of every lockstep flag (src/cli/duration.ts reads it back): the
 * shortest such text for `ms`, so a log line or an error names the value the way `--help` and the user wrote it.
 * 2000 → `2s`, 90000 → `1m30s`, 250 → `250ms`.
 */
export function formatDuration(ms: number): string {
  if (!Number.isInteger(ms) || ms < 0) throw new RangeError(`not a duration in ms: ${ms}`);
  if (ms === 0) return '0s';
  const parts: string[] = [];
  let rest = ms;
  for (const [unit, size] of [
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
    ['ms', 1],
  ] as const) {
    const n = Math.floor(rest / size);
    if (n > 0) parts.push(`${n}${unit}`);
    rest -= n * size;
  }
  return parts.join('');
}
