import { constants, type FSWatcher, watch } from 'node:fs';
import { type FileHandle, open, stat } from 'node:fs/promises';
import type { Logger } from '../../src/log.js';
import { silentLogger } from '../../src/log.js';
import { type KernelLogRecord, LineSplitter, parseKernelLogLine, parseKmsgRecord } from './kmsg.js';

/** Where reading stands, persisted by the caller so a restart neither loses nor repeats a record. */
export interface KmsgCursor {
  /** sequence number of the last record delivered */
  seq?: number;
  /** regular files: byte offset just after the last complete line delivered */
  offset?: number;
  /** the boot the cursor belongs to (sequence numbers restart at every boot) */
  bootId?: string;
}

export interface KernelLogBatch {
  records: KernelLogRecord[];
  cursor: KmsgCursor;
  /** records the kernel overwrote before they could be read (device only; EPIPE or a gap after a restart) */
  lost: number;
}

/** What the reader needs from the kernel log device: read() returns one record (a seam for tests to play EPIPE). */
export interface KmsgDevice {
  /** resolves to the record's length; rejects with code EAGAIN (nothing new) or EPIPE (records were overwritten) */
  read(buf: Buffer): Promise<number>;
  close(): Promise<void>;
}

export interface KernelLogReaderOptions {
  path: string;
  /** where to resume; absent on first start, which begins at the end of the existing log (see `readExisting`) */
  cursor?: KmsgCursor;
  /** without a cursor, read what the log already holds (this boot's records) instead of starting at its end */
  readExisting?: boolean;
  /** this boot's id; a cursor from another boot is stale and reading starts at the beginning of this boot's log */
  bootId?: string;
  /** called for every batch, one at a time, in order; the reader waits for it before reading on */
  onBatch: (batch: KernelLogBatch) => Promise<void> | void;
  log?: Logger;
  /** /dev/kmsg: how long to wait after it had nothing to read (it cannot be watched; see deviceLoop) */
  devicePollMs?: number;
  /** regular files: a safety re-check besides fs.watch */
  filePollMs?: number;
  /** opens the device (default: the character device at `path`, non-blocking); given, `path` is read as a device */
  openDevice?: (path: string) => Promise<KmsgDevice>;
}

async function openKmsg(path: string): Promise<KmsgDevice> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  return {
    read: async (buf) => (await fh.read(buf, 0, buf.length, null)).bytesRead,
    close: () => fh.close(),
  };
}

const RECORD_BUFFER = 16 * 1024;
const FILE_CHUNK = 64 * 1024;
const MAX_BATCH = 512;

/**
 * Follows the kernel log. On the real `/dev/kmsg` every read() returns exactly one record; a reader that fell behind
 * gets EPIPE once and then continues with the oldest record still held, so the reader notes the loss and goes on. A
 * regular file (tests, simulated nodes) is tailed: fs.watch wakes the reader and it reads from the last offset.
 * All I/O is asynchronous.
 */
export class KernelLogReader {
  private readonly log: Logger;
  private stopped = true;
  private handle: FileHandle | undefined;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private cursor: KmsgCursor;
  private running: Promise<void> | undefined;
  // file mode
  private readonly splitter = new LineSplitter();
  private reading = false;
  private again = false;
  private reopen = false;
  private wake: (() => void) | undefined;
  private device: KmsgDevice | undefined;

  constructor(private readonly options: KernelLogReaderOptions) {
    this.log = options.log ?? silentLogger();
    this.cursor = { ...(options.cursor ?? {}) };
  }

  /** where reading stands now */
  position(): KmsgCursor {
    return { ...this.cursor };
  }

  async start(): Promise<void> {
    if (!this.stopped) return;
    this.stopped = false;
    let isDevice = this.options.openDevice !== undefined;
    try {
      isDevice ||= (await stat(this.options.path)).isCharacterDevice();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (isDevice) {
      const device = await (this.options.openDevice ?? openKmsg)(this.options.path);
      this.device = device;
      this.running = this.deviceLoop(device).catch((err: unknown) => {
        this.log.error({ err, path: this.options.path }, 'kernel log reader stopped');
      });
    } else {
      await this.startFile();
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.wake?.();
    this.watcher?.close();
    this.watcher = undefined;
    await this.running;
    while (this.reading) await new Promise((r) => setTimeout(r, 5));
    await this.handle?.close().catch(() => undefined);
    this.handle = undefined;
    await this.device?.close().catch(() => undefined);
    this.device = undefined;
  }

  // ---- /dev/kmsg ----

  /**
   * /dev/kmsg supports poll() but libuv treats a character device as a file and offers no readiness events for it,
   * and a blocking read would hold a thread-pool thread forever. So the fd is non-blocking: read until EAGAIN, then
   * sleep devicePollMs (an idle agent makes one cheap syscall per period).
   */
  private async deviceLoop(device: KmsgDevice): Promise<void> {
    const buf = Buffer.alloc(RECORD_BUFFER);
    const stale =
      this.cursor.bootId !== undefined &&
      this.options.bootId !== undefined &&
      this.cursor.bootId !== this.options.bootId;
    // first start: skip what the ring buffer already holds; a cursor from another boot: read this boot from its start
    let skipExisting = this.cursor.seq === undefined && !stale && this.options.readExisting !== true;
    if (stale) delete this.cursor.seq;
    if (this.options.bootId !== undefined) this.cursor.bootId = this.options.bootId;
    let records: KernelLogRecord[] = [];
    let lost = 0;
    let pendingEpipe = false;
    let first = true;
    while (!this.stopped) {
      let n: number;
      try {
        n = await device.read(buf);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') {
          // the ring buffer overwrote records we had not read; the next read returns the oldest one left
          pendingEpipe = true;
          continue;
        }
        if (code !== 'EAGAIN') throw err;
        if (skipExisting) {
          skipExisting = false;
          await this.deliver([], 0);
        } else if (records.length || lost) {
          await this.deliver(records, lost);
          records = [];
          lost = 0;
        }
        first = false;
        await this.sleep(this.options.devicePollMs ?? 50);
        continue;
      }
      if (n === 0) {
        await this.sleep(this.options.devicePollMs ?? 50);
        continue;
      }
      const record = parseKmsgRecord(buf.toString('utf8', 0, n));
      if (!record || record.seq === undefined) continue;
      const last = this.cursor.seq;
      if (skipExisting) {
        this.cursor.seq = record.seq;
        continue;
      }
      if (last !== undefined && record.seq <= last) continue; // already delivered before a restart
      if (last !== undefined && record.seq > last + 1 && (pendingEpipe || first)) {
        lost += record.seq - last - 1;
        this.log.warn(
          { lost: record.seq - last - 1, after: last },
          'kernel log records were overwritten before they could be read',
        );
      }
      pendingEpipe = false;
      first = false;
      this.cursor.seq = record.seq;
      records.push(record);
      if (records.length >= MAX_BATCH) {
        await this.deliver(records, lost);
        records = [];
        lost = 0;
      }
    }
  }

  // ---- regular file ----

  private async startFile(): Promise<void> {
    const size = await this.openFile();
    if (this.options.bootId !== undefined) this.cursor.bootId = this.options.bootId;
    if (this.cursor.offset === undefined) {
      // first start: the end of what exists now (a file that does not exist yet has nothing old in it)
      this.cursor.offset = this.options.readExisting ? 0 : (size ?? 0);
      await this.deliver([], 0);
    }
    this.schedulePoll();
    this.kick();
  }

  /** Opens the file and its watcher; returns its size, or undefined when it does not exist (yet). */
  private async openFile(): Promise<number | undefined> {
    await this.handle?.close().catch(() => undefined);
    this.handle = undefined;
    this.watcher?.close();
    this.watcher = undefined;
    try {
      this.handle = await open(this.options.path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    try {
      this.watcher = watch(this.options.path, { persistent: false }, (event) => {
        if (event === 'rename') this.reopen = true;
        this.kick();
      });
      this.watcher.on('error', () => {
        this.reopen = true;
      });
    } catch {
      this.reopen = true;
    }
    return (await this.handle.stat()).size;
  }

  private schedulePoll(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.kick();
      this.schedulePoll();
    }, this.options.filePollMs ?? 1000);
    this.timer.unref();
  }

  private kick(): void {
    if (this.stopped) return;
    if (this.reading) {
      this.again = true;
      return;
    }
    this.reading = true;
    void this.readFile()
      .catch((err: unknown) => this.log.warn({ err, path: this.options.path }, 'kernel log read failed; will retry'))
      .finally(() => {
        this.reading = false;
        if (this.again) {
          this.again = false;
          this.kick();
        }
      });
  }

  private async readFile(): Promise<void> {
    if (this.reopen || !this.handle) {
      this.reopen = false;
      if ((await this.openFile()) === undefined) return;
    }
    const fh = this.handle;
    if (!fh) return;
    let offset = this.cursor.offset ?? 0;
    const size = (await fh.stat()).size;
    if (size < offset + this.splitter.held) {
      this.log.warn({ path: this.options.path, size, offset }, 'kernel log file shrank; reading it from the start');
      offset = 0;
      this.cursor.offset = 0;
      this.splitter.reset();
    }
    const buf = Buffer.alloc(FILE_CHUNK);
    let records: KernelLogRecord[] = [];
    while (!this.stopped) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, offset + this.splitter.held);
      if (bytesRead === 0) break;
      const { lines, consumed } = this.splitter.push(buf.subarray(0, bytesRead));
      offset += consumed;
      for (const line of lines) {
        const record = parseKernelLogLine(line);
        if (record) records.push(record);
      }
      this.cursor.offset = offset;
      const lastSeq = records.findLast((r) => r.seq !== undefined)?.seq;
      if (lastSeq !== undefined) this.cursor.seq = lastSeq;
      if (records.length >= MAX_BATCH || bytesRead < buf.length) {
        if (records.length || consumed) await this.deliver(records, 0);
        records = [];
      }
      if (bytesRead < buf.length) break;
    }
  }

  private async deliver(records: KernelLogRecord[], lost: number): Promise<void> {
    try {
      await this.options.onBatch({ records, cursor: { ...this.cursor }, lost });
    } catch (err) {
      this.log.error({ err }, 'kernel log batch handler failed');
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.timer = setTimeout(resolve, ms);
    });
  }
}
