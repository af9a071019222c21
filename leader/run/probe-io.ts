/**
 * The network half of an engine check, shared by run's own health probe (health.ts) and the kubelet probes it proxies
 * (probe-proxy.ts): one HTTP GET that answers with its status line, one TCP connect. Each has a timeout, never
 * rejects, and says what happened; the callers word the failure their own way (run's log, the kubelet's wording).
 *
 * Threats: a server that accepts and never answers, or streams a body for ever (the timeout; the status line is the
 * answer and the body is never read); a host that drops SYNs (the connect timeout).
 */
import type { ClientRequest, IncomingMessage, RequestOptions } from 'node:http';
import { connect } from 'node:net';

/** How one attempt ended: the HTTP status, a connection made, no answer in time, or the error's code. */
export type Attempt = { status: number } | { connected: true } | { timedOut: true } | { error: string };

type Request = (url: string, options: RequestOptions, onResponse: (res: IncomingMessage) => void) => ClientRequest;

/** GETs `url` through `request` (http's or https') and answers with the status code, without reading the body. */
export function httpGetStatus(
  request: Request,
  url: string,
  options: RequestOptions,
  timeoutMs: number,
): Promise<Attempt> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (attempt: Attempt) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(attempt);
    };
    const req = request(url, { method: 'GET', agent: false, ...options }, (res) => {
      const status = res.statusCode ?? 0;
      // the status line is the answer: a body that never ends must not hold the check
      res.destroy();
      done({ status });
    });
    const timer = setTimeout(() => done({ timedOut: true }), timeoutMs);
    req.on('error', (err: NodeJS.ErrnoException) => done({ error: err.code ?? err.message }));
    req.end();
  });
}

/** Opens a TCP connection to `host:port` and closes it at once. */
export function tcpConnect(host: string, port: number, timeoutMs: number): Promise<Attempt> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => finish({ timedOut: true }), timeoutMs);
    const finish = (attempt: Attempt) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(attempt);
    };
    socket.once('connect', () => finish({ connected: true }));
    socket.once('error', (err: NodeJS.ErrnoException) => finish({ error: err.code ?? err.message }));
  });
}

/** 200–399 passes, as the kubelet's httpGet probe. */
export const passingStatus = (status: number): boolean => status >= 200 && status < 400;
