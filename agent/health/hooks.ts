/**
 * What monitors tell the outside besides verdicts: counts and timings for /metrics. Monitors call these without
 * knowing about prom-client; agent/metrics implements them.
 */
export interface HealthHooks {
  /** an XID was read from the kernel log; `device` is undefined when no published GPU has that PCI address */
  xid?(xid: number, device: string | undefined, fault: boolean): void;
  /** one pass of a monitor took `seconds` */
  scan?(monitor: string, seconds: number): void;
  /** kernel log records were overwritten before they could be read */
  kernelLogLost?(records: number): void;
}

/** Runs `fn` and reports its duration to hooks.scan. */
export async function timed<T>(hooks: HealthHooks | undefined, monitor: string, fn: () => Promise<T>): Promise<T> {
  const start = process.hrtime.bigint();
  try {
    return await fn();
  } finally {
    hooks?.scan?.(monitor, Number(process.hrtime.bigint() - start) / 1e9);
  }
}
