import { type FSWatcher, watch } from 'node:fs';
import { mkdir, readFile, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import { silentLogger } from '../../src/log.js';
import type { HealthHooks } from './hooks.js';
import { parseXid, pciDeviceKey, type XidEvent } from './kmsg.js';
import { type KernelLogBatch, KernelLogReader, type KmsgCursor } from './kmsg-reader.js';
import { readJsonState, SerialWriter } from './state-file.js';
import type { HealthVerdicts } from './verdicts.js';
import { APPLICATION_XIDS, type XidAction, xidInfo } from './xid-catalog.js';

/** File in the state dir holding the kernel-log cursor and the XID faults, written atomically after every batch. */
export const XID_STATE_FILE = 'health-xid.json';
/**
 * Dropping this file into the state dir clears XID faults: `all` clears every one, otherwise it lists device names
 * or PCI addresses (whitespace separated). The agent deletes it once done. An empty file is left alone: it is what a
 * writer's file looks like between create and write, so acting on it could clear more than was asked. (XIDs stay until the GPU is reset; the agent
 * cannot see a reset, so an operator, or automation that reset the GPU, says so this way. A reboot clears them too.)
 */
export const CLEAR_XID_FILE = 'clear-xid';

export interface XidFault {
  xid: number;
  /** RFC 3339: first time this fault was seen */
  since: string;
  count: number;
  detail: string;
}

interface XidState {
  version: 1;
  kmsgPath: string;
  cursor: KmsgCursor;
  faults: Record<string, XidFault>;
}

export interface GpuAddress {
  /** device name (`gpu-4`) */
  name: string;
  /** PCI address as the inventory has it (`0000:9b:00.0`) */
  pciAddress: string;
}

export interface XidMonitorOptions {
  verdicts: HealthVerdicts;
  /** kernel log: /dev/kmsg or a file */
  kmsgPath: string;
  stateDir: string;
  /** XIDs that are recorded but do not make a device unhealthy (default: the application XIDs) */
  ignore?: readonly number[];
  bootIdPath?: string;
  hooks?: HealthHooks;
  log?: Logger;
  now?: () => Date;
  devicePollMs?: number;
  filePollMs?: number;
  /** retry period when the kernel log cannot be opened (default 30 s) */
  retryMs?: number;
}

const ACTION_RANK: Record<XidAction, number> = {
  none: 0,
  'restart-app': 1,
  'contact-support': 2,
  'check-hardware': 2,
  'check-nvlink': 2,
  'reset-gpu': 3,
  reboot: 4,
};

/** The taint-safe reason for an XID fault: `XID-79-fallen-off-bus` (≤ 63 chars, letters, digits, dashes). */
export function xidReason(xid: number): string {
  return `XID-${xid}-${xidInfo(xid).slug}`.slice(0, 63).replace(/-+$/, '');
}

export function xidMessage(fault: XidFault, pciAddress: string | undefined, clearHint: string): string {
  const info = xidInfo(fault.xid);
  const where = pciAddress ? ` on ${pciAddress}` : '';
  const times = fault.count > 1 ? `, ${fault.count} times since ${fault.since}` : ` at ${fault.since}`;
  return `XID ${fault.xid}${where}: ${info.meaning} (action: ${info.action})${times}. Kernel: ${fault.detail.slice(0, 400)}. ${clearHint}`.slice(
    0,
    1024,
  );
}

/** Whether `next` should replace the fault already recorded (a more drastic action tells more). */
function moreSevere(next: number, current: number): boolean {
  return ACTION_RANK[xidInfo(next).action] > ACTION_RANK[xidInfo(current).action];
}

/**
 * Reads XIDs from the kernel log and turns device faults into sticky unhealthy verdicts on the GPU with that PCI
 * address. Faults and the log cursor survive restarts together (one atomic file), so a restart neither forgets a
 * fault nor counts a record twice.
 */
export class XidMonitor {
  private readonly log: Logger;
  private readonly ignore: Set<number>;
  private readonly statePath: string;
  private readonly writer: SerialWriter;
  private reader: KernelLogReader | undefined;
  private clearWatcher: FSWatcher | undefined;
  private faults = new Map<string, XidFault>();
  private gpus = new Map<string, GpuAddress>();
  private byName = new Map<string, GpuAddress>();
  private cursor: KmsgCursor = {};
  private lost = 0;
  private clearChain: Promise<void> = Promise.resolve();
  private emptyRechecks = 0;
  private readerError: string | undefined;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: XidMonitorOptions) {
    this.log = options.log ?? silentLogger();
    this.ignore = new Set(options.ignore ?? APPLICATION_XIDS);
    this.statePath = join(options.stateDir, XID_STATE_FILE);
    this.writer = new SerialWriter(this.statePath, (err) => this.log.error({ err }, 'cannot write XID state'));
  }

  /** The GPUs the agent publishes; XIDs are matched to them by PCI address. Call before start() and on rescans. */
  setGpus(gpus: readonly GpuAddress[]): void {
    this.gpus = new Map(gpus.map((g) => [pciDeviceKey(g.pciAddress), g]));
    this.byName = new Map(gpus.map((g) => [g.name, g]));
    for (const [device, fault] of this.faults) {
      if (this.byName.has(device)) this.reportFault(device, fault);
    }
  }

  async start(): Promise<void> {
    await mkdir(this.options.stateDir, { recursive: true });
    const bootId = await readBootId(this.options.bootIdPath);
    const saved = await this.loadState();
    let cursor: KmsgCursor | undefined;
    if (saved && saved.kmsgPath === this.options.kmsgPath) cursor = saved.cursor;
    if (saved && (bootId === undefined || saved.cursor.bootId === undefined || saved.cursor.bootId === bootId)) {
      this.faults = new Map(Object.entries(saved.faults));
    } else if (saved && Object.keys(saved.faults).length) {
      this.log.info(
        { faults: Object.keys(saved.faults) },
        'node rebooted since XID faults were recorded; clearing them',
      );
    }
    for (const [device, fault] of this.faults) {
      if (this.byName.has(device)) this.reportFault(device, fault);
    }
    this.reader = new KernelLogReader({
      path: this.options.kmsgPath,
      ...(cursor ? { cursor } : {}),
      // no state (first start, or the state dir was lost): this boot's log may already hold XIDs of GPUs still here;
      // reading it from its start reports them (an XID is a fault until cleared, whenever it was logged)
      ...(saved ? {} : { readExisting: true }),
      ...(bootId !== undefined ? { bootId } : {}),
      onBatch: (batch) => this.onBatch(batch),
      log: this.log,
      ...(this.options.devicePollMs !== undefined ? { devicePollMs: this.options.devicePollMs } : {}),
      ...(this.options.filePollMs !== undefined ? { filePollMs: this.options.filePollMs } : {}),
    });
    await this.startReader(this.reader);
    this.watchClearRequests();
    await this.checkClearRequest();
  }

  /**
   * A kernel log that cannot be opened (no CAP_SYSLOG, /dev/kmsg not mounted) must not stop the agent: the other
   * monitors still work. It is logged, and retried every 30 s.
   */
  private async startReader(reader: KernelLogReader): Promise<void> {
    try {
      await reader.start();
      this.readerError = undefined;
    } catch (err) {
      this.readerError = errorMessage(err);
      this.log.error(
        { err: this.readerError, path: this.options.kmsgPath },
        'cannot read the kernel log; XIDs are not watched',
      );
      await reader.stop();
      this.retryTimer = setTimeout(() => {
        if (this.reader === reader) void this.startReader(reader);
      }, this.options.retryMs ?? 30_000);
      this.retryTimer.unref();
    }
  }

  /** why the kernel log is not being read, when it is not */
  problem(): string | undefined {
    return this.readerError;
  }

  async stop(): Promise<void> {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.clearWatcher?.close();
    this.clearWatcher = undefined;
    await this.reader?.stop();
    this.reader = undefined;
    await this.writer.flush();
  }

  /** current faults by device name */
  currentFaults(): ReadonlyMap<string, XidFault> {
    return this.faults;
  }

  /** records lost to ring-buffer overwrites since start */
  lostRecords(): number {
    return this.lost;
  }

  /** Clears the faults of the named devices (names or PCI addresses; none = all) and persists that. */
  async clear(targets: readonly string[] = []): Promise<string[]> {
    const keys = new Set(targets.map((t) => t.trim()).filter(Boolean));
    const cleared: string[] = [];
    for (const device of [...this.faults.keys()]) {
      const address = this.byName.get(device)?.pciAddress;
      const match =
        keys.size === 0 ||
        keys.has(device) ||
        (address !== undefined && [...keys].some((k) => pciDeviceKey(k) === pciDeviceKey(address)));
      if (!match) continue;
      this.faults.delete(device);
      cleared.push(device);
      this.options.verdicts.report(device, 'xid', { state: 'healthy' });
    }
    if (cleared.length) this.log.info({ devices: cleared }, 'XID faults cleared');
    await this.persist();
    return cleared;
  }

  /** Handles one batch of kernel-log records (public for tests that feed records without a reader). */
  async onBatch(batch: KernelLogBatch): Promise<void> {
    if (batch.lost) {
      this.lost += batch.lost;
      this.options.hooks?.kernelLogLost?.(batch.lost);
    }
    for (const record of batch.records) {
      const event = parseXid(record.text);
      if (event) this.onXid(event);
    }
    this.cursor = batch.cursor;
    await this.persist();
  }

  private onXid(event: XidEvent): void {
    const gpu = this.gpus.get(event.pciDevice);
    const fault = !this.ignore.has(event.xid);
    this.options.hooks?.xid?.(event.xid, gpu?.name, fault);
    if (!gpu) {
      this.log.warn({ xid: event.xid, pci: event.pciDevice }, 'XID for a PCI device the agent does not publish');
      return;
    }
    if (!fault) {
      this.log.info(
        { xid: event.xid, device: gpu.name, detail: event.detail },
        'application XID (device stays healthy)',
      );
      return;
    }
    const now = (this.options.now ?? (() => new Date()))().toISOString();
    const current = this.faults.get(gpu.name);
    let next: XidFault;
    if (!current) next = { xid: event.xid, since: now, count: 1, detail: event.detail };
    else if (moreSevere(event.xid, current.xid))
      next = { xid: event.xid, since: now, count: current.count + 1, detail: event.detail };
    else next = { ...current, count: current.count + 1 };
    this.faults.set(gpu.name, next);
    if (!current) this.log.warn({ xid: event.xid, device: gpu.name, detail: event.detail }, 'XID device fault');
    this.reportFault(gpu.name, next);
  }

  private reportFault(device: string, fault: XidFault): void {
    const hint = `After a GPU reset, clear with: echo ${device} > ${join(this.options.stateDir, CLEAR_XID_FILE)}`;
    this.options.verdicts.report(device, 'xid', {
      state: 'unhealthy',
      reason: xidReason(fault.xid),
      message: xidMessage(fault, this.byName.get(device)?.pciAddress, hint),
    });
  }

  private persist(): Promise<void> {
    const state: XidState = {
      version: 1,
      kmsgPath: this.options.kmsgPath,
      cursor: this.cursor,
      faults: Object.fromEntries(this.faults),
    };
    return this.writer.write(`${JSON.stringify(state, null, 2)}\n`);
  }

  private async loadState(): Promise<XidState | undefined> {
    let raw: unknown;
    try {
      raw = await readJsonState(this.statePath);
    } catch (err) {
      // a torn file cannot happen (atomic writes); a hand-edited broken one must not stop the agent
      this.log.error({ err }, 'ignoring unreadable XID state; starting at the end of the kernel log');
      return undefined;
    }
    if (raw === undefined) return undefined;
    const state = raw as Partial<XidState>;
    if (
      state.version !== 1 ||
      typeof state.kmsgPath !== 'string' ||
      typeof state.cursor !== 'object' ||
      !state.cursor
    ) {
      this.log.error({ path: this.statePath }, 'ignoring XID state of an unknown shape');
      return undefined;
    }
    return { version: 1, kmsgPath: state.kmsgPath, cursor: state.cursor, faults: state.faults ?? {} };
  }

  private watchClearRequests(): void {
    try {
      this.clearWatcher = watch(this.options.stateDir, { persistent: false }, (_event, name) => {
        if (name !== CLEAR_XID_FILE) return;
        this.emptyRechecks = 0;
        void this.checkClearRequest();
      });
      this.clearWatcher.on('error', (err) => this.log.warn({ err }, 'cannot watch the state dir for clear requests'));
    } catch (err) {
      this.log.warn({ err }, 'cannot watch the state dir for clear requests');
    }
  }

  /** Serialised, so two watch events for one file cannot both act on it. */
  private checkClearRequest(): Promise<void> {
    this.clearChain = this.clearChain
      .then(() => this.handleClearRequest())
      .catch((err: unknown) => {
        this.log.warn({ err }, 'cannot handle the XID clear request');
      });
    return this.clearChain;
  }

  private async handleClearRequest(): Promise<void> {
    const path = join(this.options.stateDir, CLEAR_XID_FILE);
    let text: string;
    try {
      text = await readFile(path, 'utf8');
      if (text.trim() === '') {
        // possibly caught between create and write: look again shortly, in case no further event comes
        if (this.clearWatcher && this.emptyRechecks++ < 5) setTimeout(() => void this.checkClearRequest(), 200).unref();
        return;
      }
      await unlink(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') this.log.warn({ err }, 'cannot read the XID clear request');
      return;
    }
    const targets = text.split(/\s+/).filter(Boolean);
    await this.clear(targets.includes('all') ? [] : targets);
  }
}

/** This boot's id (`/proc/sys/kernel/random/boot_id`), or undefined where it cannot be read. */
async function readBootId(path = '/proc/sys/kernel/random/boot_id'): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim() || undefined;
  } catch {
    return undefined;
  }
}
