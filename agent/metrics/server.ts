import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { errorMessage } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import { silentLogger } from '../../src/log.js';
import { formatHostPort, parseHostPort } from '../../src/net/host-port.js';
import { http } from '../../src/net/node-http.js';

/** A check answers true (ok), false, or a string saying what is wrong. */
export type Check = () => boolean | string | Promise<boolean | string>;

export interface HttpEndpointOptions {
  /** `:8080`, `127.0.0.1:0`, `[::1]:9000`, `0.0.0.0:8080` */
  address: string;
  registry: Registry;
  log?: Logger;
}

/** Splits `host:port` (host optional, IPv6 in brackets). Throws a precise error for anything else. */
export function parseHttpAddress(address: string): { host?: string; port: number } {
  const parsed = parseHostPort(address);
  if (parsed?.port === undefined) {
    throw new Error(
      `--http-address ${JSON.stringify(address)}: expected [host]:port, e.g. ":8080" or "127.0.0.1:9000"`,
    );
  }
  return parsed.host === '' ? { port: parsed.port } : { host: parsed.host, port: parsed.port };
}

/**
 * The agent's HTTP endpoint: `/metrics` (Prometheus text), `/healthz` (liveness) and `/readyz` (readiness). Managers
 * register named checks; `?verbose` lists each check's result, as the Kubernetes components do.
 *
 * Threats (the port is reachable from the pod network; nothing here authenticates, as for the kubelet's probes and
 * Prometheus scrapes):
 * - unauthenticated callers: everything is read-only (any method but GET/HEAD is 405, its body never read) and says
 *   no more than the node's device ids and health, which the ResourceSlices publish anyway;
 * - oversized input: request heads above 8 KiB are refused with 431 before any handler runs;
 * - floods: many concurrent requests and many idle or half-sent connections do not stop /healthz from answering
 *   (a liveness failure would restart the agent); a connection that sends no complete request head within 10 s, or
 *   no complete request within 30 s, is closed;
 * tests in test/agent/metrics/server.test.ts ("threats").
 */
export const MAX_REQUEST_HEAD_BYTES = 8 * 1024;
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;

export class AgentHttpServer {
  private readonly log: Logger;
  private server: Server | undefined;
  private readonly liveness = new Map<string, Check>();
  private readonly readiness = new Map<string, Check>();

  constructor(private readonly options: HttpEndpointOptions) {
    this.log = options.log ?? silentLogger();
    parseHttpAddress(options.address);
  }

  /** A check that must pass for /readyz (e.g. "slices published", "kubelet plugin registered"). */
  addReadinessCheck(name: string, check: Check): void {
    this.readiness.set(name, check);
  }

  /** A check that must pass for /healthz (keep these cheap and only for a wedged process). */
  addLivenessCheck(name: string, check: Check): void {
    this.liveness.set(name, check);
  }

  async start(): Promise<void> {
    if (this.server) return;
    const { host, port } = parseHttpAddress(this.options.address);
    const server = http.createServer({ maxHeaderSize: MAX_REQUEST_HEAD_BYTES }, (req, res) => {
      void this.handle(req, res).catch((err: unknown) => {
        this.log.error({ err }, 'http handler failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error\n');
      });
    });
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = HEADERS_TIMEOUT_MS;
    server.requestTimeout = REQUEST_TIMEOUT_MS;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    this.log.info({ address: this.address() }, 'serving /metrics, /healthz, /readyz');
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  /** where it listens (`127.0.0.1:41234`), once started */
  address(): string {
    const a = this.server?.address() as AddressInfo | null | undefined;
    if (!a) return '';
    return formatHostPort(a.address, a.port);
  }

  port(): number {
    return (this.server?.address() as AddressInfo | null | undefined)?.port ?? 0;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://agent');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    switch (url.pathname) {
      case '/metrics': {
        const body = await this.options.registry.metrics();
        res.writeHead(200, { 'content-type': this.options.registry.contentType });
        res.end(req.method === 'HEAD' ? undefined : body);
        return;
      }
      case '/healthz':
      case '/livez':
        return this.answerChecks(res, this.liveness, url.searchParams.has('verbose'));
      case '/readyz':
        return this.answerChecks(res, this.readiness, url.searchParams.has('verbose'));
      default:
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics, /healthz, /readyz\n');
    }
  }

  private async answerChecks(res: ServerResponse, checks: Map<string, Check>, verbose: boolean): Promise<void> {
    const results = await Promise.all(
      [...checks].map(async ([name, check]) => {
        let result: boolean | string;
        try {
          result = await check();
        } catch (err) {
          result = errorMessage(err);
        }
        return { name, ok: result === true, why: typeof result === 'string' ? result : result ? '' : 'not ready' };
      }),
    );
    const ok = results.every((r) => r.ok);
    const lines = results.map((r) => (r.ok ? `[+]${r.name} ok` : `[-]${r.name} failed: ${r.why}`));
    const body = verbose || !ok ? `${lines.join('\n')}\n${ok ? 'ok' : 'not ok'}\n` : 'ok\n';
    res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain; charset=utf-8' }).end(body);
  }
}
