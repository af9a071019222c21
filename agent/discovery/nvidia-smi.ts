/**
 * `nvidia-smi -q -x`: a pure parser (`parseNvidiaSmiXml`, also used by the health monitors) and a thin runner that
 * calls the binary once, with a timeout. The XML schema changed across drivers (DTD v8…v13, drivers 418 → 590): the
 * parser reads every field defensively and treats NVIDIA's placeholder values (`N/A`, `[N/A]`, `Unknown Error`,
 * `Requested functionality has been deprecated`, `Not Supported`, …) as "no value" (FACTS.md §9).
 */
import { execFile } from 'node:child_process';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { normaliseBusId } from './bdf.js';

export interface NvidiaSmiMigDevice {
  index?: number;
  gpuInstanceId: number;
  computeInstanceId: number;
  memoryBytes?: number;
  multiprocessorCount?: number;
  sramUncorrectableVolatile?: number;
}

/** Memory-error state of one GPU as nvidia-smi reports it; undefined = not reported by this driver/GPU. */
export interface NvidiaSmiMemoryErrors {
  eccModeCurrent?: string;
  /** DRAM (+SRAM where reported) uncorrectable errors since the driver loaded */
  uncorrectableVolatile?: number;
  /** same, over the GPU's lifetime */
  uncorrectableAggregate?: number;
  correctableVolatile?: number;
  /** SRAM uncorrectable errors over the lifetime (Xid 94/95 sources) */
  sramUncorrectableAggregate?: number;
  /** `sram_threshold_exceeded` (v13) */
  sramThresholdExceeded?: boolean;
  retiredPagesSingleBit?: number;
  retiredPagesDoubleBit?: number;
  retiredPagesPending?: boolean;
  remappedRowsCorrectable?: number;
  remappedRowsUncorrectable?: number;
  remappedRowsPending?: boolean;
  remappedRowsFailure?: boolean;
}

export interface NvidiaSmiGpu {
  /** normalised, lower case: `0000:19:00.0` */
  busId: string;
  productName?: string;
  brand?: string;
  architecture?: string;
  uuid?: string;
  serial?: string;
  minor?: number;
  /** `2330` from `<pci_device_id>233010DE</pci_device_id>` */
  pciDeviceId?: string;
  memoryTotalBytes?: number;
  persistenceMode?: string;
  migCurrent?: string;
  migPending?: string;
  migDevices: NvidiaSmiMigDevice[];
  memoryErrors: NvidiaSmiMemoryErrors;
  fabricState?: string;
  fabricStatus?: string;
  fabricCliqueId?: string;
  fabricClusterUuid?: string;
  /** `gpu_recovery_action` (DTD v13): `None`, `Reset`, `Reboot`, `Drain P2P`, `Drain and Reset` */
  recoveryAction?: string;
  /** `gpu_reset_status/reset_required` */
  resetRequired?: boolean;
  /** element paths whose value was `Unknown Error` (a sign the GPU is not answering) */
  unknownErrors: string[];
}

export interface NvidiaSmiReport {
  driverVersion?: string;
  cudaVersion?: string;
  attachedGpus?: number;
  gpus: NvidiaSmiGpu[];
}

export type NvidiaSmiParseResult = { ok: true; report: NvidiaSmiReport } | { ok: false; error: string };

/** Values nvidia-smi prints instead of a value. */
const PLACEHOLDERS = new Set([
  'n/a',
  '[n/a]',
  'unknown error',
  'requested functionality has been deprecated',
  'not supported',
  '[not supported]',
  'insufficient permissions',
  '[insufficient permissions]',
  'unknown',
  '[unknown error]',
  'gpu requires reset',
  '[gpu requires reset]',
  '',
]);

type XmlNode = string | number | boolean | null | undefined | XmlObject | XmlNode[];
interface XmlObject {
  [key: string]: XmlNode;
}

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  isArray: (name) => name === 'gpu' || name === 'mig_device',
});

/**
 * Parses `nvidia-smi -q -x` output. Never throws: bad input yields `{ ok: false, error }` with a message that names
 * the problem (not XML, truncated, no `<nvidia_smi_log>` root, a `<gpu>` without a usable bus id).
 */
export function parseNvidiaSmiXml(xml: string): NvidiaSmiParseResult {
  if (xml.trim() === '') return { ok: false, error: 'nvidia-smi -q -x printed nothing' };
  if (!xml.trimStart().startsWith('<')) {
    const first = xml.trim().split('\n')[0]?.slice(0, 120) ?? '';
    return { ok: false, error: `nvidia-smi -q -x output is not XML (starts with "${first}")` };
  }
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    const { msg, line, col } = valid.err;
    const truncated = /unclosed|closing tag|expected closing|not closed|invalid '\[/i.test(msg);
    return {
      ok: false,
      error: `nvidia-smi -q -x output is not valid XML${truncated ? ' (truncated?)' : ''}: ${msg} at line ${line}, column ${col}`,
    };
  }
  let doc: XmlObject;
  try {
    doc = parser.parse(xml) as XmlObject;
  } catch (err) {
    return { ok: false, error: `nvidia-smi -q -x output could not be parsed: ${(err as Error).message}` };
  }
  const log = obj(doc.nvidia_smi_log);
  if (!log) return { ok: false, error: 'nvidia-smi -q -x output has no <nvidia_smi_log> root element' };

  const gpus: NvidiaSmiGpu[] = [];
  const rawGpus = Array.isArray(log.gpu) ? log.gpu : [];
  for (const [i, raw] of rawGpus.entries()) {
    const g = obj(raw);
    if (!g) continue;
    const id = text(g['@_id']) ?? text(path(g, 'pci', 'pci_bus_id'));
    const busId = id ? normaliseBusId(id) : undefined;
    if (!busId) {
      return { ok: false, error: `nvidia-smi -q -x: <gpu> number ${i + 1} has no usable bus id (id="${id ?? ''}")` };
    }
    gpus.push(parseGpu(g, busId));
  }
  return {
    ok: true,
    report: {
      driverVersion: value(log.driver_version),
      cudaVersion: value(log.cuda_version),
      attachedGpus: int(log.attached_gpus),
      gpus,
    },
  };
}

function parseGpu(g: XmlObject, busId: string): NvidiaSmiGpu {
  const unknownErrors: string[] = [];
  collectUnknownErrors(g, '', unknownErrors);
  const devId = value(path(g, 'pci', 'pci_device_id'));
  const migDevices: NvidiaSmiMigDevice[] = [];
  const rawMig = path(g, 'mig_devices', 'mig_device');
  for (const m of Array.isArray(rawMig) ? rawMig : []) {
    const mo = obj(m);
    if (!mo) continue;
    const gi = int(mo.gpu_instance_id);
    const ci = int(mo.compute_instance_id);
    if (gi === undefined || ci === undefined) continue;
    migDevices.push({
      index: int(mo.index),
      gpuInstanceId: gi,
      computeInstanceId: ci,
      memoryBytes: bytes(path(mo, 'fb_memory_usage', 'total')),
      multiprocessorCount: int(path(mo, 'device_attributes', 'shared', 'multiprocessor_count')),
      sramUncorrectableVolatile: int(path(mo, 'ecc_error_count', 'volatile_count', 'sram_uncorrectable')),
    });
  }
  return {
    busId,
    productName: value(g.product_name),
    brand: value(g.product_brand),
    architecture: value(g.product_architecture),
    uuid: value(g.uuid),
    serial: value(g.serial),
    minor: int(g.minor_number),
    pciDeviceId: devId && /^[0-9a-f]{8}$/i.test(devId.replace(/^0x/i, '')) ? devId.replace(/^0x/i, '').slice(0, 4).toLowerCase() : undefined,
    memoryTotalBytes: bytes(path(g, 'fb_memory_usage', 'total')),
    persistenceMode: value(g.persistence_mode),
    migCurrent: value(path(g, 'mig_mode', 'current_mig')),
    migPending: value(path(g, 'mig_mode', 'pending_mig')),
    migDevices,
    memoryErrors: memoryErrors(g),
    fabricState: value(path(g, 'fabric', 'state')),
    fabricStatus: value(path(g, 'fabric', 'status')),
    fabricCliqueId: value(path(g, 'fabric', 'cliqueId')),
    fabricClusterUuid: value(path(g, 'fabric', 'clusterUuid')),
    recoveryAction: value(g.gpu_recovery_action),
    resetRequired: yesNo(path(g, 'gpu_reset_status', 'reset_required')),
    unknownErrors,
  };
}

/**
 * ECC counters moved between schemas: ≤ v11 `volatile/double_bit/total`; v12 `volatile/dram_uncorrectable` +
 * `sram_uncorrectable`; v13 (and 535.161's text) `sram_uncorrectable_parity` + `sram_uncorrectable_secded`.
 */
function memoryErrors(g: XmlObject): NvidiaSmiMemoryErrors {
  const ecc = obj(g.ecc_errors);
  const uncorrectable = (scope: 'volatile' | 'aggregate'): number | undefined => {
    const s = obj(ecc?.[scope]);
    if (!s) return undefined;
    const old = int(path(s, 'double_bit', 'total'));
    const parts = [
      int(s.dram_uncorrectable),
      int(s.sram_uncorrectable),
      int(s.sram_uncorrectable_parity),
      int(s.sram_uncorrectable_secded),
    ].filter((n): n is number => n !== undefined);
    if (parts.length) return parts.reduce((a, b) => a + b, 0);
    return old;
  };
  const correctableVolatile = (() => {
    const s = obj(ecc?.volatile);
    if (!s) return undefined;
    const parts = [int(s.dram_correctable), int(s.sram_correctable)].filter((n): n is number => n !== undefined);
    return parts.length ? parts.reduce((a, b) => a + b, 0) : int(path(s, 'single_bit', 'total'));
  })();
  const agg = obj(ecc?.aggregate);
  const sramAgg = [int(agg?.sram_uncorrectable), int(agg?.sram_uncorrectable_parity), int(agg?.sram_uncorrectable_secded)]
    .filter((n): n is number => n !== undefined);
  const rp = obj(g.retired_pages);
  const rr = obj(g.remapped_rows);
  return prune({
    eccModeCurrent: value(path(g, 'ecc_mode', 'current_ecc')),
    uncorrectableVolatile: uncorrectable('volatile'),
    uncorrectableAggregate: uncorrectable('aggregate'),
    correctableVolatile,
    sramUncorrectableAggregate: sramAgg.length ? sramAgg.reduce((a, b) => a + b, 0) : undefined,
    sramThresholdExceeded: yesNo(agg?.sram_threshold_exceeded),
    retiredPagesSingleBit: int(path(rp, 'multiple_single_bit_retirement', 'retired_count')),
    retiredPagesDoubleBit: int(path(rp, 'double_bit_retirement', 'retired_count')),
    retiredPagesPending: yesNo(rp?.pending_retirement) ?? yesNo(rp?.pending_blacklist),
    remappedRowsCorrectable: int(rr?.remapped_row_corr),
    remappedRowsUncorrectable: int(rr?.remapped_row_unc),
    remappedRowsPending: yesNo(rr?.remapped_row_pending),
    remappedRowsFailure: yesNo(rr?.remapped_row_failure),
  });
}

function collectUnknownErrors(node: XmlNode, at: string, out: string[]): void {
  if (out.length >= 20) return;
  if (typeof node === 'string') {
    if (/unknown error/i.test(node)) out.push(at || '.');
    return;
  }
  if (Array.isArray(node)) {
    for (const n of node) collectUnknownErrors(n, at, out);
    return;
  }
  if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k.startsWith('@_')) continue;
      collectUnknownErrors(v, at ? `${at}/${k}` : k, out);
    }
  }
}

function prune<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

function obj(n: XmlNode): XmlObject | undefined {
  return n && typeof n === 'object' && !Array.isArray(n) ? n : undefined;
}

function path(n: XmlNode, ...keys: string[]): XmlNode {
  let cur: XmlNode = n;
  for (const k of keys) {
    const o = obj(cur);
    if (!o) return undefined;
    cur = o[k];
  }
  return cur;
}

function text(n: XmlNode): string | undefined {
  if (typeof n === 'string') return n.trim();
  if (typeof n === 'number') return String(n);
  const o = obj(n);
  if (o && typeof o['#text'] === 'string') return o['#text'].trim();
  return undefined;
}

/** A value, or undefined for NVIDIA's placeholders. */
export function value(n: XmlNode): string | undefined {
  const t = text(n);
  if (t === undefined || PLACEHOLDERS.has(t.toLowerCase())) return undefined;
  return t;
}

function int(n: XmlNode): number | undefined {
  const v = value(n);
  if (v === undefined || !/^-?\d+$/.test(v)) return undefined;
  return Number(v);
}

function yesNo(n: XmlNode): boolean | undefined {
  const v = value(n)?.toLowerCase();
  if (v === 'yes' || v === 'true' || v === 'active') return true;
  if (v === 'no' || v === 'false' || v === 'not active') return false;
  return undefined;
}

const UNIT: Record<string, number> = { b: 1, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 };

/** `81559 MiB` → bytes. */
function bytes(n: XmlNode): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?i?B)$/i.exec(value(n) ?? '');
  if (!m) return undefined;
  const unit = UNIT[m[2]!.toLowerCase().replace(/^([kmgt])b$/, '$1ib')];
  return unit === undefined ? undefined : Math.round(Number(m[1]) * unit);
}

export type NvidiaSmiRun =
  | { ok: true; xml: string }
  /** the binary is not there: a node without the NVIDIA driver (not a problem unless NVIDIA GPUs are on the bus) */
  | { ok: false; missing: true; error: string }
  | { ok: false; missing: false; error: string };

/**
 * Runs `<nvidiaSmi> -q -x` once. The timeout kills the process (SIGKILL: a wedged driver ignores SIGTERM); output is
 * capped so a runaway binary cannot exhaust memory.
 */
export function runNvidiaSmi(nvidiaSmi: string, timeoutMs: number): Promise<NvidiaSmiRun> {
  return new Promise((resolve) => {
    execFile(
      nvidiaSmi,
      ['-q', '-x'],
      { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024, encoding: 'utf8', windowsHide: true },
      (err, stdout, stderr) => {
        if (!err) return resolve({ ok: true, xml: stdout });
        const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: string | number; signal?: string };
        if (e.code === 'ENOENT') {
          return resolve({ ok: false, missing: true, error: `${nvidiaSmi} not found` });
        }
        if (e.code === 'EACCES') {
          return resolve({ ok: false, missing: false, error: `${nvidiaSmi} is not executable (EACCES)` });
        }
        if (e.killed || e.signal === 'SIGKILL') {
          return resolve({ ok: false, missing: false, error: `${nvidiaSmi} -q -x timed out after ${timeoutMs} ms` });
        }
        const said = (stderr || stdout || '').trim().split('\n').filter(Boolean).slice(0, 2).join(' ').slice(0, 300);
        return resolve({
          ok: false,
          missing: false,
          error: `${nvidiaSmi} -q -x exited with ${typeof e.code === 'number' ? `code ${e.code}` : (e.signal ?? e.code)}${said ? `: ${said}` : ''}`,
        });
      },
    );
  });
}
