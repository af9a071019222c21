import { objectIdentity } from './added-objects.js';
import { arrayAt, isObject, type Json, type JsonObject, objectAt, stringAt } from './json.js';
import type { InjectReport } from './options.js';
import { isWorkload } from './workloads.js';

/** Top-level objects of the input, Lists opened. */
function flatten(values: readonly Json[]): JsonObject[] {
  return values.flatMap((v) => {
    if (!isObject(v)) return [];
    const items = arrayAt(v, 'items');
    return stringAt(v, 'kind')?.endsWith('List') && items ? flatten(items) : [v];
  });
}

export function podTemplates(object: JsonObject): JsonObject[] {
  const spec = objectAt(object, 'spec');
  switch (stringAt(object, 'kind')) {
    case 'LeaderWorkerSet': {
      const lwt = objectAt(spec, 'leaderWorkerTemplate');
      return [objectAt(lwt, 'leaderTemplate'), objectAt(lwt, 'workerTemplate')].filter(isObject);
    }
    case 'JobSet':
      return (arrayAt(spec, 'replicatedJobs') ?? [])
        .map((rj) => objectAt(objectAt(objectAt(isObject(rj) ? rj : undefined, 'template'), 'spec'), 'template'))
        .filter(isObject);
    default:
      return [objectAt(spec, 'template')].filter(isObject);
  }
}

/**
 * What inject cannot change but the group needs, read from the whole input: the members' DNS Service must publish
 * not-ready addresses (everyone looks the leader up before anyone is Ready), and the pods' service account needs the
 * coordinator's permissions.
 */
export function reviewInput(values: readonly Json[], report: InjectReport): void {
  const objects = flatten(values);
  report.inputObjects = [...(report.inputObjects ?? []), ...objects.map(objectIdentity)];
  const services = new Map<string, JsonObject>();
  for (const o of objects) {
    if (o.kind === 'Service' && stringAt(objectAt(o, 'metadata'), 'name')) {
      services.set(stringAt(objectAt(o, 'metadata'), 'name')!, o);
    }
  }
  for (const o of objects.filter(isWorkload)) {
    const id = `${String(o.kind)}/${stringAt(objectAt(o, 'metadata'), 'name') ?? ''}`;
    const spec = objectAt(o, 'spec');
    const dnsService =
      o.kind === 'StatefulSet'
        ? stringAt(spec, 'serviceName')
        : o.kind === 'Job'
          ? stringAt(objectAt(objectAt(spec, 'template'), 'spec'), 'subdomain')
          : undefined;
    const service = dnsService ? services.get(dnsService) : undefined;
    if (service && objectAt(service, 'spec')?.publishNotReadyAddresses !== true) {
      report.warnings.push(
        `Service/${dnsService} (the DNS names of ${id}'s pods) does not set spec.publishNotReadyAddresses: true; members look rank 0 up before any pod is Ready, so they would not find it`,
      );
    }
    const accounts = [
      ...new Set(podTemplates(o).map((t) => stringAt(objectAt(t, 'spec'), 'serviceAccountName') ?? 'default')),
    ];
    const namespace = stringAt(objectAt(o, 'metadata'), 'namespace') ?? 'NAMESPACE';
    for (const sa of accounts) {
      report.notes.push(
        `${id}: its coordinator runs as service account ${sa}; bind it once per namespace: kubectl create rolebinding lockstep-coordinator -n ${namespace} --clusterrole=lockstep-coordinator --serviceaccount=${namespace}:${sa} (and lockstep-tokenreview with a clusterrolebinding, see deploy/README.md)`,
      );
    }
  }
}
