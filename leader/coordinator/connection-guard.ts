/**
 * Bounds on the coordinator's connections, below gRPC: how many sockets are open at once (overall and per source
 * address), and how long a socket may stay open without starting a single call. grpc-js turns its own socket timeouts
 * off, so without this a client that opens TCP connections and never speaks holds memory for ever.
 *
 * Threats, each tested in test/leader/coordinator/connection-guard.test.ts (memory under 10,000 half-open connections
 * is the `coordinator-half-open-rss` bench row):
 * - half-open connections (TCP or TLS handshake, no HTTP/2 preface, no call): closed after the handshake timeout;
 * - a connection flood: sockets beyond the overall cap are closed at once, and one address cannot take more than its
 *   share, so members connecting from their own pods still get in (loopback, the coordinator's own pod, is exempt);
 * - a slow flood that starts one call and then idles: grpc's max_connection_idle closes connections without calls.
 */
import type { Socket } from 'node:net';
import { isLoopback } from './session-keys.js';

export interface ConnectionLimits {
  /** sockets open at once, all sources together */
  maxConnections: number;
  /** sockets open at once from one non-loopback address */
  maxPerAddress: number;
  /** how long a socket may stay open before its first call */
  handshakeTimeoutMs: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxConnections: 256,
  maxPerAddress: 32,
  handshakeTimeoutMs: 5_000,
};

/**
 * The overall cap for a group: each member holds one connection (its session) and briefly a second (bootstrap hands
 * over to run), plus room for `kubectl` and retries; never below the default. An http2 session costs tens of KB, so
 * the cap is what keeps a flood of connections within the sidecar's memory.
 */
export function connectionCapFor(groupSize: number): number {
  return Math.max(DEFAULT_CONNECTION_LIMITS.maxConnections, 2 * groupSize + 64);
}

interface PeerSocket {
  remoteAddress?: string;
  remotePort?: number;
}

/** An http2 session as far as the guard needs it. */
export interface GuardedSession {
  socket?: PeerSocket;
  destroy(): void;
}

/** The part of a node http2 server the guard listens on. */
export interface GuardedServer {
  /** net.Server's own cap: connections beyond it are closed before node makes a socket object for them */
  maxConnections?: number;
  prependListener(event: 'connection', listener: (socket: Socket) => void): unknown;
  on(event: 'session', listener: (session: GuardedSession) => void): unknown;
  on(event: 'stream', listener: (stream: { session?: GuardedSession }) => void): unknown;
}

const keyOf = (s: PeerSocket | undefined): string => `${s?.remoteAddress}:${s?.remotePort}`;

export class ConnectionGuard {
  private open = 0;
  private readonly perAddress = new Map<string, number>();
  /** sockets that have not started a call yet, by `address:port` (a TLS socket shares it with its TCP socket) */
  private readonly waiting = new Map<string, { socket: Socket; timer: NodeJS.Timeout; session?: GuardedSession }>();
  private refusedCount = 0;
  private timedOutCount = 0;

  constructor(private readonly limits: ConnectionLimits) {}

  /** Sockets closed because a cap was reached / because no call started in time (for logs and tests). */
  get refused(): number {
    return this.refusedCount;
  }

  get timedOut(): number {
    return this.timedOutCount;
  }

  get connections(): number {
    return this.open;
  }

  watch(server: GuardedServer): void {
    server.maxConnections = this.limits.maxConnections;
    // before http2 takes the socket over: a socket refused here never costs a session
    server.prependListener('connection', (socket) => this.admit(socket));
    // once http2 owns the socket, closing it means destroying the session
    server.on('session', (session) => {
      const entry = this.waiting.get(keyOf(session.socket));
      if (entry) entry.session = session;
    });
    server.on('stream', (stream) => this.started(keyOf(stream.session?.socket)));
  }

  private admit(socket: Socket): void {
    const address = socket.remoteAddress ?? '';
    const fromAddress = this.perAddress.get(address) ?? 0;
    const limited = !isLoopback(address);
    if (this.open >= this.limits.maxConnections || (limited && fromAddress >= this.limits.maxPerAddress)) {
      this.refusedCount++;
      socket.destroy();
      return;
    }
    this.open++;
    this.perAddress.set(address, fromAddress + 1);
    const key = `${address}:${socket.remotePort}`;
    const timer = setTimeout(() => {
      this.timedOutCount++;
      this.waiting.get(key)?.session?.destroy();
      socket.destroy();
    }, this.limits.handshakeTimeoutMs);
    timer.unref();
    this.waiting.set(key, { socket, timer });
    socket.once('close', () => {
      this.open--;
      const left = (this.perAddress.get(address) ?? 1) - 1;
      if (left <= 0) this.perAddress.delete(address);
      else this.perAddress.set(address, left);
      const entry = this.waiting.get(key);
      if (entry?.socket === socket) {
        clearTimeout(entry.timer);
        this.waiting.delete(key);
      }
    });
  }

  private started(key: string): void {
    const entry = this.waiting.get(key);
    if (!entry) return;
    clearTimeout(entry.timer);
    this.waiting.delete(key);
  }
}
