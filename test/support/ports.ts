/**
 * Ports for processes a test starts that must be told their port before they listen (a coordinator's --port,
 * torch's MASTER_PORT, an agent's --http-address). Linux hands out ports 32768–60999 to outgoing connections and to
 * `listen(0)` (net.ipv4.ip_local_port_range), so a port picked there can be taken by any connection on a loaded
 * machine between the pick and the child's bind. These come from 20000–32767 instead, which the kernel never hands
 * out by itself; each test process starts at its own offset (from its pid) and checks that the port is free by
 * binding it. Where a server is started in the test process itself, prefer `listen(0)` and read the bound port.
 */
import { createServer } from 'node:net';

const TEST_PORT_RANGE = { first: 20_000, last: 32_767 } as const;

const span = TEST_PORT_RANGE.last - TEST_PORT_RANGE.first + 1;
let next = (process.pid * 97) % span;

function canBind(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** A port below the ephemeral range that nothing listens on right now (on `host`). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let tries = 0; tries < span; tries++) {
    const port = TEST_PORT_RANGE.first + (next % span);
    next = (next + 1) % span;
    if (await canBind(port, host)) return port;
  }
  throw new Error(`no free port in ${TEST_PORT_RANGE.first}-${TEST_PORT_RANGE.last} on ${host}`);
}
