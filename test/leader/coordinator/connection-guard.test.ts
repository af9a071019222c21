/**
 * Connections that never speak, and connection floods, against a real coordinator (its gRPC server on loopback) and
 * against the guard alone for the per-address share (loopback is exempt from it, so it needs other addresses).
 */
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionGuard, type GuardedServer } from '../../../leader/coordinator/connection-guard.js';
import { Coordinator } from '../../../leader/coordinator/coordinator.js';
import { queryStatus } from '../../../leader/member/client.js';
import { coordinatorOptions } from '../support/coordinator.js';

const stops: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function start(limits: { handshakeTimeoutMs?: number; maxConnections?: number }) {
  const coordinator = new Coordinator(coordinatorOptions({ limits }));
  const port = await coordinator.start();
  stops.push(() => coordinator.stop());
  return { coordinator, port };
}

/** A TCP connection that never sends a byte; resolves `closed` when the server closes it. */
function halfOpen(port: number): Promise<{ socket: Socket; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    stops.push(() => {
      socket.destroy();
    });
    const closed = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('error', () => {});
    // read what the server sends (its SETTINGS), so the server's close is seen
    socket.resume();
    socket.once('connect', () => resolve({ socket, closed }));
    socket.once('error', reject);
  });
}

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('connection bounds', () => {
  it('closes a connection that starts no call within the handshake timeout, and keeps one that does', async () => {
    const { coordinator, port } = await start({ handshakeTimeoutMs: 300 });
    const silent = await halfOpen(port);
    // a real client: its Status call starts at once, so its connection is not cut
    expect((await queryStatus(`127.0.0.1:${port}`)).group).toBe('g');
    await silent.closed;
    expect(coordinator.server.guard.timedOut).toBe(1);
  });

  it('closes connections beyond the cap at once, and takes new ones when the flood is gone', async () => {
    const { coordinator, port } = await start({ handshakeTimeoutMs: 60_000, maxConnections: 5 });
    const flood = await Promise.all(Array.from({ length: 8 }, () => halfOpen(port)));
    // the client side sees the refused ones closed
    await until(() => flood.filter((c) => c.socket.readyState === 'closed' || c.socket.destroyed).length === 3);
    expect(coordinator.server.guard.connections).toBe(5);
    for (const c of flood) c.socket.destroy();
    await until(() => coordinator.server.guard.connections === 0);
    expect((await queryStatus(`127.0.0.1:${port}`)).size).toBe(2);
  });
});

class FakeSocket extends EventEmitter {
  destroyed = false;
  constructor(
    readonly remoteAddress: string,
    readonly remotePort: number,
  ) {
    super();
  }
  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.emit('close');
  }
}

describe('ConnectionGuard', () => {
  it('gives one address its share only, and loopback (the coordinator’s own pod) no limit', () => {
    const server = Object.assign(new EventEmitter(), {});
    const guard = new ConnectionGuard({ maxConnections: 100, maxPerAddress: 3, handshakeTimeoutMs: 60_000 });
    guard.watch(server as unknown as GuardedServer);
    const open = (address: string, port: number) => {
      const s = new FakeSocket(address, port);
      server.emit('connection', s);
      return s;
    };
    const attacker = Array.from({ length: 10 }, (_, i) => open('10.66.6.6', 1000 + i));
    expect(attacker.filter((s) => s.destroyed)).toHaveLength(7);
    expect(open('10.0.0.2', 2000).destroyed).toBe(false);
    const local = Array.from({ length: 10 }, (_, i) => open('127.0.0.1', 3000 + i));
    expect(local.filter((s) => s.destroyed)).toHaveLength(0);
    // a closed socket gives its slot back
    attacker[0]!.destroy();
    expect(open('10.66.6.6', 4000).destroyed).toBe(false);
    for (const s of [...attacker, ...local]) s.destroy();
  });
});
