/**
 * Kubernetes device names. A ResourceSlice device name must be a DNS label (≤ 63 characters, lower-case
 * alphanumerics and '-', starting and ending with an alphanumeric) and must not change between scans, so names are
 * built from stable hardware facts (PCI address, index in PCI order), never from free text such as interface names —
 * except for NICs without a PCI address, whose name is a sanitised interface name plus a hash of the raw name.
 */
import { bdfToLabel } from './bdf.js';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

export function isDnsLabel(s: string): boolean {
  return DNS_LABEL.test(s);
}

export function gpuName(index: number): string {
  return `gpu-${index}`;
}

export function tpuName(index: number): string {
  return `tpu-${index}`;
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
