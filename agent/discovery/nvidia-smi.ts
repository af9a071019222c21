/**
 * `nvidia-smi -q -x`: a pure parser (`parseNvidiaSmiXml`, also used by the health monitors) and a thin runner that
 * calls the binary once, with a timeout. The XML schema changed across drivers (DTD v8…v13, drivers 418 → 590): the
 * parser reads every field defensively and treats NVIDIA's placeholder values (`N/A`, `[N/A]`, `Unknown Error`,
 * `Requested functionality has been deprecated`, `Not Supported`, …) as "no value" (FACTS.md §9).
 *
 * Threats (the output comes from a binary in a driver container we do not control, and may be truncated, corrupted
 * or replaced): invalid references (`&#x110000;`, surrogates, unknown entities, a bare `&`) — a parse problem, never
 * a RangeError; hostile shapes for backtracking regexes (an unclosed tag of spaces, long attribute runs, unclosed
 * quotes) — one linear scan, tags matched by an unambiguous pattern and attributes by hand; deep nesting — refused
 * past 64 levels. Every failure is `{ ok: false, error }` naming nvidia-smi; the parser never throws.
 */

import { spawn } from 'node:child_process';
import { normaliseBusId } from './bdf.js';
import { nvidiaSmiEnv } from './driver-root.js';

interface NvidiaSmiMigDevice {
  index?: number;
  gpuInstanceId: number;
  computeInstanceId: number;
  /** the GPU instance's memory (`fb_memory_usage`): shared by every compute instance of that GPU instance */
  memoryBytes?: number;
  multiprocessorCount?: number;
  sramUncorrectableVolatile?: number;
}

/** Memory-error state of one GPU as nvidia-smi reports it; undefined = not reported by this driver/GPU. */
interface NvidiaSmiMemoryErrors {
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

/**
 * A small XML reader for nvidia-smi's output, which is a plain element tree: elements, text, attributes (only on
 * `<gpu id=…>`), the XML declaration, a DOCTYPE, the five predefined entities. It builds the same shape
 * fast-xml-parser would (text-only elements → string, repeated elements → array, attributes as `@_name`), but a
 * whole 8-GPU file takes a few milliseconds on a cold process where fast-xml-parser's validate + parse took
 * 120–350 ms — more than the whole `lockstep discover` budget. Errors name the element and line.
 */
const TOKEN = /<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<!DOCTYPE[^>]*>|<(\/?)([A-Za-z_][\w.:-]*)([^<>]*)>|([^<]+)|(<)/g;
const ENTITY = /&([^&;\s<]{0,32});?/g;
const ARRAYS = new Set(['gpu', 'mig_device']);
/** nvidia-smi's tree is about six elements deep; anything far deeper is not its output. */
const MAX_DEPTH = 64;

/** A malformed piece of the document, reported as a parse problem (never thrown out of readXml). */
class XmlError extends Error {}

const NAMED: Readonly<Record<string, string>> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/**
 * Replaces the five predefined entities and character references. Anything else starting with `&` is an error, as
 * in XML: an unknown entity, a missing `;`, or a reference to a code point XML does not allow (above U+10FFFF,
 * a surrogate, NUL and the other control characters but tab, LF and CR, U+FFFE/U+FFFF).
 */
function decode(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(ENTITY, (whole: string, e: string) => {
    if (!whole.endsWith(';')) throw new XmlError(`"&" not followed by a reference (${JSON.stringify(whole)})`);
    const named = NAMED[e];
    if (named !== undefined) return named;
    const m = /^#(?:x([0-9a-fA-F]{1,8})|(\d{1,10}))$/.exec(e);
    if (!m) throw new XmlError(`unknown or invalid reference ${JSON.stringify(whole)}`);
    const code = m[1] !== undefined ? Number.parseInt(m[1], 16) : Number(m[2]);
    if (!isXmlChar(code)) throw new XmlError(`character reference ${whole} is not a character XML allows`);
    return String.fromCodePoint(code);
  });
}

/** XML 1.0's Char production. */
function isXmlChar(code: number): boolean {
  return (
    code === 0x9 ||
    code === 0xa ||
    code === 0xd ||
    (code >= 0x20 && code <= 0xd7ff) ||
    (code >= 0xe000 && code <= 0xfffd) ||
    (code >= 0x10000 && code <= 0x10ffff)
  );
}

/**
 * Attributes of one start tag, by one left-to-right scan (linear: a regex over attribute text can backtrack
 * quadratically on hostile input such as a long run of name characters or unclosed quotes).
 */
function readAttributes(text: string, into: XmlObject): void {
  let i = 0;
  const n = text.length;
  const skipSpace = () => {
    while (i < n && /\s/.test(text[i]!)) i++;
  };
  for (;;) {
    skipSpace();
    if (i >= n) return;
    const start = i;
    if (!/[A-Za-z_]/.test(text[i]!)) throw new XmlError(`malformed attributes ${JSON.stringify(text.slice(0, 40))}`);
    while (i < n && /[\w.:-]/.test(text[i]!)) i++;
    const name = text.slice(start, i);
    skipSpace();
    if (text[i] !== '=') throw new XmlError(`attribute ${name} has no value`);
    i++;
    skipSpace();
    const quote = text[i];
    if (quote !== '"' && quote !== "'") throw new XmlError(`attribute ${name}: value is not quoted`);
    const end = text.indexOf(quote, i + 1);
    if (end < 0) throw new XmlError(`attribute ${name}: value is not closed`);
    into[`@_${name}`] = decode(text.slice(i + 1, end));
    i = end + 1;
  }
}

interface Frame {
  name: string;
  line: number;
  obj: XmlObject;
  text: string;
  hasChildren: boolean;
}

/** Returns the document as an object, or an error message. */
export function readXml(xml: string): { ok: true; doc: XmlObject } | { ok: false; error: string } {
  let at = 0;
  try {
    return readXmlTree(xml, (index) => {
      at = index;
    });
  } catch (err) {
    if (err instanceof XmlError) return { ok: false, error: `${err.message} at line ${lineOf(xml, at)}` };
    throw err;
  }
}

function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < index; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

/** The element tree; throws XmlError for a malformed reference or attribute (`mark` says where it was reading). */
function readXmlTree(
  xml: string,
  mark: (index: number) => void,
): { ok: true; doc: XmlObject } | { ok: false; error: string } {
  const root: Frame = { name: '', line: 0, obj: {}, text: '', hasChildren: false };
  const stack: Frame[] = [root];
  let line = 1;
  let last = 0;
  const lineAt = (index: number) => {
    for (let i = last; i < index; i++) if (xml.charCodeAt(i) === 10) line++;
    last = index;
    return line;
  };
  const add = (parent: Frame, name: string, value: XmlNode) => {
    parent.hasChildren = true;
    const existing = parent.obj[name];
    if (existing === undefined) parent.obj[name] = ARRAYS.has(name) ? [value] : value;
    else if (Array.isArray(existing)) existing.push(value);
    else parent.obj[name] = [existing, value];
  };
  TOKEN.lastIndex = 0;
  for (let m = TOKEN.exec(xml); m !== null; m = TOKEN.exec(xml)) {
    const top = stack[stack.length - 1]!;
    mark(m.index);
    if (m[5]) {
      // a tag cut off by the end of the output is truncation, reported below with the open elements
      if (xml.indexOf('>', m.index) === -1 && stack.length > 1) break;
      return { ok: false, error: `stray "<" at line ${lineAt(m.index)}` };
    }
    if (m[4] !== undefined) {
      if (stack.length === 1) {
        if (m[4].trim()) return { ok: false, error: `text outside the root element at line ${lineAt(m.index)}` };
      } else top.text += m[4];
      continue;
    }
    const name = m[2];
    if (!name) continue; // comment, declaration, DOCTYPE
    if (m[1]) {
      if (stack.length === 1 || top.name !== name) {
        const expected = stack.length > 1 ? `</${top.name}> (opened at line ${top.line})` : 'no closing tag';
        return { ok: false, error: `</${name}> at line ${lineAt(m.index)} does not match: expected ${expected}` };
      }
      stack.pop();
      const parent = stack[stack.length - 1]!;
      const text = decode(top.text.trim());
      const hasAttrs = Object.keys(top.obj).some((k) => k.startsWith('@_'));
      if (!top.hasChildren && !hasAttrs) add(parent, name, text);
      else {
        if (text && !top.hasChildren) top.obj['#text'] = text;
        add(parent, name, top.obj);
      }
      continue;
    }
    if (stack.length === 1 && root.hasChildren) {
      return { ok: false, error: `a second root element <${name}> at line ${lineAt(m.index)}` };
    }
    const obj: XmlObject = {};
    // `<a x="1"/>`: the rest of the tag is attributes, then an optional `/` that closes the element at once
    const rest = m[3] ?? '';
    const selfClosing = rest.trimEnd().endsWith('/');
    readAttributes(selfClosing ? rest.trimEnd().slice(0, -1) : rest, obj);
    if (selfClosing) {
      add(top, name, Object.keys(obj).length ? obj : '');
      continue;
    }
    if (stack.length > MAX_DEPTH) {
      return { ok: false, error: `elements nest deeper than ${MAX_DEPTH} at line ${lineAt(m.index)}` };
    }
    stack.push({ name, line: lineAt(m.index), obj, text: '', hasChildren: false });
  }
  if (stack.length > 1) {
    const open = stack.slice(1).map((f) => f.name);
    return {
      ok: false,
      error: `output ends inside <${open.join('/')}> (opened at line ${stack[stack.length - 1]!.line}): truncated`,
    };
  }
  if (!root.hasChildren) return { ok: false, error: 'no XML element found' };
  return { ok: true, doc: root.obj };
}

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
  const read = readXml(xml);
  if (!read.ok) return { ok: false, error: `nvidia-smi -q -x output is not valid XML: ${read.error}` };
  const doc = read.doc;
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
    pciDeviceId:
      devId && /^[0-9a-f]{8}$/i.test(devId.replace(/^0x/i, ''))
        ? devId.replace(/^0x/i, '').slice(0, 4).toLowerCase()
        : undefined,
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
  const sramAgg = [
    int(agg?.sram_uncorrectable),
    int(agg?.sram_uncorrectable_parity),
    int(agg?.sram_uncorrectable_secded),
  ].filter((n): n is number => n !== undefined);
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
function value(n: XmlNode): string | undefined {
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

/** One MIG device as `nvidia-smi -L` lists it below its GPU. */
export interface NvidiaSmiListedMig {
  /** `Device N` (the MIG device's `<index>` in `-q -x`) */
  index: number;
  /** `1g.10gb`, `3g.40gb`, `1g.10gb+me` */
  profile: string;
  /** `MIG-…` */
  uuid: string;
}

const LIST_GPU = /^GPU\s+\d+:.*\(UUID:\s*(GPU-[0-9A-Za-z-]+)\)\s*$/;
const LIST_MIG = /^\s+MIG\s+(\S+)\s+Device\s+(\d+):\s*\(UUID:\s*(MIG-[0-9A-Za-z/-]+)\)\s*$/;
/**
 * a profile name as NVIDIA spells them: `<n>g.<size>gb`, `<c>c.<n>g.<size>gb` for a compute instance smaller than its
 * GPU instance, `+me`-style suffixes; nothing longer
 */
const PROFILE = /^([0-9]{1,2}c\.)?[0-9]{1,2}g\.[0-9]{1,4}gb(\+[a-z]{1,8})*$/i;

/**
 * `nvidia-smi -L` (pure): MIG devices by their GPU's UUID, with the profile name and MIG UUID that `-q -x` does not
 * carry. Lines that are not GPU or MIG lines, MIG lines before any GPU line, and hostile values (a profile or UUID
 * that is not one) are skipped, never guessed.
 */
export function parseNvidiaSmiList(text: string): Map<string, NvidiaSmiListedMig[]> {
  const byGpu = new Map<string, NvidiaSmiListedMig[]>();
  let current: NvidiaSmiListedMig[] | undefined;
  for (const line of text.split('\n')) {
    const gpu = LIST_GPU.exec(line);
    if (gpu) {
      current = [];
      byGpu.set(gpu[1]!, current);
      continue;
    }
    const mig = LIST_MIG.exec(line);
    if (!mig || !current || !PROFILE.test(mig[1]!) || mig[3]!.length > 100) continue;
    current.push({ profile: mig[1]!, index: Number(mig[2]), uuid: mig[3]! });
  }
  return byGpu;
}

const STATUS_LINK = /^\s+Link\s+(\d{1,3}):\s+(\S.*)$/;

/**
 * `nvidia-smi nvlink -s` (pure): the number of active NVLinks per GPU UUID. An active link shows its speed
 * (`Link 0: 26.562 GB/s`), an idle one `<inactive>`; other lines are skipped. A link number seen twice counts once.
 */
export function parseNvlinkStatus(text: string): Map<string, number> {
  const active = new Map<string, Set<number>>();
  let current: Set<number> | undefined;
  for (const line of text.split('\n')) {
    const gpu = LIST_GPU.exec(line);
    if (gpu) {
      current = new Set();
      active.set(gpu[1]!, current);
      continue;
    }
    const link = STATUS_LINK.exec(line);
    if (link && current && /^\d+(\.\d+)?\s*GB\/s\s*$/.test(link[2]!)) current.add(Number(link[1]));
  }
  return new Map([...active].map(([uuid, links]) => [uuid, links.size]));
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
export function runNvidiaSmi(nvidiaSmi: string, timeoutMs: number, libraryDir?: string): Promise<NvidiaSmiRun> {
  return runNvidiaSmiWith(nvidiaSmi, ['-q', '-x'], timeoutMs, libraryDir);
}

/** More output than any real nvidia-smi prints (a 64-MIG-device node's -q -x is under 2 MiB). */
const MAX_STDOUT_BYTES = 64 * 1024 * 1024;
const MAX_STDERR_BYTES = 64 * 1024;

/**
 * Runs nvidia-smi with other arguments (`-L`, `nvlink -s`), with the same timeout, output cap and library path;
 * the output is in `xml` whatever its format.
 *
 * It runs in a process group of its own, and the timeout (or an output overflow) kills the whole group: `nvidia-smi`
 * is often a wrapper script (driver containers, the GPU Operator's toolkit), and killing only the wrapper would leave
 * its hung child holding the output pipe, so the call would wait past its timeout and the child would outlive the
 * poll. Children the binary leaves behind after it exits are killed too, for the same reason.
 */
export function runNvidiaSmiWith(
  nvidiaSmi: string,
  args: readonly string[],
  timeoutMs: number,
  libraryDir?: string,
): Promise<NvidiaSmiRun> {
  const shown = args.join(' ');
  return new Promise((resolve) => {
    const child = spawn(nvidiaSmi, [...args], {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true,
      env: nvidiaSmiEnv(libraryDir),
    });
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    let stdoutBytes = 0;
    let stderrBytes = 0;
    let ending: 'timeout' | 'overflow' | undefined;
    let settled = false;
    const settle = (run: NvidiaSmiRun) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(run);
    };
    const killGroup = () => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // the group is already gone
      }
    };
    const timer = setTimeout(() => {
      ending ??= 'timeout';
      killGroup();
    }, timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > MAX_STDOUT_BYTES) {
        ending ??= 'overflow';
        killGroup();
      } else stdout.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderrBytes < MAX_STDERR_BYTES) stderr.push(chunk);
      stderrBytes += chunk.length;
    });
    child.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return settle({ ok: false, missing: true, error: `${nvidiaSmi} not found` });
      if (err.code === 'EACCES') {
        return settle({ ok: false, missing: false, error: `${nvidiaSmi} is not executable (EACCES)` });
      }
      settle({ ok: false, missing: false, error: `${nvidiaSmi} ${shown} could not run: ${err.message}` });
    });
    // whatever the binary left running would keep the pipes open: its group goes with it
    child.on('exit', killGroup);
    child.on('close', (code, signal) => {
      if (ending === 'timeout') {
        return settle({ ok: false, missing: false, error: `${nvidiaSmi} ${shown} timed out after ${timeoutMs} ms` });
      }
      if (ending === 'overflow') {
        return settle({
          ok: false,
          missing: false,
          error: `${nvidiaSmi} ${shown} printed more than ${MAX_STDOUT_BYTES / 1024 / 1024} MiB`,
        });
      }
      const out = Buffer.concat(stdout).toString('utf8');
      if (code === 0) return settle({ ok: true, xml: out });
      const said = (Buffer.concat(stderr).toString('utf8') || out)
        .trim()
        .split('\n')
        .filter(Boolean)
        .slice(0, 2)
        .join(' ')
        .slice(0, 300);
      settle({
        ok: false,
        missing: false,
        error: `${nvidiaSmi} ${shown} exited with ${code !== null ? `code ${code}` : signal}${said ? `: ${said}` : ''}`,
      });
    });
  });
}

/**
 * PCI addresses of GPUs a failed nvidia-smi call names as lost or broken, e.g. "Unable to determine the device handle
 * for GPU0000:9B:00.0: GPU is lost" (pure).
 */
export function lostGpusIn(error: string): Set<string> {
  const lost = new Set<string>();
  for (const m of error.matchAll(
    /GPU\s*([0-9a-fA-F]{4,8}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])[^\n]*?(lost|Unknown Error)/g,
  )) {
    const bdf = normaliseBusId(m[1] ?? '');
    if (bdf) lost.add(bdf);
  }
  return lost;
}
