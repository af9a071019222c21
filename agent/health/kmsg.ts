/**
 * Kernel log records and XID lines, as data. `/dev/kmsg` gives one record per read:
 * `<prio>,<seq>,<usec>,<flags>[,…];<text>` followed by optional ` KEY=value` dictionary lines (FACTS.md §9). A regular
 * file that tests append to holds the same records one per line; lines that are not kmsg records (plain `dmesg`
 * output) are still read, as text without a sequence number.
 */

export interface KernelLogRecord {
  /** the kernel's record sequence number (absent for plain-text lines) */
  seq?: number;
  /** syslog level 0–7 (absent for plain-text lines) */
  level?: number;
  /** microseconds since boot (absent for plain-text lines) */
  usec?: number;
  /** the message, with the kernel's `\xNN` escapes left as they are */
  text: string;
}

const recordHead = /^(\d{1,10}),(\d{1,20}),(\d{1,20}),([^;,]*)(?:,[^;]*)?;/;

/** Parses one kmsg record (the first line of what one read() returns); undefined when it is not one. */
export function parseKmsgRecord(line: string): KernelLogRecord | undefined {
  const m = recordHead.exec(line);
  if (!m) return undefined;
  const prio = Number(m[1]);
  const seq = Number(m[2]);
  const usec = Number(m[3]);
  if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(usec)) return undefined;
  // what follows the first newline is the record's dictionary (` SUBSYSTEM=pci`, ` DEVICE=+pci:…`): not the message
  const rest = line.slice(m[0].length);
  const nl = rest.indexOf('\n');
  return { seq, level: prio & 7, usec, text: nl === -1 ? rest : rest.slice(0, nl) };
}

/**
 * One line of a kernel-log file: a kmsg record when it looks like one, otherwise plain text. Dictionary lines (those
 * starting with a space) belong to the record before them and yield undefined.
 */
export function parseKernelLogLine(line: string): KernelLogRecord | undefined {
  if (line.length === 0 || line.startsWith(' ')) return undefined;
  return parseKmsgRecord(line) ?? { text: line };
}

export interface XidEvent {
  xid: number;
  /** PCI domain:bus:device as the driver prints it, normalised: `0000:9b:00` (no function) */
  pciDevice: string;
  pid?: number;
  /** name of the process, when the driver says */
  process?: string;
  /** what follows the XID number, trimmed */
  detail: string;
}

// The driver prints `NVRM: Xid (PCI:0000:9b:00): 119, pid=…, name=…, text`; older drivers left out `PCI:`.
const xidLine =
  /NVRM: Xid \((?:PCI:)?([0-9a-fA-F]{4,8}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})(?:\.[0-7])?\): (\d{1,5})\b,?\s*(.*)$/;

/** The XID event a kernel-log message reports, or undefined. */
export function parseXid(text: string): XidEvent | undefined {
  const m = xidLine.exec(text);
  if (!m) return undefined;
  const event: XidEvent = {
    xid: Number(m[4]),
    pciDevice: pciDeviceKey(`${m[1]}:${m[2]}:${m[3]}`),
    detail: (m[5] ?? '').trim(),
  };
  const pid = /(?:^|,\s*)pid=(\d+)/.exec(event.detail);
  if (pid) event.pid = Number(pid[1]);
  const name = /(?:^|,\s*)name=([^,]*)/.exec(event.detail);
  if (name?.[1]) event.process = name[1].trim();
  return event;
}

/**
 * The key that joins a kernel-log PCI device (`0000:9b:00`, no function) with an inventory address
 * (`0000:9b:00.0`): domain as a number (so `00000000` and `0000` agree), bus and device lower case.
 */
export function pciDeviceKey(address: string): string {
  const m = /^([0-9a-fA-F]{1,8}):([0-9a-fA-F]{2}):([0-9a-fA-F]{2})/.exec(address);
  if (!m) return address.toLowerCase();
  const domain = Number.parseInt(m[1] ?? '0', 16)
    .toString(16)
    .padStart(4, '0');
  return `${domain}:${(m[2] ?? '').toLowerCase()}:${(m[3] ?? '').toLowerCase()}`;
}

/**
 * Splits a byte stream into complete lines. Bytes of a line not yet ended stay inside until the next chunk, so a
 * reader that stops between chunks never cuts a record in two. `consumed` says how many bytes the returned lines
 * (with their newlines) took, which is how far a file cursor may move.
 */
export class LineSplitter {
  private pending: Buffer = Buffer.alloc(0);

  push(chunk: Buffer): { lines: string[]; consumed: number } {
    const data = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    const lines: string[] = [];
    let start = 0;
    for (let nl = data.indexOf(10, start); nl !== -1; nl = data.indexOf(10, start)) {
      lines.push(data.toString('utf8', start, nl));
      start = nl + 1;
    }
    this.pending = Buffer.from(data.subarray(start));
    return { lines, consumed: start };
  }

  /** bytes held back because their line has not ended */
  get held(): number {
    return this.pending.length;
  }

  reset(): void {
    this.pending = Buffer.alloc(0);
  }
}
