import { chmod, lstat, mkdir, readdir, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';

/**
 * Where the plugin's two sockets live (FACTS.md §1): the registration socket in the kubelet's registry directory and
 * the DRA service socket in the driver's plugin directory. During a rolling update two agent pods run side by side;
 * the upstream helper then appends the pod UID (`<driver>-<uid>-reg.sock`, `dra-<uid>.sock`) so they do not clash.
 */
export interface SocketLayout {
  registryDir: string;
  pluginDir: string;
  registrationSocket: string;
  draSocket: string;
}

/** The kubelet's plugin registration directory and a driver's plugin directory (the agent's flag defaults). */
export const DEFAULT_REGISTRY_DIR = '/var/lib/kubelet/plugins_registry';
export const defaultPluginDir = (driver: string): string => `/var/lib/kubelet/plugins/${driver}`;

/** Unix socket paths are limited to 107 bytes on Linux (sun_path); a longer one fails at bind with a vague error. */
export const MAX_SOCKET_PATH = 107;

export function socketLayout(options: {
  driver: string;
  registryDir?: string;
  pluginDir?: string;
  /** the agent pod's UID: set it to get the rolling-update names */
  podUid?: string;
}): SocketLayout {
  const registryDir = options.registryDir ?? DEFAULT_REGISTRY_DIR;
  const pluginDir = options.pluginDir ?? defaultPluginDir(options.driver);
  const uid = options.podUid?.trim();
  const layout: SocketLayout = {
    registryDir,
    pluginDir,
    registrationSocket: join(registryDir, uid ? `${options.driver}-${uid}-reg.sock` : `${options.driver}-reg.sock`),
    draSocket: join(pluginDir, uid ? `dra-${uid}.sock` : 'dra.sock'),
  };
  for (const path of [layout.registrationSocket, layout.draSocket]) {
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
      throw new Error(`socket path ${path} is longer than ${MAX_SOCKET_PATH} bytes; choose a shorter directory`);
    }
  }
  return layout;
}

/** Socket files of this driver (any instance) in the two directories. */
export function isOwnSocketName(driver: string, dir: 'registry' | 'plugin', name: string): boolean {
  if (name.startsWith('.')) return false;
  if (dir === 'registry') {
    return name === `${driver}-reg.sock` || (name.startsWith(`${driver}-`) && name.endsWith('-reg.sock'));
  }
  return /^dra(-[^/]+)?\.sock$/.test(name);
}

/** Whether something is accepting connections on a unix socket. */
function socketAlive(path: string, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    const done = (alive: boolean) => {
      socket.destroy();
      resolve(alive);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Removes sockets left behind by a crashed instance: our own two paths unconditionally (we are about to bind them),
 * and other instances' sockets of this driver only when nothing answers on them, so a second agent pod that overlaps
 * during a rolling update keeps its sockets. Returns the removed paths.
 */
export async function removeStaleSockets(driver: string, layout: SocketLayout): Promise<string[]> {
  const removed: string[] = [];
  for (const path of [layout.registrationSocket, layout.draSocket]) {
    if (await exists(path)) {
      await rm(path, { force: true });
      removed.push(path);
    }
  }
  for (const [dir, kind] of [
    [layout.registryDir, 'registry'],
    [layout.pluginDir, 'plugin'],
  ] as const) {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      if (!isOwnSocketName(driver, kind, name)) continue;
      const path = join(dir, name);
      const stat = await lstat(path).catch(() => undefined);
      if (!stat?.isSocket()) continue;
      if (await socketAlive(path)) continue;
      await rm(path, { force: true });
      removed.push(path);
    }
  }
  return removed;
}

/** Directories the sockets go in: created if missing, never world-accessible. */
export async function ensureSocketDirs(layout: SocketLayout): Promise<void> {
  await mkdir(layout.registryDir, { recursive: true, mode: 0o750 });
  await mkdir(layout.pluginDir, { recursive: true, mode: 0o750 });
}

/** Socket files are readable and writable by owner and group only (the kubelet runs as root). */
export async function restrictSocket(path: string): Promise<void> {
  await chmod(path, 0o660);
}

async function exists(path: string): Promise<boolean> {
  return (await lstat(path).catch(() => undefined)) !== undefined;
}
