/**
 * Kubernetes device names. A ResourceSlice device name must be a DNS label (≤ 63 characters, lower-case
 * alphanumerics and '-', starting and ending with an alphanumeric) and must not change between scans, so names are
 * built from the hardware's own identity — its PCI address — never from a position (the n-th GPU in PCI order) and
 * never from free text such as interface names, except for NICs without a PCI address, whose name is a sanitised
 * interface name plus a hash of the raw name. A position moves when a device before it falls off the bus (XID 79):
 * `gpu-2` would then name the GPU a running claim holds as `gpu-3`, and the scheduler would hand it out twice.
 * Names from before this rule (`gpu-<index>`, `tpu-<index>`) are mapped by legacy-names.ts.
 */
import { bdfToLabel } from './bdf.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function isDnsLabel(s: string): boolean {
  return DNS_LABEL.test(s);
}

/** `gpu-0000-19-00-0`: the GPU at PCI address 0000:19:00.0, whatever else is on the bus. */
export function gpuName(bdf: string): string {
  return `gpu-${bdfToLabel(bdf)}`;
}

/** `tpu-0000-00-05-0`, as for GPUs. */
export function tpuName(bdf: string): string {
  return `tpu-${bdfToLabel(bdf)}`;
}

export function migName(gpu: string, gpuInstanceId: number, computeInstanceId: number): string {
  return `${gpu}-mig-${gpuInstanceId}-${computeInstanceId}`;
}

export function acceleratorName(bdf: string): string {
  return `accel-${bdfToLabel(bdf)}`;
}

/** `nic-0000-1a-00-0`; a second netdev on the same PCI function (dev_port > 0) gets `-p<port>`. */
export function nicName(bdf: string, devPort = 0): string {
  return devPort > 0 ? `nic-${bdfToLabel(bdf)}-p${devPort}` : `nic-${bdfToLabel(bdf)}`;
}

/**
 * A NIC with no PCI function (rare: USB, platform devices). Interface names may be up to 15 bytes of almost anything
 * (UTF-8 included), so the readable part keeps only [a-z0-9-] and a hash of the exact bytes keeps names distinct.
 */
export function nicNameForInterface(ifName: string): string {
  const readable = ifName
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/g, '');
  const hash = fnv1a32(ifName).toString(16).padStart(8, '0');
  return readable ? `nic-${readable}-${hash}` : `nic-${hash}`;
}

function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (const byte of Buffer.from(s, 'utf8')) {
    h ^= byte;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
