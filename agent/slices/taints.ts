/**
 * Which taint a device reading becomes (pure): one key per fault class (src/contract/names.ts documents the keys), so a
 * workload can tolerate exactly the faults it survives. Threat: reasons come from monitors and partly from hardware
 * text; the value is always cut to a label value by the builder, and an unknown reason falls back to the generic key.
 */
import { TAINT_KEYS } from '../../src/contract/names.js';
import type { DeviceTaintEffect } from '../../src/kube/types.js';
import type { HealthReading } from '../discovery/inventory.js';

export interface TaintChoice {
  key: string;
  value: string;
  /** `None` for unmonitored devices whatever --taint-effect says; undefined = use --taint-effect */
  effect?: DeviceTaintEffect;
}

const ECC = new Set([
  'ecc-uncorrectable',
  'row-remap-pending',
  'row-remap-failed',
  'page-retirement-pending',
  'retired-pages-limit',
  'sram-threshold-exceeded',
]);
const LOST = new Set(['gpu-lost', 'gpu-not-answering', 'pci-gone', 'gone', 'reset-required']);
const LINK = new Set(['rdma-port-down', 'netdev-down', 'no-carrier', 'netdev-missing', 'link-down']);

/** The taint for a reading of a device of `kind`; undefined for a healthy one. */
export function taintFor(kind: string, health: HealthReading): TaintChoice | undefined {
  const reason = health.reason ?? '';
  if (health.state === 'healthy') return undefined;
  if (health.state === 'unknown')
    return { key: TAINT_KEYS.unmonitored, value: reason || 'unmonitored', effect: 'None' };
  const xid = /^XID-(\d+)\b/i.exec(reason);
  if (xid) return { key: TAINT_KEYS.xid, value: xid[1]! };
  const isGpu = kind === 'gpu' || kind === 'mig';
  if (isGpu && ECC.has(reason)) return { key: TAINT_KEYS.ecc, value: reason };
  if (isGpu && LOST.has(reason)) return { key: TAINT_KEYS.gpuLost, value: reason };
  if (kind === 'nic' && LINK.has(reason)) return { key: TAINT_KEYS.linkDown, value: reason };
  return { key: TAINT_KEYS.unhealthy, value: reason || 'unhealthy' };
}
