/**
 * Checks on input files we did not write, made before any parser sees them.
 *
 * Threats: binary data fed to a text parser (an image or archive passed by mistake would be "rewritten" into
 * garbage, or parsed as a plain YAML scalar); special files where a regular file is expected (a FIFO blocks a read
 * for ever, a directory reads as EISDIR deep inside a parser).
 */
import { accessSync, constants, type Stats, statSync } from 'node:fs';

export type TextResult = { ok: true; text: string } | { ok: false; reason: string };

/**
 * The input as text, or why it is binary: a NUL byte (no YAML or JSON text holds one) or invalid UTF-8 (decoding
 * would silently put U+FFFD in its place). YAML 1.2 streams may also be UTF-16/32; kubectl users write UTF-8, and
 * a UTF-8 byte-order mark is dropped.
 */
export function decodeText(bytes: Uint8Array): TextResult {
  const nul = bytes.indexOf(0);
  if (nul >= 0) return { ok: false, reason: `binary data (a NUL byte at offset ${nul})` };
  try {
    return { ok: true, text: new TextDecoder('utf-8', { fatal: true }).decode(bytes) };
  } catch {
    return { ok: false, reason: 'binary data (not UTF-8 text)' };
  }
}

/** `a directory`, `a FIFO`, … for messages about a path that should be a regular file. */
export function describeFileType(info: Stats): string {
  if (info.isDirectory()) return 'a directory';
  if (info.isFIFO()) return 'a FIFO';
  if (info.isSocket()) return 'a socket';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  if (info.isSymbolicLink()) return 'a symbolic link';
  return 'a special file';
}

/**
 * Why `path` cannot be read as a regular file, or undefined when it can. Made before opening, so a directory, a FIFO
 * (whose read would block for ever) or a file the process may not read gets a message of its own instead of an
 * errno deep inside a parser, or being mistaken for "absent". `missing` is the caller's choice: some files may be
 * absent (a projected token outside a pod), others may not.
 *
 * Threats: a directory or special file at the path (refused by type, never opened); a permission problem (named as
 * such); a path through a non-directory (ENOTDIR, named as "cannot be reached").
 */
export function unreadableFileReason(path: string): { missing: true } | { missing: false; reason: string } | undefined {
  let info: Stats;
  try {
    info = statSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { missing: true };
    if (code === 'ENOTDIR')
      return { missing: false, reason: 'cannot be reached (a part of the path is not a directory)' };
    if (code === 'EACCES') return { missing: false, reason: 'cannot be read (permission denied)' };
    return { missing: false, reason: `cannot be read (${code ?? String(err)})` };
  }
  if (!info.isFile()) return { missing: false, reason: `is ${describeFileType(info)}, not a file` };
  try {
    accessSync(path, constants.R_OK);
  } catch {
    return { missing: false, reason: 'cannot be read (permission denied)' };
  }
  return undefined;
}
