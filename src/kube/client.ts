import type { Agent, ClientRequest, IncomingMessage, OutgoingHttpHeaders } from 'node:http';
import https from 'node:https';
import { http } from '../net/node-http.js';
import { VERSION } from '../version.js';
import type { ClusterAccess } from './in-cluster.js';
import type { KubeStatus } from './types.js';

/**
 * A small JSON client for the Kubernetes REST API. client-node supplies the configuration and credentials; the
 * requests themselves go through node:http(s) with keep-alive because client-node's generated models rename fields
 * (a device attribute's `int` becomes `_int`) and its generic object API drops fields its models do not know. Here the
 * objects travel exactly as the API server sends them.
 */

const CREDENTIALS_TTL_MS = 10_000;

export type PatchType = 'merge' | 'strategic' | 'json' | 'apply';

const PATCH_CONTENT_TYPE: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
  json: 'application/json-patch+json',
  apply: 'application/apply-patch+yaml',
};

export type Query = Record<string, string | number | boolean | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  contentType?: string;
  signal?: AbortSignal;
}

/** A non-2xx answer, carrying the API's Status when it sent one. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly method: string,
    readonly path: string,
    readonly statusBody?: KubeStatus,
    /** from a 429/503's Retry-After header: wait at least this long before trying again */
    readonly retryAfterSeconds?: number,
  ) {
    super(
      `${method} ${path}: ${status} ${statusBody?.reason ?? http.STATUS_CODES[status] ?? ''}${statusBody?.message ? `: ${statusBody.message}` : ''}`,
    );
    this.name = 'ApiError';
  }

  get reason(): string | undefined {
    return this.statusBody?.reason;
  }
}

export const isNotFound = (err: unknown): boolean => err instanceof ApiError && err.status === 404;
export const isConflict = (err: unknown): boolean => err instanceof ApiError && err.status === 409;
export const isGone = (err: unknown): boolean => err instanceof ApiError && err.status === 410;
export const isAlreadyExists = (err: unknown): boolean =>
  err instanceof ApiError && err.status === 409 && err.reason === 'AlreadyExists';

export interface KubeClientOptions {
  /** per-request timeout for ordinary calls (watches have their own) */
  timeoutMs?: number;
  userAgent?: string;
  /** headers sent with every request, e.g. kubectl's --as (`Impersonate-User`) and --as-group */
  extraHeaders?: Readonly<Record<string, string | string[]>>;
}

export interface StreamHandle {
  /** resolves when the stream ends (server closed it, or abort), rejects on a transport error or a non-2xx status */
  done: Promise<void>;
  abort(): void;
}

export class KubeClient {
  readonly server: URL;
  private agent: Agent | undefined;
  private cached: { at: number; options: https.RequestOptions } | undefined;
  private readonly timeoutMs: number;
  private readonly userAgent: string;
  private readonly extraHeaders: Readonly<Record<string, string | string[]>>;

  constructor(
    readonly config: ClusterAccess,
    options: KubeClientOptions = {},
  ) {
    const cluster = config.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    this.server = new URL(cluster.server);
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.userAgent = options.userAgent ?? `lockstep/${VERSION}`;
    this.extraHeaders = options.extraHeaders ?? {};
  }

  get<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
    return this.request<T>('GET', path, { query, signal });
  }

  create<T>(path: string, body: unknown, query?: Query): Promise<T> {
    return this.request<T>('POST', path, { body, query });
  }

  replace<T>(path: string, body: unknown, query?: Query): Promise<T> {
    return this.request<T>('PUT', path, { body, query });
  }

  patch<T>(path: string, body: unknown, type: PatchType = 'merge', query?: Query): Promise<T> {
    return this.request<T>('PATCH', path, { body, query, contentType: PATCH_CONTENT_TYPE[type] });
  }

  delete<T>(path: string, query?: Query, body?: unknown): Promise<T> {
    return this.request<T>('DELETE', path, { query, body });
  }

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const { res, req } = await this.open(method, path, options, this.timeoutMs);
    const text = await readBody(res);
    req.setTimeout(0);
    const status = res.statusCode ?? 0;
    if (status < 200 || status > 299) throw new ApiError(status, method, path, parseStatus(text), retryAfter(res));
    return (text === '' ? undefined : JSON.parse(text)) as T;
  }

  /**
   * Opens a streaming GET (a watch) and calls onLine for every newline-terminated chunk. The idle timeout catches
   * half-open connections: the server closes watches itself after timeoutSeconds, so silence past that is a fault.
   */
  async stream(
    path: string,
    query: Query,
    onLine: (line: string) => void,
    idleTimeoutMs: number,
  ): Promise<StreamHandle> {
    const controller = new AbortController();
    const { res, req } = await this.open('GET', path, { query, signal: controller.signal }, idleTimeoutMs);
    const status = res.statusCode ?? 0;
    if (status < 200 || status > 299) {
      const text = await readBody(res);
      throw new ApiError(status, 'GET', path, parseStatus(text), retryAfter(res));
    }
    res.setEncoding('utf8');
    const done = new Promise<void>((resolve, reject) => {
      let buffered = '';
      res.on('data', (chunk: string) => {
        buffered += chunk;
        let nl = buffered.indexOf('\n');
        while (nl >= 0) {
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          if (line.trim() !== '') onLine(line);
          nl = buffered.indexOf('\n');
        }
      });
      res.on('end', () => {
        if (buffered.trim() !== '') onLine(buffered);
        resolve();
      });
      res.on('error', (err) => (controller.signal.aborted ? resolve() : reject(err)));
      res.on('aborted', () => (controller.signal.aborted ? resolve() : reject(new Error('watch connection aborted'))));
      req.on('error', (err) => (controller.signal.aborted ? resolve() : reject(err)));
      res.on('close', () => (controller.signal.aborted ? resolve() : reject(new Error('watch connection closed'))));
    });
    return { done, abort: () => controller.abort() };
  }

  /**
   * Credentials from client-node. They may rotate (token files, exec plugins), so they are asked for again every few
   * seconds, but not on every request: at fleet scale that would be most of the client's work.
   */
  private async credentials(): Promise<https.RequestOptions> {
    const now = Date.now();
    if (this.cached && now - this.cached.at < CREDENTIALS_TTL_MS) return this.cached.options;
    const options: https.RequestOptions = { headers: {} };
    await this.config.applyToHTTPSOptions(options);
    delete options.agent;
    this.cached = { at: now, options };
    return options;
  }

  /** Frees the keep-alive sockets (the process can exit). */
  close(): void {
    this.agent?.destroy();
    this.agent = undefined;
  }

  private async open(
    method: string,
    path: string,
    options: RequestOptions,
    timeoutMs: number,
  ): Promise<{ res: IncomingMessage; req: ClientRequest }> {
    const url = new URL(path, this.server);
    for (const [k, v] of Object.entries(options.query ?? {})) {
      if (v !== undefined) url.searchParams.set(k, String(v));
    }
    const tlsOptions = await this.credentials();
    const isHttps = url.protocol === 'https:';
    this.agent ??= isHttps
      ? new https.Agent({
          keepAlive: true,
          ca: tlsOptions.ca,
          cert: tlsOptions.cert,
          key: tlsOptions.key,
          ...(tlsOptions.rejectUnauthorized !== undefined ? { rejectUnauthorized: tlsOptions.rejectUnauthorized } : {}),
          ...(tlsOptions.servername ? { servername: tlsOptions.servername } : {}),
        })
      : new http.Agent({ keepAlive: true });
    const headers: OutgoingHttpHeaders = {
      ...(tlsOptions.headers as OutgoingHttpHeaders),
      ...this.extraHeaders,
      accept: 'application/json',
      'user-agent': this.userAgent,
    };
    let payload: string | undefined;
    if (options.body !== undefined) {
      payload = JSON.stringify(options.body);
      headers['content-type'] = options.contentType ?? 'application/json';
      headers['content-length'] = Buffer.byteLength(payload);
    }
    const requestOptions: https.RequestOptions = {
      method,
      headers,
      agent: this.agent,
      signal: options.signal,
      ...(tlsOptions.auth ? { auth: tlsOptions.auth } : {}),
    };
    return new Promise((resolve, reject) => {
      const req = (isHttps ? https : http).request(url, requestOptions, (res) => resolve({ res, req }));
      req.setTimeout(timeoutMs, () =>
        req.destroy(new Error(`${method} ${url.pathname}: no answer in ${timeoutMs} ms`)),
      );
      req.on('error', reject);
      req.end(payload);
    });
  }
}

function retryAfter(res: IncomingMessage): number | undefined {
  const v = Number(res.headers['retry-after']);
  return Number.isFinite(v) && v > 0 ? v : undefined;
}

/** The delay before retrying after `err`: the backoff's, or longer when the server asked for it (Retry-After). */
export function retryDelay(err: unknown, backoffMs: number): number {
  const asked = err instanceof ApiError && err.retryAfterSeconds ? err.retryAfterSeconds * 1000 : 0;
  return Math.max(backoffMs, asked);
}

function readBody(res: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (c: Buffer) => chunks.push(c));
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

function parseStatus(text: string): KubeStatus | undefined {
  try {
    const parsed = JSON.parse(text) as KubeStatus;
    return parsed && typeof parsed === 'object' ? parsed : undefined;
  } catch {
    return text ? { kind: 'Status', message: text.slice(0, 500) } : undefined;
  }
}
