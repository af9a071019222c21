/**
 * What the real registry strategies do to a new object before it is stored (PrepareForCreate): pod defaults and
 * status, namespace phase and name label, Secret type, Service cluster IP; status dropped where a status subresource
 * owns it.
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
