import { RECORDED_FIXTURES } from '../../support/recorded.js';

/** ../shared/fixtures: read it only in tests declared with describeRecorded / itRecorded. */
export const FIXTURES = RECORDED_FIXTURES;

/**
 * The recorded kernel log is `dmesg -T` output (`[Sun Feb 23 16:24:18 2025] text`), not /dev/kmsg records. The
 * agent reads kmsg records, so tests convert each line into one: `<prio>,<seq>,<usec>,-;<text>` with sequence
 * numbers counting up from `firstSeq` and the wall-clock time turned into microseconds since the first line.
 */
export function dmesgToKmsg(dmesg: string, firstSeq = 1): string[] {
  const lines = dmesg.split('\n').filter((l) => l.length > 0);
  let t0: number | undefined;
  return lines.map((line, i) => {
    const m = /^\[([^\]]+)\] ?(.*)$/.exec(line);
    const when = m ? Date.parse(m[1] ?? '') : Number.NaN;
    if (t0 === undefined && !Number.isNaN(when)) t0 = when;
    const usec = Number.isNaN(when) || t0 === undefined ? 0 : (when - t0) * 1000;
    const text = m ? (m[2] ?? '') : line;
    // NVRM lines are logged at level 4 (warning) with facility kern (0): prio 4
    return `4,${firstSeq + i},${usec},-;${text}`;
  });
}

/** The 8 GPUs of the recorded 8x H100 host (bus ids 19,3B,4C,5D,9B,BB,CB,DB in nvidia-smi -q), as gpu-0..gpu-7. */
export const H100_GPUS = ['19', '3b', '4c', '5d', '9b', 'bb', 'cb', 'db'].map((bus, index) => ({
  name: `gpu-${index}`,
  pciAddress: `0000:${bus}:00.0`,
}));

/** Waits until `check` returns true (polling); throws with `what` when it does not within `ms`. */
export async function waitFor(check: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
