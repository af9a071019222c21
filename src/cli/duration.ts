/**
 * The one duration grammar of every lockstep flag and environment twin: a sequence of `<number><unit>` parts with
 * units `ms`, `s`, `m`, `h` (Go's `time.ParseDuration` shape, which Kubernetes users already write: `500ms`, `2s`,
 * `10m`, `1h`, `1m30s`, `1.5s`).
 *
 * A bare number is refused: it used to mean seconds while `--help` printed defaults in milliseconds, so
 * `--heartbeat-timeout 2000` silently meant 33 minutes.
 *
 * Threats (values come from command lines, env twins and manifests): huge numbers (`99999999999999999999h`) that
 * overflow timers — callers bound the result, see {@link MAX_TIMER_MS}; long hostile strings — parsing is one
 * left-to-right scan, linear in the input, with a length cap; negative, NaN or exponent forms (`-1s`, `1e3s`) —
 * refused by the grammar.
 */

/** What every duration error shows, so a refused value always teaches the accepted forms. */
export const DURATION_FORMS = '500ms, 2s, 10m, 1h, 1m30s';

/** Node's timers hold at most 2^31-1 ms (about 24.8 days); a longer delay fires after 1 ms with a warning. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

const UNIT_MS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Nothing sensible is this long; refusing early keeps hostile input cheap. */
const MAX_DURATION_TEXT = 64;

const PART = /(\d+(?:\.\d+)?)(ms|s|m|h)/y;

export type DurationResult = { ok: true; ms: number } | { ok: false; reason: string };

/** Pure: `1m30s` → 90000. Fractions round to the nearest millisecond. */
export function readDuration(text: string): DurationResult {
  const value = text.trim();
  const refuse = (why: string): DurationResult => ({
    ok: false,
    reason: `${JSON.stringify(text)} is not a duration${why} (accepted forms: ${DURATION_FORMS})`,
  });
  if (value === '') return refuse('');
  if (value.length > MAX_DURATION_TEXT) return refuse(': too long');
  if (/^\d+(\.\d+)?$/.test(value)) return refuse(': give a unit');
  let ms = 0;
  let at = 0;
  while (at < value.length) {
    PART.lastIndex = at;
    const m = PART.exec(value);
    if (!m) return refuse('');
    ms += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    at = PART.lastIndex;
  }
  if (!Number.isFinite(ms)) return refuse(': too long');
  return { ok: true, ms: Math.round(ms) };
}
