/**
 * Small, non-throwing readers for sysfs attributes. Missing files are normal in sysfs (attributes differ by driver
 * and kernel; devices vanish mid-scan), so a missing file is "no value"; anything else (EACCES, EIO, EINVAL from a
 * driver) is also "no value" but is reported through `problems` so the operator can see why a field is empty.
 *
 * Threats (the sysfs root is a flag, and tests, chroots and containers mount what they like there): a FIFO, socket
 * or device node where an attribute file should be — a plain read of a FIFO blocks a thread-pool thread for ever,
 * which once hung discovery and left the agent deaf to SIGTERM. Attributes are opened non-blocking and must be
 * regular files (sysfs attributes are); anything else is skipped with a problem line. Oversized files are cut at
 * 1 MiB (sysfs attributes are at most a page).
 */

import { close, constants, fstat, open, read, readlink as readlinkCb, stat } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';
import { errorMessage } from '../../src/errors.js';
import { describeFileType } from '../../src/fs/input-checks.js';
import type { ScanProblem } from './inventory.js';

/** A special file where an attribute should be: read as no value, reported as a problem. */
class NotAFileError extends Error {
  readonly code = 'ENOTREG';
  constructor(path: string, kind: string) {
    super(`${path} is ${kind}, not a regular file: skipped`);
  }
}

/** Errors that just mean "this attribute is not there (any more)". */
const ABSENT = new Set(['ENOENT', 'ENOTDIR', 'ENODEV', 'ENXIO']);
/** Errors that a driver returns for "no value right now" (speed of a down link, carrier of a down interface). */
const NO_VALUE = new Set(['EINVAL', 'EOPNOTSUPP', 'ENOTSUP']);

export class SysfsReader {
  readonly problems: ScanProblem[] = [];

  constructor(readonly root: string) {}

  abs(rel: string): string {
    return resolve(this.root, rel);
  }

  /** The file's text, trimmed; undefined when missing or unreadable. */
  async attr(path: string): Promise<string | undefined> {
    try {
      return (await readSmall(path)).trim();
    } catch (err) {
      this.note(path, err);
      return undefined;
    }
  }

  /** readlink, resolved against the link's directory; undefined when missing or not a link. */
  async link(path: string): Promise<string | undefined> {
    try {
      return resolve(dirname(path), await readlink(path));
    } catch (err) {
      // EINVAL: not a symlink (hand-made snapshots keep real directories in /sys/class)
      if ((err as NodeJS.ErrnoException).code !== 'EINVAL') this.note(path, err);
      return undefined;
    }
  }

  /**
   * `link(linkPath)` and `attr(attrPath)` together, with one promise instead of three: the scan does this for every
   * PCI function on the machine (500+ on an 8-GPU host), where per-operation overhead is most of the cost.
   */
  linkAndAttr(linkPath: string, attrPath: string): Promise<[string | undefined, string | undefined]> {
    return new Promise((done) => {
      let target: string | undefined;
      let text: string | undefined;
      let left = 2;
      const finish = () => {
        if (--left === 0) done([target, text]);
      };
      readlinkCb(linkPath, (err, l) => {
        if (err) {
          if (err.code !== 'EINVAL') this.note(linkPath, err);
        } else target = resolve(dirname(linkPath), l);
        finish();
      });
      readSmallCb(attrPath, (err, t) => {
        if (err) this.note(attrPath, err);
        else text = t?.trim();
        finish();
      });
    });
  }

  /** Whether the path itself (not what it points to) is still there: tells a vanished entry from a plain one. */
  async exists(path: string): Promise<boolean> {
    try {
      await lstat(path);
      return true;
    } catch {
      return false;
    }
  }

  /** Last element of a link's target (driver, iommu_group, physfn). */
  async linkName(path: string): Promise<string | undefined> {
    const target = await this.link(path);
    return target ? basename(target) : undefined;
  }

  async list(path: string): Promise<string[]> {
    try {
      return (await readdir(path)).sort();
    } catch (err) {
      this.note(path, err);
      return [];
    }
  }

  note(path: string, err: unknown): void {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (ABSENT.has(code) || NO_VALUE.has(code)) return;
    this.problems.push({ source: path, message: `${code || 'error'}: ${errorMessage(err)}` });
  }
}

export function hexId(raw: string | undefined, digits: number): string | undefined {
  if (raw === undefined) return undefined;
  const m = /^(?:0x)?([0-9a-f]+)$/i.exec(raw.trim());
  return m ? m[1]!.toLowerCase().padStart(digits, '0').slice(-digits) : undefined;
}

export function intOrUndefined(raw: string | undefined): number | undefined {
  if (raw === undefined || !/^-?\d+$/.test(raw.trim())) return undefined;
  return Number(raw.trim());
}

/**
 * Reads a sysfs attribute: open, read, close. sysfs reports every attribute as 4096 bytes long, so readFile's fstat
 * round trip buys nothing; and the first read uses a small buffer from Node's shared pool (attributes are a few bytes
 * to a few hundred), reading on only when it comes back full. With ~1,000 attributes per scan on an 8-GPU host the
 * saved round trips and allocations are a measurable part of the scan. Non-blocking (callback API, thread pool),
 * and O_NONBLOCK + fstat so that a FIFO or device in the tree is refused instead of blocking a pool thread.
 */
function readSmallCb(path: string, cb: (err: NodeJS.ErrnoException | null, text?: string) => void): void {
  open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY, (err, fd) => {
    if (err) {
      // opening a socket file fails with ENXIO, which elsewhere means "device gone": say what it is
      if (err.code === 'ENXIO') return socketOrGone(path, cb, err);
      return cb(err);
    }
    fstat(fd, (serr, info) => {
      if (serr || !info.isFile()) {
        close(fd, () => {});
        if (serr) return cb(serr);
        // a directory reads as EISDIR, as it always has; the other special files are named
        if (info.isDirectory()) {
          return cb(Object.assign(new Error('EISDIR: illegal operation on a directory, read'), { code: 'EISDIR' }));
        }
        return cb(new NotAFileError(path, describeFileType(info)) as NodeJS.ErrnoException);
      }
      readOpened(fd, cb);
    });
  });
}

/** ENXIO from open: a socket file (reported) or a device that is gone (absent, as before). */
function socketOrGone(
  path: string,
  cb: (err: NodeJS.ErrnoException | null) => void,
  original: NodeJS.ErrnoException,
): void {
  stat(path, (serr, info) =>
    cb(!serr && info.isSocket() ? (new NotAFileError(path, 'a socket') as NodeJS.ErrnoException) : original),
  );
}

function readOpened(fd: number, cb: (err: NodeJS.ErrnoException | null, text?: string) => void): void {
  const chunks: Buffer[] = [];
  const next = (position: number) => {
    const buf = Buffer.allocUnsafe(position === 0 ? 512 : 4096);
    read(fd, buf, 0, buf.length, position, (rerr, n) => {
      if (rerr) {
        close(fd, () => {});
        return cb(rerr);
      }
      chunks.push(buf.subarray(0, n));
      if (n === buf.length && position + n < 1024 * 1024) return next(position + n);
      close(fd, () => {});
      cb(null, chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    });
  };
  next(0);
}

export function readSmall(path: string): Promise<string> {
  return new Promise((res, rej) => readSmallCb(path, (err, text) => (err ? rej(err) : res(text ?? ''))));
}
