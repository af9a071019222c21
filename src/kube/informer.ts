import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import { silentLogger } from '../log.js';
import { Backoff, type BackoffOptions, DEFAULT_BACKOFF, sleep } from './backoff.js';
import { isGone, type KubeClient, type Query, retryDelay, type StreamHandle } from './client.js';
import { type ResourceType, resourcePath } from './resources.js';
import type { KubeList, KubeObject, KubeStatus, WatchEvent } from './types.js';

/**
 * A list+watch cache that never gives up. client-node's ListWatch/informer stops for good on any error other than a
 * timeout or 410; an agent on 1,000 nodes must survive API restarts, dropped connections and RBAC hiccups, so this one
 * relists on 410 (Gone/Expired), re-watches from the last resource version when a watch ends, and retries everything
 * else with exponential backoff and jitter until stop().
 */

export type InformerEventType = 'add' | 'update' | 'delete';
export type InformerHandler<T> = (type: InformerEventType, object: T, previous: T | undefined) => void;

export interface InformerOptions {
  type: ResourceType;
  /** restrict to one namespace (namespaced types); default: all namespaces */
  namespace?: string;
  fieldSelector?: string;
  labelSelector?: string;
  backoff?: BackoffOptions;
  /**
   * server-side watch timeout; each watch draws a value in [t, 2t) as client-go's reflector does, so that thousands
   * of watches do not reconnect in step
   */
  watchTimeoutSeconds?: number;
  /** page size of the initial list */
  pageSize?: number;
  log?: Logger;
  random?: () => number;
}

export interface InformerStats {
  lists: number;
  watches: number;
  errors: number;
}

export function objectKey(object: KubeObject): string {
  const ns = object.metadata.namespace;
  return ns ? `${ns}/${object.metadata.name}` : (object.metadata.name ?? '');
}

/** Resource versions are opaque, but every API server (and the test cluster) uses integers; compare when they are. */
function isNewerOrSame(candidate: string | undefined, current: string | undefined): boolean {
  if (candidate === undefined || current === undefined) return true;
  if (/^\d+$/.test(candidate) && /^\d+$/.test(current)) return BigInt(candidate) >= BigInt(current);
  return true;
}

export class Informer<T extends KubeObject> {
  private readonly cache = new Map<string, T>();
  private readonly handlers = new Set<InformerHandler<T>>();
  private readonly resyncHandlers = new Set<() => void>();
  private readonly backoff: Backoff;
  private readonly log: Logger;
  private readonly random: () => number;
  private abort = new AbortController();
  private loop: Promise<void> | undefined;
  private stream: StreamHandle | undefined;
  private resourceVersion: string | undefined;
  private hasSynced = false;
  private syncWaiters: (() => void)[] = [];
  readonly stats: InformerStats = { lists: 0, watches: 0, errors: 0 };

  constructor(
    private readonly client: KubeClient,
    private readonly options: InformerOptions,
  ) {
    this.backoff = new Backoff(options.backoff ?? DEFAULT_BACKOFF);
    this.log = options.log ?? silentLogger();
    this.random = options.random ?? Math.random;
  }

  start(): void {
    if (this.loop) return;
    this.abort = new AbortController();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.abort.abort();
    this.stream?.abort();
    await this.loop;
    this.loop = undefined;
  }

  /** Resolves once the first list has filled the cache. */
  synced(): Promise<void> {
    if (this.hasSynced) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  get isSynced(): boolean {
    return this.hasSynced;
  }

  list(): T[] {
    return [...this.cache.values()];
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  /** Returns the unsubscribe function. Handlers run synchronously; an exception is logged, never fatal. */
  on(handler: InformerHandler<T>): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  /** Called after every full relist (first sync included). */
  onResync(handler: () => void): () => void {
    this.resyncHandlers.add(handler);
    return () => this.resyncHandlers.delete(handler);
  }

  /**
   * Puts an object this process just wrote into the cache (from the write's response), so a decision made before the
   * watch event arrives sees it. A later watch event with the same or a newer version replaces it.
   */
  remember(object: T): void {
    const key = objectKey(object);
    const current = this.cache.get(key);
    if (current && !isNewerOrSame(object.metadata.resourceVersion, current.metadata.resourceVersion)) return;
    this.cache.set(key, object);
  }

  /** The counterpart of remember() for a delete this process made. */
  forget(key: string): void {
    this.cache.delete(key);
  }

  private async run(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      try {
        if (this.resourceVersion === undefined) await this.relist(signal);
        if (signal.aborted) break;
        const opened = Date.now();
        await this.watch(signal);
        // a watch the server ended normally resumes from the last version at once; one that ended instantly
        // (a proxy closing streams) gets a pause so it cannot spin
        if (Date.now() - opened < 1000) {
          await sleep(this.backoff.next(), signal);
        } else {
          this.backoff.reset();
        }
      } catch (err) {
        if (signal.aborted) break;
        this.stats.errors++;
        if (isGone(err)) {
          this.resourceVersion = undefined;
          continue;
        }
        const delay = retryDelay(err, this.backoff.next());
        this.log.warn(
          {
            err: errorMessage(err),
            retryInMs: delay,
            resource: this.options.type.resource,
          },
          'list/watch failed; retrying',
        );
        await sleep(delay, signal);
      }
    }
  }

  private baseQuery(): Query {
    return { fieldSelector: this.options.fieldSelector, labelSelector: this.options.labelSelector };
  }

  private path(): string {
    return resourcePath(this.options.type, { namespace: this.options.namespace });
  }

  private async relist(signal: AbortSignal): Promise<void> {
    const fresh = new Map<string, T>();
    let continueToken: string | undefined;
    let resourceVersion: string | undefined;
    do {
      this.stats.lists++;
      const page = await this.client.get<KubeList<T>>(
        this.path(),
        { ...this.baseQuery(), limit: this.options.pageSize ?? 500, continue: continueToken },
        signal,
      );
      for (const item of page.items ?? []) fresh.set(objectKey(item), item);
      continueToken = page.metadata?.continue || undefined;
      resourceVersion = page.metadata?.resourceVersion;
    } while (continueToken);
    const previous = new Map(this.cache);
    this.cache.clear();
    for (const [key, item] of fresh) this.cache.set(key, item);
    for (const [key, item] of fresh) {
      const old = previous.get(key);
      if (!old) this.emit('add', item, undefined);
      else if (old.metadata.resourceVersion !== item.metadata.resourceVersion) this.emit('update', item, old);
    }
    for (const [key, old] of previous) if (!fresh.has(key)) this.emit('delete', old, old);
    this.resourceVersion = resourceVersion ?? '0';
    if (!this.hasSynced) {
      this.hasSynced = true;
      for (const w of this.syncWaiters.splice(0)) w();
    }
    for (const h of this.resyncHandlers) safe(() => h(), this.log);
  }

  private async watch(signal: AbortSignal): Promise<void> {
    const base = this.options.watchTimeoutSeconds ?? 300;
    const timeoutSeconds = Math.floor(base + base * this.random());
    this.stats.watches++;
    let gone: KubeStatus | undefined;
    const handle = await this.client.stream(
      this.path(),
      {
        ...this.baseQuery(),
        watch: true,
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds,
      },
      (line) => {
        let event: WatchEvent<T>;
        try {
          event = JSON.parse(line) as WatchEvent<T>;
        } catch {
          this.log.warn({ line: line.slice(0, 200) }, 'unparseable watch line');
          return;
        }
        if (event.type === 'ERROR') {
          gone = event.object as unknown as KubeStatus;
          this.stream?.abort();
          return;
        }
        this.apply(event);
      },
      (timeoutSeconds + 30) * 1000,
    );
    this.stream = handle;
    if (signal.aborted) handle.abort();
    try {
      await handle.done;
    } finally {
      this.stream = undefined;
    }
    if (gone) {
      const status = gone as KubeStatus;
      if (status.code === 410 || status.reason === 'Expired' || status.reason === 'Gone') {
        this.resourceVersion = undefined;
        return;
      }
      throw new Error(`watch error: ${status.code ?? ''} ${status.reason ?? ''} ${status.message ?? ''}`.trim());
    }
  }

  private apply(event: WatchEvent<T>): void {
    const object = event.object;
    const rv = object?.metadata?.resourceVersion;
    if (event.type === 'BOOKMARK') {
      if (rv) this.resourceVersion = rv;
      return;
    }
    if (!object?.metadata) return;
    const key = objectKey(object);
    const old = this.cache.get(key);
    if (event.type === 'DELETED') {
      this.cache.delete(key);
      this.emit('delete', object, old);
    } else {
      // a write's response put a newer version in the cache (remember()); an older event must not undo it
      if (old && !isNewerOrSame(rv, old.metadata.resourceVersion)) return;
      this.cache.set(key, object);
      this.emit(old ? 'update' : 'add', object, old);
    }
    if (rv) this.resourceVersion = rv;
  }

  private emit(type: InformerEventType, object: T, previous: T | undefined): void {
    for (const h of this.handlers) safe(() => h(type, object, previous), this.log);
  }
}

function safe(fn: () => void, log: Logger): void {
  try {
    fn();
  } catch (err) {
    log.error({ err: errorMessage(err) }, 'informer handler threw');
  }
}
