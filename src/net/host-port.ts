/**
 * `host:port` text, read one way for every program: listen flags (`--http-address`, `--listen`, `--metrics-address`),
 * the coordinator's address (`--leader-address`, the environment file), gRPC peers and `--health tcp:` checks.
 *
 * Threats (the text comes from flags, environment variables, the environment file and gRPC peer strings):
 * - a port out of range (`:99999`) or not a number: not an address (undefined), never a wrapped-around port;
 * - an IPv6 address with a port must be bracketed: `fd00::1:80` is ambiguous and is read as a host without a port,
 *   never as host `fd00::1` and port 80;
 * - white space inside, a bracket without its pair, or a second colon outside brackets: not an address;
 * tests in test/net/host-port.test.ts.
 */

/** A host and, when the text named one, a port. `host` is '' for `:port` (any address, for a listener). */
export interface HostPort {
  host: string;
  port?: number;
}

const MAX_PORT = 65_535;
const HOST_PORT = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]*))(?::(\d{1,5}))?$/;

/**
 * Reads `host:port`, `[v6]:port`, `:port`, `host` or `[v6]` (surrounding white space ignored). Undefined when the
 * text is none of these; an unbracketed IPv6 address (several colons) is none of these either.
 */
export function parseHostPort(text: string): HostPort | undefined {
  const m = HOST_PORT.exec(text.trim());
  if (!m) return undefined;
  const host = m[1] ?? m[2] ?? '';
  if (m[3] === undefined) return host === '' ? undefined : { host };
  const port = Number(m[3]);
  return port <= MAX_PORT ? { host, port } : undefined;
}

/** `ipv4:127.0.0.5:41234`, `ipv6:[::1]:4000` or `127.0.0.5:41234` (grpc-js's peer strings) → the address alone. */
export function peerHost(peer: string): string {
  const p = peer.replace(/^ipv[46]:/, '');
  const parsed = parseHostPort(p);
  return parsed?.port !== undefined && parsed.host !== '' ? parsed.host : p;
}

/** A host as it stands before `:port` or in a URL: an IPv6 address in brackets, anything else as it is. */
export function bracketHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

/** `host:port`, the IPv6 form bracketed: what parseHostPort reads back. */
export function formatHostPort(host: string, port: number | string): string {
  return `${bracketHost(host)}:${port}`;
}
