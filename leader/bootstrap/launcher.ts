/**
 * The launcher bootstrap leaves on the shared volume: engine images have neither node nor lockstep, so injected engine
 * containers run `<volume>/bin/lockstep run …` from here. It holds a copy of the running node binary, the bundle
 * (entry, chunks, .proto files) and a small sh script that execs that node on that entry.
 *
 * Idempotent: the content is named by a digest of what it holds, so an unchanged install is left alone. Atomic: the
 * copy is built in a temp directory, renamed into place, and `bin` is a symlink switched by rename, so a reader sees
 * the old launcher or the new one, never half of one.
 */
import { createHash } from 'node:crypto';
import { createReadStream, constants as fsConstants } from 'node:fs';
import {
  chmod,
  copyFile,
  link,
  lstat,
  mkdir,
  open,
  readdir,
  readlink,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { WARM_LAUNCHER_PY } from '../run/warm-launcher.js';

export interface LauncherSource {
  /** the node binary to copy (process.execPath) */
  node: string;
  /** the running bundle's entry, e.g. dist/lockstep.mjs (its directory holds the chunks and proto/) */
  entry: string;
}

export interface LauncherResult {
  /** the script engines run */
  script: string;
  /** false when an identical launcher was already there */
  installed: boolean;
}

export const LAUNCHER_SCRIPT = `#!/bin/sh
# installed by lockstep bootstrap: runs lockstep with the node that came with it (engine images have neither)
# shell builtins only: an engine image may not even have dirname; "--" ends the options of node (it would take --env-file)
case "$0" in */*) here=\${0%/*} ;; *) here=. ;; esac
here=$(CDPATH= cd -P -- "$here" && pwd -P)
exec "$here/node" -- "$here/lib/lockstep.mjs" "$@"
`;

const COMPLETE = '.complete';

/** The bundle's files, relative to its directory: the entry, its chunks, and proto/ (no source maps). */
async function bundleFiles(entry: string): Promise<string[]> {
  const dir = dirname(entry);
  const names = await readdir(dir);
  const files = names.filter((n) => n === basename(entry) || /^chunk-[A-Za-z0-9_-]+\.mjs$/.test(n)).sort();
  if (!files.includes(basename(entry))) throw new Error(`the bundle entry ${entry} does not exist`);
  const proto = join(dir, 'proto');
  const walk = async (sub: string): Promise<string[]> => {
    const out: string[] = [];
    for (const e of await readdir(join(dir, sub), { withFileTypes: true })) {
      const rel = join(sub, e.name);
      if (e.isDirectory()) out.push(...(await walk(rel)));
      else if (e.name.endsWith('.proto')) out.push(rel);
    }
    return out;
  };
  const protos = await stat(proto).then(
    () => walk('proto'),
    () => [] as string[],
  );
  return [...files, ...protos.sort()];
}

async function hashFile(hash: ReturnType<typeof createHash>, path: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve())
      .on('error', reject);
  });
}

/** Digest of what a launcher holds: the bundle's bytes, and the node binary by version, size and mtime. */
async function launcherDigest(source: LauncherSource, files: readonly string[]): Promise<string> {
  const hash = createHash('sha256');
  const node = await stat(source.node);
  hash.update(`node ${process.version} ${node.size} ${node.mtimeMs}\n`);
  for (const f of files) {
    hash.update(`${f}\n`);
    await hashFile(hash, join(dirname(source.entry), f));
  }
  return hash.digest('hex').slice(0, 16);
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, fsConstants.O_RDONLY);
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * A hard link where source and volume share a filesystem (instant, no space; the files are never written in place),
 * a copy elsewhere (an emptyDir is usually another filesystem than the image). Returns true when it linked.
 */
async function linkOrCopy(from: string, to: string): Promise<boolean> {
  try {
    await link(from, to);
    return true;
  } catch {
    await copyFile(from, to);
    return false;
  }
}

/**
 * Builds `<dir>/<name>` in a temp directory beside it and renames it into place; a failure or an abort on the way
 * removes the temp directory.
 */
async function buildLauncher(
  dir: string,
  name: string,
  source: LauncherSource,
  files: readonly string[],
  signal: AbortSignal | undefined,
): Promise<void> {
  const tmp = join(dir, `${name}.tmp-${process.pid}`);
  try {
    await rm(tmp, { recursive: true, force: true });
    await mkdir(join(tmp, 'lib'), { recursive: true });
    if (!(await linkOrCopy(source.node, join(tmp, 'node')))) await chmod(join(tmp, 'node'), 0o755);
    for (const f of files) {
      signal?.throwIfAborted();
      await mkdir(dirname(join(tmp, 'lib', f)), { recursive: true });
      await linkOrCopy(join(dirname(source.entry), f), join(tmp, 'lib', f));
    }
    // the script runs lib/lockstep.mjs whatever the entry was called
    if (basename(source.entry) !== 'lockstep.mjs')
      await rename(join(tmp, 'lib', basename(source.entry)), join(tmp, 'lib', 'lockstep.mjs'));
    const handle = await open(join(tmp, 'lockstep'), 'w', 0o755);
    try {
      await handle.writeFile(LAUNCHER_SCRIPT);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await chmod(join(tmp, 'lockstep'), 0o755);
    // the warm standby of Python engines (leader/run/warm.ts) lives beside the run launcher
    await writeFile(join(tmp, 'lockstep-warm.py'), WARM_LAUNCHER_PY);
    await (await open(join(tmp, COMPLETE), 'w')).close();
    await fsyncPath(tmp);
    signal?.throwIfAborted();
    const final = join(dir, name);
    await rm(final, { recursive: true, force: true });
    await rename(tmp, final);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Installs (or keeps) the launcher under `<dir>/bin`. Once `signal` aborts (bootstrap's SIGTERM) it stops at its next
 * step and rejects with the signal's reason; the half-built copy is removed, so `<dir>` holds the old launcher or the
 * new one, and no partial directory.
 */
export async function installLauncher(
  dir: string,
  source: LauncherSource,
  signal?: AbortSignal,
): Promise<LauncherResult> {
  const files = await bundleFiles(source.entry);
  signal?.throwIfAborted();
  const digest = await launcherDigest(source, files);
  const name = `.lockstep-${digest}`;
  const final = join(dir, name);
  const bin = join(dir, 'bin');
  const script = join(bin, 'lockstep');
  const current = await readlink(bin).catch(() => undefined);
  const complete = await stat(join(final, COMPLETE)).then(
    () => true,
    () => false,
  );
  if (current === name && complete) return { script, installed: false };

  signal?.throwIfAborted();
  await mkdir(dir, { recursive: true });
  if (!complete) await buildLauncher(dir, name, source, files, signal);
  signal?.throwIfAborted();
  // switch `bin` by renaming a new symlink over it (a real directory from elsewhere is replaced)
  const link = join(dir, `.bin-${process.pid}`);
  await rm(link, { force: true });
  await symlink(name, link);
  const existing = await lstat(bin).catch(() => undefined);
  if (existing?.isDirectory()) await rm(bin, { recursive: true, force: true });
  await rename(link, bin);
  await fsyncPath(dir);
  // older launchers are unused now
  for (const n of await readdir(dir)) {
    if (n.startsWith('.lockstep-') && n !== name && !n.includes('.tmp-')) {
      await rm(join(dir, n), { recursive: true, force: true });
    }
  }
  return { script, installed: true };
}
