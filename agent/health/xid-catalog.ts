/**
 * NVIDIA XID codes the agent knows by name: number → short meaning → what an operator does about it. Our own wording,
 * from the facts in FACTS.md §9 and NVIDIA's public XID documentation (docs.nvidia.com/deploy/xid-errors). Codes not
 * listed here are still handled: they get a generic meaning and count as device faults unless ignored.
 */

/** What fixes the fault, coarsest last. */
export type XidAction =
  | 'none'
  | 'restart-app'
  | 'reset-gpu'
  | 'reboot'
  | 'check-nvlink'
  | 'check-hardware'
  | 'contact-support';

export interface XidInfo {
  xid: number;
  /** a label-value-safe slug (letters, digits, dashes), so `XID-<n>-<slug>` can be a taint value */
  slug: string;
  /** one line in words */
  meaning: string;
  action: XidAction;
}

/**
 * XIDs that NVIDIA's device plugin treats as the application's fault, not the device's (FACTS.md §9): recorded and
 * counted, but they do not make a device unhealthy.
 */
export const APPLICATION_XIDS: readonly number[] = [13, 31, 43, 45, 68, 109];

const table: readonly XidInfo[] = [
  { xid: 8, slug: 'gpu-stopped', meaning: 'GPU stopped processing (engine idle timeout)', action: 'restart-app' },
  {
    xid: 13,
    slug: 'engine-exception',
    meaning: 'graphics engine exception (usually the program)',
    action: 'restart-app',
  },
  { xid: 31, slug: 'mmu-fault', meaning: 'GPU memory page fault (usually the program)', action: 'restart-app' },
  { xid: 32, slug: 'pushbuffer-corrupt', meaning: 'invalid or corrupted push buffer stream', action: 'check-hardware' },
  { xid: 38, slug: 'firmware-error', meaning: 'driver firmware error', action: 'reset-gpu' },
  {
    xid: 43,
    slug: 'channel-reset',
    meaning: 'GPU stopped processing the channel (usually the program)',
    action: 'restart-app',
  },
  { xid: 44, slug: 'ctxsw-fault', meaning: 'graphics engine fault during a context switch', action: 'reset-gpu' },
  { xid: 45, slug: 'preemptive-cleanup', meaning: 'channel cleaned up after an earlier error', action: 'restart-app' },
  { xid: 48, slug: 'double-bit-ecc', meaning: 'double-bit ECC error in GPU memory', action: 'reset-gpu' },
  { xid: 56, slug: 'display-engine', meaning: 'display engine error', action: 'check-hardware' },
  {
    xid: 57,
    slug: 'vidmem-program',
    meaning: 'error programming the video memory interface',
    action: 'check-hardware',
  },
  { xid: 58, slug: 'vidmem-unstable', meaning: 'unstable video memory interface', action: 'check-hardware' },
  { xid: 61, slug: 'mcu-breakpoint', meaning: 'internal micro-controller breakpoint or warning', action: 'reset-gpu' },
  { xid: 62, slug: 'mcu-halt', meaning: 'internal micro-controller halted', action: 'reset-gpu' },
  {
    xid: 63,
    slug: 'row-remap-event',
    meaning: 'row remapping or page retirement recorded; takes effect at reset',
    action: 'reset-gpu',
  },
  { xid: 64, slug: 'row-remap-failure', meaning: 'row remapping or page retirement failed', action: 'reset-gpu' },
  { xid: 68, slug: 'video-decoder', meaning: 'video decoder (NVDEC) exception', action: 'restart-app' },
  { xid: 69, slug: 'engine-class-error', meaning: 'graphics engine class error', action: 'reset-gpu' },
  { xid: 74, slug: 'nvlink-error', meaning: 'NVLink error', action: 'check-nvlink' },
  { xid: 79, slug: 'fallen-off-bus', meaning: 'GPU has fallen off the bus', action: 'reboot' },
  { xid: 92, slug: 'high-sbe-rate', meaning: 'high single-bit ECC error rate', action: 'check-hardware' },
  {
    xid: 94,
    slug: 'contained-ecc',
    meaning: 'contained ECC error (the affected program must restart)',
    action: 'restart-app',
  },
  { xid: 95, slug: 'uncontained-ecc', meaning: 'uncontained ECC error', action: 'reset-gpu' },
  { xid: 109, slug: 'ctxsw-timeout', meaning: 'context switch timeout (usually the program)', action: 'restart-app' },
  { xid: 110, slug: 'security-fault', meaning: 'security fault', action: 'reset-gpu' },
  { xid: 119, slug: 'gsp-timeout', meaning: 'GSP firmware RPC timeout', action: 'reset-gpu' },
  { xid: 120, slug: 'gsp-error', meaning: 'GSP firmware error', action: 'reset-gpu' },
  { xid: 121, slug: 'c2c-link-error', meaning: 'chip-to-chip (C2C) link error', action: 'check-hardware' },
  { xid: 140, slug: 'unrecovered-ecc', meaning: 'unrecovered ECC error', action: 'reset-gpu' },
  {
    xid: 154,
    slug: 'recovery-action',
    meaning: 'GPU recovery action changed (reset or reboot needed)',
    action: 'reset-gpu',
  },
];

const byNumber = new Map(table.map((info) => [info.xid, info]));

/** The catalog entry for `xid`, or a generic one for codes the table does not name. */
export function xidInfo(xid: number): XidInfo {
  return (
    byNumber.get(xid) ?? {
      xid,
      slug: 'device-fault',
      meaning: `XID ${xid} (not in the agent's catalog)`,
      action: 'contact-support',
    }
  );
}

/** All named entries, lowest code first (for docs and tests). */
export function xidCatalog(): readonly XidInfo[] {
  return table;
}
