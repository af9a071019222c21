/**
 * Where the coordinator is: an explicit address (--leader-address or LWS_LEADER_ADDRESS), else the DNS name of the
 * workload's ordinal 0 (the leader pod of a StatefulSet). Pure: the pod's /etc/hosts text is a parameter.
 */
import { parseHostPort } from '../../src/net/host-port.js';
import { parseOrdinal } from './identity.js';

export interface CoordinatorTarget {
  host: string;
  port: number;
  /** how the address was found, for progress lines and errors */
  source: string;
}

export class LocateError extends Error {
  override name = 'LocateError';
}

/** `host`, `host:port`, `[v6]:port` → host and port (the default when absent). */
export function splitHostPort(address: string, defaultPort: number): { host: string; port: number } {
  const parsed = parseHostPort(address);
  if (!parsed || parsed.host === '') return { host: address, port: defaultPort };
  return { host: parsed.host, port: parsed.port ?? defaultPort };
}

/**
 * The pod's own fully qualified name as the kubelet writes it into /etc/hosts (`10.0.0.3  web-3.web.ns.svc.cluster.local
 * web-3`) when the pod has a hostname and subdomain, as StatefulSet and LWS pods do.
 */
export function ownFqdn(podName: string, hostsText: string): string | undefined {
  for (const raw of hostsText.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) continue;
    const names = line.split(/\s+/).slice(1);
    const fqdn = names.find((n) => n.startsWith(`${podName}.`));
    if (fqdn) return fqdn;
  }
  return undefined;
}

export function locateCoordinator(options: {
  leaderAddress?: string;
  leaderAddressSource?: string;
  port: number;
  podName?: string;
  /** the pod's hostname: JobSet pods have random-suffixed names but hostnames ending in their index */
  hostname?: string;
  hostsText?: string;
}): CoordinatorTarget {
  if (options.leaderAddress) {
    const { host, port } = splitHostPort(options.leaderAddress.trim(), options.port);
    return { host, port, source: options.leaderAddressSource ?? '--leader-address' };
  }
  const name = [options.podName, options.hostname].find((n) => n && parseOrdinal(n));
  const ordinal = name ? parseOrdinal(name) : undefined;
  if (!name || !ordinal) {
    throw new LocateError(
      `cannot tell where the coordinator is: pass --leader-address (or LOCKSTEP_LEADER_ADDRESS), set LWS_LEADER_ADDRESS, or run in a StatefulSet/JobSet pod whose name ends in its ordinal (pod name: ${options.podName ?? 'unknown'})`,
    );
  }
  const leaderPod = `${ordinal.base}-0`;
  const fqdn = options.hostsText ? ownFqdn(name, options.hostsText) : undefined;
  const host = fqdn ? `${leaderPod}${fqdn.slice(name.length)}` : leaderPod;
  return { host, port: options.port, source: `ordinal 0 of ${ordinal.base}` };
}
