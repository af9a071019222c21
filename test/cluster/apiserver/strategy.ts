/**
 * What the real registry strategies do to a new object before it is stored (PrepareForCreate): pod defaults and
 * status, namespace phase and name label, Secret type, Service cluster IP; status dropped where a status subresource
 * owns it. Also the scheme defaults every write gets (applyDefaults).
 */
import type { KindSpec } from './kinds.js';
import { isRecord, type KubeObject } from './types.js';

function qosClass(pod: KubeObject): string {
  const containers = isRecord(pod.spec) && Array.isArray(pod.spec.containers) ? pod.spec.containers : [];
  let any = false;
  let guaranteed = containers.length > 0;
  for (const c of containers) {
    const res = isRecord(c) && isRecord(c.resources) ? c.resources : {};
    const req = isRecord(res.requests) ? res.requests : {};
    const lim = isRecord(res.limits) ? res.limits : {};
    if (Object.keys(req).length || Object.keys(lim).length) any = true;
    for (const r of ['cpu', 'memory'])
      if (lim[r] === undefined || (req[r] !== undefined && req[r] !== lim[r])) guaranteed = false;
  }
  if (!any) return 'BestEffort';
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

function records(v: unknown): Record<string, unknown>[] {
  return Array.isArray(v) ? v.filter(isRecord) : [];
}

/** An image with no tag or the `latest` tag is pulled every time (SetDefaults_Container). */
function pullPolicyFor(image: unknown): string {
  if (typeof image !== 'string') return 'IfNotPresent';
  if (image.includes('@')) return 'IfNotPresent';
  const lastPart = image.slice(image.lastIndexOf('/') + 1);
  const colon = lastPart.lastIndexOf(':');
  const tag = colon < 0 ? '' : lastPart.slice(colon + 1);
  return tag === '' || tag === 'latest' ? 'Always' : 'IfNotPresent';
}

function defaultContainers(podSpec: Record<string, unknown>): void {
  for (const list of ['initContainers', 'containers'] as const)
    for (const c of records(podSpec[list])) {
      c.terminationMessagePath ??= '/dev/termination-log';
      c.terminationMessagePolicy ??= 'File';
      c.imagePullPolicy ??= pullPolicyFor(c.image);
      for (const port of records(c.ports)) port.protocol ??= 'TCP';
    }
}

/** DeviceRequest defaults (pkg/apis/resource/v1 defaults.go): ExactCount, and one device when counting. */
function defaultDeviceRequests(claimSpec: unknown): void {
  if (!isRecord(claimSpec) || !isRecord(claimSpec.devices)) return;
  const exact = (r: Record<string, unknown>) => {
    r.allocationMode ??= 'ExactCount';
    if (r.allocationMode === 'ExactCount') r.count ??= 1;
  };
  for (const request of records(claimSpec.devices.requests)) {
    if (isRecord(request.exactly)) exact(request.exactly);
    for (const sub of records(request.firstAvailable)) exact(sub);
  }
}

/**
 * The scheme's defaulting functions, which the real server runs on every decoded body (create, update, patch) before
 * validation: container pull policy and termination message, port protocols, DRA request counts. Idempotent.
 */
export function applyDefaults(spec: KindSpec, obj: KubeObject): void {
  switch (spec.kind) {
    case 'Pod':
      if (isRecord(obj.spec)) defaultContainers(obj.spec);
      break;
    case 'ResourceClaim':
      defaultDeviceRequests(obj.spec);
      break;
    case 'ResourceClaimTemplate':
      if (isRecord(obj.spec)) defaultDeviceRequests(obj.spec.spec);
      break;
  }
}

/** The parts of each registry strategy's PrepareForCreate that clients can observe. */
export function prepareForCreate(spec: KindSpec, obj: KubeObject): void {
  switch (spec.kind) {
    case 'Pod': {
      const podSpec = isRecord(obj.spec) ? obj.spec : {};
      obj.spec = podSpec;
      podSpec.restartPolicy ??= 'Always';
      podSpec.dnsPolicy ??= 'ClusterFirst';
      podSpec.schedulerName ??= 'default-scheduler';
      podSpec.terminationGracePeriodSeconds ??= 30;
      podSpec.serviceAccountName ??= 'default';
      podSpec.enableServiceLinks ??= true;
      obj.status = { phase: 'Pending', qosClass: qosClass(obj) };
      break;
    }
    case 'Namespace':
      obj.status = { phase: 'Active' };
      obj.spec = { finalizers: ['kubernetes'] };
      obj.metadata.labels = { ...(obj.metadata.labels ?? {}), 'kubernetes.io/metadata.name': obj.metadata.name ?? '' };
      break;
    case 'Secret':
      obj.type ??= 'Opaque';
      break;
    case 'Service': {
      const s = isRecord(obj.spec) ? obj.spec : {};
      obj.spec = s;
      s.type ??= 'ClusterIP';
      if (s.clusterIP === undefined)
        s.clusterIP = `10.96.${Math.floor(Math.random() * 254) + 1}.${Math.floor(Math.random() * 254) + 1}`;
      obj.status = { loadBalancer: {} };
      break;
    }
    default:
      if (spec.subresources?.includes('status') && spec.kind !== 'Node') delete obj.status;
  }
}
