/**
 * What the coordinator believes of a joining member's own words. Pure: the gRPC server calls it with the member's
 * identity, what the API server says of the pod (when there is an API), and the connection's source address.
 *
 * Threats, each tested in test/leader/coordinator/claims.test.ts:
 * - a member (or a replayed token) claiming another IP or node, so every other member is told to reach the attacker:
 *   with the API, the claimed IP must be one of the pod's IPs and the node its node, else PERMISSION_DENIED; without,
 *   the IP is the connection's source address (a claim is kept only on loopback, i.e. from the coordinator's own pod);
 * - oversized or malformed names (a 100,000-character pod name, escape sequences in a node name): pod and namespace
 *   must be Kubernetes names, IPs must parse, other strings are cleaned and capped before anyone logs or shows them.
 */
import { isIP } from 'node:net';
import { cleanName, cleanText } from '../../src/text/untrusted.js';
import type { MemberIdentity } from '../protocol/messages.js';
import { JoinRefused } from './group-table.js';
import { isLoopback } from './session-keys.js';

/** The pod as the API server has it, from the authenticator; empty fields = the API has none yet. */
export interface VerifiedPod {
  ips: string[];
  node: string;
}

/** Most devices one member may list: more than any node holds. */
export const MAX_DEVICES = 256;

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

function isName(value: string, max: number, pattern: RegExp): boolean {
  return value.length <= max && pattern.test(value);
}

/**
 * The identity the coordinator admits: names checked, address and node from the API or the connection; throws
 * JoinRefused when the member's claims cannot be true.
 */
export function bindClaims(
  identity: MemberIdentity,
  verified: VerifiedPod | undefined,
  peerHost: string,
): MemberIdentity {
  const pod = identity.pod;
  if (pod && !isName(pod, 253, DNS_SUBDOMAIN)) {
    throw new JoinRefused('INVALID_ARGUMENT', `"${cleanName(pod)}" is not a pod name`);
  }
  if (identity.namespace && !isName(identity.namespace, 63, DNS_LABEL)) {
    throw new JoinRefused('INVALID_ARGUMENT', `pod ${pod}: "${cleanName(identity.namespace)}" is not a namespace`);
  }
  if (identity.ip && !isIP(identity.ip)) {
    throw new JoinRefused('INVALID_ARGUMENT', `pod ${pod}: "${cleanName(identity.ip)}" is not an IP address`);
  }
  if (identity.node && !isName(identity.node, 253, DNS_SUBDOMAIN)) {
    throw new JoinRefused('INVALID_ARGUMENT', `pod ${pod}: "${cleanName(identity.node)}" is not a node name`);
  }
  if (identity.devices.length > MAX_DEVICES) {
    throw new JoinRefused(
      'INVALID_ARGUMENT',
      `pod ${pod} lists ${identity.devices.length} devices (at most ${MAX_DEVICES})`,
    );
  }
  let ip: string;
  let node = identity.node;
  if (verified && verified.ips.length > 0) {
    if (identity.ip && !verified.ips.includes(identity.ip)) {
      throw new JoinRefused(
        'PERMISSION_DENIED',
        `pod ${pod} says its IP is ${identity.ip}, but the API server gives it ${verified.ips.join(', ')}`,
      );
    }
    ip = identity.ip || verified.ips[0]!;
  } else {
    // no API answer to go by: where the connection came from is the one thing the member cannot choose
    ip = isLoopback(peerHost) ? identity.ip || peerHost : peerHost;
  }
  if (verified?.node) {
    if (identity.node && identity.node !== verified.node) {
      throw new JoinRefused(
        'PERMISSION_DENIED',
        `pod ${pod} says it runs on node ${identity.node}, but the API server has it on ${verified.node}`,
      );
    }
    node = verified.node;
  }
  return {
    ...identity,
    ip,
    node,
    group: cleanName(identity.group),
    hostname: cleanName(identity.hostname),
    rankSource: cleanText(identity.rankSource, 128),
    devices: identity.devices.map((d) => ({ id: cleanText(d.id, 128), kind: cleanText(d.kind, 16) })),
  };
}
