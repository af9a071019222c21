/**
 * PCIe AER counters (pure). `aer_dev_fatal` and `aer_dev_nonfatal` hold one `<name> <count>` per line and a
 * `TOTAL_ERR_FATAL` / `TOTAL_ERR_NONFATAL` line (FACTS.md §9). Counters only rise; a rise is a new error.
 */
import type { BoardReading } from './board.js';

/** The TOTAL_ERR_* count of one AER file; undefined when the file has no such line. */
export function parseAerTotal(text: string): number | undefined {
  const m = /^TOTAL_ERR_(?:FATAL|NONFATAL|COR)\s+(\d+)\s*$/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** The individual counters that are not zero (for the message): `{ DLP: 1, … }`. */
export function aerNonZero(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/^(\w+)\s+(\d+)\s*$/gm)) {
    const name = m[1] ?? '';
    const n = Number(m[2]);
    if (n > 0 && !name.startsWith('TOTAL_ERR')) out[name] = n;
  }
  return out;
}

export interface AerSample {
  fatal?: number;
  nonFatal?: number;
  /** non-zero individual counters, for the message */
  detail?: Record<string, number>;
}

/**
 * Judges a device's AER counters over time. The first sample is the baseline (errors from before the agent started
 * are history). A fatal rise is sticky: the link needs a reset, which the agent cannot see. A non-fatal rise is
 * unhealthy until the counter has stopped rising for `quietMs`.
 */
export class AerTracker {
  private baseline: AerSample | undefined;
  private fatalSeen: { count: number; at: number } | undefined;
  private nonFatalAt: number | undefined;
  private nonFatalLast: number | undefined;

  constructor(private readonly quietMs: number) {}

  observe(sample: AerSample, now: number): BoardReading {
    if (!this.baseline) {
      this.baseline = sample;
      this.nonFatalLast = sample.nonFatal;
      return { state: 'healthy' };
    }
    const fatalRise = (sample.fatal ?? 0) - (this.baseline.fatal ?? sample.fatal ?? 0);
    if (fatalRise > 0 && (!this.fatalSeen || this.fatalSeen.count < fatalRise))
      this.fatalSeen = { count: fatalRise, at: now };
    if (sample.nonFatal !== undefined && this.nonFatalLast !== undefined && sample.nonFatal > this.nonFatalLast) {
      this.nonFatalAt = now;
    }
    if (sample.nonFatal !== undefined) this.nonFatalLast = sample.nonFatal;
    const detail = Object.entries(sample.detail ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    if (this.fatalSeen) {
      return {
        state: 'unhealthy',
        reason: 'aer-fatal',
        message: `PCIe AER: ${this.fatalSeen.count} fatal errors since the agent started${detail ? ` (${detail})` : ''}`,
      };
    }
    if (this.nonFatalAt !== undefined && now - this.nonFatalAt < this.quietMs) {
      const rise = (sample.nonFatal ?? 0) - (this.baseline.nonFatal ?? 0);
      return {
        state: 'unhealthy',
        reason: 'aer-nonfatal',
        message: `PCIe AER: non-fatal errors rising (${rise} since the agent started)${detail ? ` (${detail})` : ''}`,
      };
    }
    return { state: 'healthy' };
  }

  /** forgets a sticky fatal fault (after a reset) and takes the next sample as the new baseline */
  reset(): void {
    this.baseline = undefined;
    this.fatalSeen = undefined;
    this.nonFatalAt = undefined;
  }
}
