/**
 * GPU health from what nvidia-smi reports about memory errors and recovery (pure). Reasons are short, label-value
 * safe (they become taint values); messages list every finding.
 */
import type { GpuDevice, HealthReading } from './inventory.js';
import type { NvidiaSmiGpu } from './nvidia-smi.js';

export interface GpuHealthInput {
  memoryErrors?: GpuDevice['memoryErrors'];
  /** `gpu_recovery_action`: `None`, `Reset`, `Reboot`, `Drain P2P`, `Drain and Reset` */
  recoveryAction?: string;
  resetRequired?: boolean;
  /** fields nvidia-smi answered with `Unknown Error` (the GPU is not answering) */
  unknownErrors?: readonly string[];
}

export interface GpuVerdictOptions {
  /**
   * Pages retired for double-bit errors at which the GPU is out of service. GPUs retire at most 64 pages; NVIDIA's
   * guidance is to replace a board that gets close to that, so the default is 60.
   */
  retiredPagesLimit?: number;
}

interface Finding {
  reason: string;
  text: string;
}

/** The label-value-safe spelling of a recovery action: `Drain and Reset` → `recovery-drain-and-reset`. */
export function recoveryReason(action: string): string {
  const slug = action
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '');
  return `recovery-${slug || 'unknown'}`.slice(0, 63).replace(/-+$/, '');
}

/** Every finding, most decisive first. */
function findings(input: GpuHealthInput, options: GpuVerdictOptions): Finding[] {
  const out: Finding[] = [];
  const e = input.memoryErrors ?? {};
  const recovery = input.recoveryAction ?? e.recoveryAction;
  if (input.unknownErrors?.some((p) => /(^|\/)(uuid|product_name|pci)/.test(p))) {
    out.push({
      reason: 'gpu-not-answering',
      text: `nvidia-smi could not read ${input.unknownErrors.slice(0, 3).join(', ')}`,
    });
  }
  if (recovery && !/^(none|n\/a)$/i.test(recovery.trim())) {
    out.push({ reason: recoveryReason(recovery), text: `the driver asks for recovery: ${recovery}` });
  }
  if (e.remappedRowsFailure) out.push({ reason: 'row-remap-failed', text: 'row remapping failed' });
  if (input.resetRequired) out.push({ reason: 'reset-required', text: 'the driver says the GPU needs a reset' });
  if ((e.uncorrectableVolatile ?? 0) > 0) {
    out.push({
      reason: 'ecc-uncorrectable',
      text: `${e.uncorrectableVolatile} uncorrectable (double-bit) ECC errors since the last reset`,
    });
  }
  if (e.remappedRowsPending)
    out.push({ reason: 'row-remap-pending', text: 'row remapping pending (takes effect at GPU reset)' });
  if (e.retiredPagesPending) {
    out.push({ reason: 'page-retirement-pending', text: 'page retirement pending (takes effect at GPU reset)' });
  }
  if (e.sramThresholdExceeded) {
    out.push({
      reason: 'sram-threshold-exceeded',
      text: 'SRAM uncorrectable errors exceeded the threshold (replace the GPU)',
    });
  }
  const limit = options.retiredPagesLimit ?? 60;
  if ((e.retiredPagesDoubleBit ?? 0) >= limit) {
    out.push({
      reason: 'retired-pages-limit',
      text: `${e.retiredPagesDoubleBit} pages retired for double-bit errors (limit ${limit})`,
    });
  }
  return out;
}

export function gpuVerdict(input: GpuHealthInput, options: GpuVerdictOptions = {}): HealthReading {
  const found = findings(input, options);
  const first = found[0];
  if (!first) return { state: 'healthy' };
  return {
    state: 'unhealthy',
    reason: first.reason,
    message: `nvidia-smi: ${found.map((f) => f.text).join('; ')}`.slice(0, 1024),
  };
}

export function inputFromNvidiaSmi(g: NvidiaSmiGpu): GpuHealthInput {
  const input: GpuHealthInput = { memoryErrors: g.memoryErrors, unknownErrors: g.unknownErrors };
  if (g.recoveryAction !== undefined) input.recoveryAction = g.recoveryAction;
  if (g.resetRequired !== undefined) input.resetRequired = g.resetRequired;
  return input;
}
