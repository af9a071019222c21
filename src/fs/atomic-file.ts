import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Writes a file so that a crash at any instant leaves either the old content or the new one, never a mix:
 * temp file in the same directory, fsync, rename over the target, fsync the directory (so the rename itself
 * survives a power cut). Temp names start with a dot so directory scans (the CDI loader, our reconcile) skip them.
 * Every file lockstep must keep across a crash goes through here: the kubelet plugin's checkpoint and CDI specs, the
 * health monitors' kernel-log cursor and cleared faults, the group environment file.
 */
export async function writeFileAtomic(path: string, content: string, mode = 0o644): Promise<void> {
  await writeFilesAtomic([{ path, content, mode }]);
}

/** One file of writeFilesAtomic. */
export interface FileContent {
  path: string;
  content: string;
  /** 0o644 when absent */
  mode?: number;
}

/**
 * Writes several files, each as writeFileAtomic does, in their order: every file is written to a synced temporary
 * first, then each is renamed into place in turn and each directory synced once, so a reader that finds a later file
 * finds the earlier ones complete too (the environment file's shell form before its JSON).
 */
export async function writeFilesAtomic(files: readonly FileContent[]): Promise<void> {
  const dirs = [...new Set(files.map((f) => dirname(f.path)))];
  await Promise.all(dirs.map((dir) => mkdir(dir, { recursive: true })));
  const written = await Promise.allSettled(files.map((f) => writeTemp(f.path, f.content, f.mode ?? 0o644)));
  const temps = written.flatMap((w) => (w.status === 'fulfilled' ? [w.value] : []));
  const failed = written.find((w): w is PromiseRejectedResult => w.status === 'rejected');
  try {
    if (failed) throw failed.reason;
    for (const [i, tmp] of temps.entries()) await rename(tmp, files[i]!.path);
  } catch (error) {
    await Promise.all(temps.map((tmp) => rm(tmp, { force: true })));
    throw error;
  }
  for (const dir of dirs) await syncDir(dir);
}

/** Writes a synced temporary file beside `path`; returns its name. */
async function writeTemp(path: string, content: string, mode: number): Promise<string> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
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
  return tmp;
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
