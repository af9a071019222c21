import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Writes a file so that a crash at any instant leaves either the old content or the new one, never a mix:
 * temp file in the same directory, fsync, rename over the target, fsync the directory (so the rename itself
 * survives a power cut). Temp names start with a dot so directory scans (the CDI loader, our reconcile) skip them.
 * Every file lockstep must keep across a crash goes through here: the kubelet plugin's checkpoint and CDI specs, the
 * health monitors' kernel-log cursor and cleared faults.
 */
export async function writeFileAtomic(path: string, content: string, mode = 0o644): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(tmp, 'wx', mode);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(tmp, { force: true });
    throw error;
  }
  await handle.close();
  try {
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
  await syncDir(dir);
}

/** Removes a file (absent is fine) and makes the removal durable. */
export async function removeFileDurable(path: string): Promise<void> {
  await rm(path, { force: true });
  await syncDir(dirname(path));
}

async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } catch (error) {
    // a few filesystems refuse fsync on a directory; the rename is atomic there all the same
    if ((error as NodeJS.ErrnoException).code !== 'EINVAL') throw error;
  } finally {
    await handle.close();
  }
}

/** Leftover temp files of writeFileAtomic (a crash between open and rename). */
export function isAtomicTempName(name: string): boolean {
  return name.startsWith('.') && name.endsWith('.tmp');
}
