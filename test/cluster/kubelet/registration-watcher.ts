import { type FSWatcher, watch } from 'node:fs';
import { lstat, readdir } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import type { Logger } from 'pino';
import type { PluginInfo } from '../../../agent/kubeletplugin/protos.js';
import { silentLogger } from '../../../src/log.js';
import { GET_INFO_TIMEOUT_MS, RegistrationClient } from './plugin-client.js';

/**
 * The kubelet's plugin watcher and registration reconciler (FACTS.md §1): watches the registry directory (dot-files
 * and anything that is not a socket are skipped), calls GetInfo with a 1 s timeout, hands the answer to the handler
 * of its `type`, and tells the plugin the verdict with NotifyRegistrationStatus (true, or false with the error).
 * A socket that disappears is de-registered; one replaced by a new socket is de-registered and registered again.
 * "Replaced" is seen as the kubelet sees it, from the directory's create events (fsnotify there, fs.watch here: a
 * socket unlinked and bound again between two scans often gets the same inode number back), and from a changed inode
 * where events are not delivered. Failed registrations are retried, as the kubelet's reconciler does.
 */
export interface PluginHandler {
  /** Throws to refuse (the message goes to the plugin). */
  validate(name: string, endpoint: string, versions: string[]): void;
  register(name: string, endpoint: string, versions: string[]): void;
  deregister(name: string, endpoint: string): void;
}

export interface RegistrationOutcome {
  socket: string;
  registered: boolean;
  error?: string;
  info?: PluginInfo;
  attempts: number;
}

interface Tracked {
  ino: number;
  outcome: RegistrationOutcome;
  /** set once registered with a handler: what to de-register */
  registered?: { type: string; name: string; endpoint: string };
  nextAttempt: number;
}

export interface RegistrationWatcherOptions {
  dir: string;
  handlers: Record<string, PluginHandler>;
  pollMs?: number;
  retryMs?: number;
  getInfoTimeoutMs?: number;
  log?: Logger;
  now?: () => number;
}

export class RegistrationWatcher {
  private readonly tracked = new Map<string, Tracked>();
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private running = false;
  private watcher: FSWatcher | undefined;
  /** paths the directory reported created or removed since the last scan */
  private readonly touched = new Set<string>();
  private readonly log: Logger;
  private readonly now: () => number;

  constructor(private readonly options: RegistrationWatcherOptions) {
    this.log = options.log ?? silentLogger();
    this.now = options.now ?? Date.now;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
    await this.scanning;
    for (const [socket, entry] of this.tracked) this.forget(socket, entry);
  }

  outcomes(): RegistrationOutcome[] {
    return [...this.tracked.values()].map((entry) => ({ ...entry.outcome }));
  }

  /** Runs one scan now (tests use it to avoid waiting for the poll). */
  async scanNow(): Promise<void> {
    await this.scanning;
    this.scanning = this.scan();
    await this.scanning;
  }

  private schedule(delay: number): void {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.scanning = this.scan().finally(() => this.schedule(this.options.pollMs ?? 100));
    }, delay);
  }

  /** Watches the directory for created files (the kubelet's fsnotify watch); retried each scan until it exists. */
  private watchDir(): void {
    if (this.watcher || !this.running) return;
    try {
      const watcher = watch(this.options.dir, (event, name) => {
        if (event === 'rename' && name) this.touched.add(join(this.options.dir, name.toString()));
      });
      watcher.on('error', () => {
        watcher.close();
        if (this.watcher === watcher) this.watcher = undefined;
      });
      this.watcher = watcher;
    } catch {
      // no directory yet: the next scan tries again
    }
  }

  private async scan(): Promise<void> {
    this.watchDir();
    const touched = new Set(this.touched);
    this.touched.clear();
    let names: string[] = [];
    try {
      names = await readdir(this.options.dir);
    } catch {
      names = [];
    }
    const present = new Map<string, number>();
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const path = join(this.options.dir, name);
      const info = await lstat(path).catch(() => undefined);
      if (!info?.isSocket()) continue;
      present.set(path, info.ino);
    }
    for (const [socket, entry] of [...this.tracked]) {
      const ino = present.get(socket);
      // touched and present: a new socket file at the path (the kubelet's create event), whatever its inode number
      if (ino === undefined || ino !== entry.ino || touched.has(socket)) this.forget(socket, entry);
    }
    for (const [socket, ino] of present) {
      let entry = this.tracked.get(socket);
      if (!entry) {
        entry = { ino, outcome: { socket, registered: false, attempts: 0 }, nextAttempt: 0 };
        this.tracked.set(socket, entry);
      }
      if (entry.outcome.registered || this.now() < entry.nextAttempt) continue;
      await this.register(socket, entry);
    }
  }

  private forget(socket: string, entry: Tracked): void {
    this.tracked.delete(socket);
    if (entry.registered) {
      const { type, name, endpoint } = entry.registered;
      this.log.info({ socket, name, endpoint }, 'plugin socket gone: de-registering');
      this.options.handlers[type]?.deregister(name, endpoint);
    }
  }

  private async register(socket: string, entry: Tracked): Promise<void> {
    entry.outcome.attempts++;
    entry.nextAttempt = this.now() + (this.options.retryMs ?? 1000);
    const client = new RegistrationClient(socket);
    try {
      let info: PluginInfo;
      try {
        info = await client.getInfo(this.options.getInfoTimeoutMs ?? GET_INFO_TIMEOUT_MS);
      } catch (error) {
        // No answer: nothing to notify; try again later.
        entry.outcome.error = `GetInfo failed: ${errorText(error)}`;
        this.log.warn({ socket, error: entry.outcome.error }, 'plugin registration: GetInfo failed');
        return;
      }
      entry.outcome.info = info;
      const handler = this.options.handlers[info.type];
      const endpoint = info.endpoint === '' ? socket : info.endpoint;
      let refusal: string | undefined;
      if (!handler) refusal = `no handler registered for plugin type: ${info.type} at socket ${socket}`;
      else if (!isAbsolute(endpoint)) refusal = `plugin endpoint ${endpoint} is not an absolute path`;
      else {
        try {
          handler.validate(info.name, endpoint, info.supportedVersions);
          handler.register(info.name, endpoint, info.supportedVersions);
        } catch (error) {
          refusal = errorText(error);
        }
      }
      if (refusal !== undefined) {
        entry.outcome.error = refusal;
        this.log.warn({ socket, error: refusal }, 'plugin registration refused');
        await client.notify({ pluginRegistered: false, error: refusal }).catch(() => undefined);
        return;
      }
      entry.registered = { type: info.type, name: info.name, endpoint };
      entry.outcome.registered = true;
      delete entry.outcome.error;
      await client.notify({ pluginRegistered: true, error: '' }).catch((error: unknown) => {
        this.log.warn({ socket, error: errorText(error) }, 'NotifyRegistrationStatus failed');
      });
    } finally {
      client.close();
    }
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
