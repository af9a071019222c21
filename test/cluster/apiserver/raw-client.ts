/**
 * A raw HTTP(S) client for tests that need to see the wire (status codes, headers, watch streams) rather than what
 * a client library makes of it.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';

export interface Endpoint {
  url: string;
  caPem?: string;
  adminToken: string;
}

export interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: unknown;
}

export interface RawOptions {
  body?: unknown;
  token?: string | null;
  contentType?: string;
  accept?: string;
  headers?: Record<string, string>;
}

function send(ep: Endpoint, method: string, path: string, opts: RawOptions) {
  const url = new URL(path, ep.url);
  const payload =
    opts.body === undefined ? undefined : typeof opts.body === 'string' ? opts.body : JSON.stringify(opts.body);
  const headers: Record<string, string> = { Accept: opts.accept ?? 'application/json', ...opts.headers };
  const token = opts.token === undefined ? ep.adminToken : opts.token;
  if (token) headers.Authorization = `Bearer ${token}`;
  if (payload !== undefined) {
    headers['Content-Type'] = opts.contentType ?? 'application/json';
    headers['Content-Length'] = String(Buffer.byteLength(payload));
  }
  const req =
    url.protocol === 'https:'
      ? httpsRequest(url, { method, headers, ca: ep.caPem })
      : httpRequest(url, { method, headers });
  if (payload !== undefined) req.write(payload);
  req.end();
  return req;
}

export function rawRequest(ep: Endpoint, method: string, path: string, opts: RawOptions = {}): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = send(ep, method, path, opts);
    req.on('error', reject);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
  });
}

export interface WatchEventLine {
  type: string;
  object: {
    metadata?: { name?: string; resourceVersion?: string; annotations?: Record<string, string> };
    [k: string]: unknown;
  };
}

/** Opens a watch and collects its events; `close()` ends it, `ended` resolves when the server ends it. */
export function rawWatch(ep: Endpoint, path: string, opts: RawOptions = {}) {
  const events: WatchEventLine[] = [];
  let status = 0;
  const listeners: (() => void)[] = [];
  const req = send(ep, 'GET', path, opts);
  const ended = new Promise<void>((resolve) => {
    req.on('error', () => resolve());
    req.on('response', (res) => {
      status = res.statusCode ?? 0;
      let buf = '';
      res.on('data', (c: Buffer) => {
        buf += c.toString('utf8');
        let nl = buf.indexOf('\n');
        while (nl >= 0) {
          const line = buf.slice(0, nl).trim();
          buf = buf.slice(nl + 1);
          if (line) events.push(JSON.parse(line) as WatchEventLine);
          nl = buf.indexOf('\n');
        }
        for (const l of listeners.splice(0)) l();
      });
      res.on('end', () => resolve());
      res.on('close', () => resolve());
    });
  });
  return {
    events,
    get status() {
      return status;
    },
    ended,
    close: () => req.destroy(),
    /** Resolves once `predicate(events)` holds (checked on every chunk). */
    until: (predicate: (events: WatchEventLine[]) => boolean, timeoutMs = 5000) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`watch condition not met; events: ${JSON.stringify(events.map((e) => e.type))}`)),
          timeoutMs,
        );
        const check = () => {
          if (predicate(events)) {
            clearTimeout(timer);
            resolve();
          } else listeners.push(check);
        };
        check();
        void ended.then(() => {
          if (!predicate(events)) {
            clearTimeout(timer);
            reject(new Error(`watch ended; events: ${JSON.stringify(events.map((e) => e.type))}`));
          }
        });
      }),
  };
}
