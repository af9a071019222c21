/**
 * Whether the cluster offers gang scheduling, for `inject`'s default: scheduling.k8s.io Workload/PodGroup are served
 * only with the GenericWorkload feature gate (Kubernetes 1.35+, off by default; FACTS.md §11), so inject asks API
 * discovery, at the version the server prefers: PodGroups (v1alpha2 in 1.36, v1beta1 in 1.37) or, in 1.35, v1alpha1
 * Workloads. Without an answer (no kubeconfig, server unreachable) there is no gang, and `--explain` says why.
 *
 * Threats: a server that does not answer (bounded by a short timeout, inject must not hang in CI), a discovery
 * document of the wrong shape (read defensively: anything unexpected means "not served").
 */

import { errorMessage } from '../../errors.js';
import { type GangPlan, SCHEDULING_GROUP } from '../../inject/gang.js';
import { ApiError, KubeClient } from '../../kube/client.js';
import { loadKubeConfig } from '../../kube/config.js';

/** Discovery is a couple of small GETs; a cluster slower than this is treated as not answering. */
const DISCOVERY_TIMEOUT_MS = 5000;

const NOT_SERVED =
  'the cluster does not serve scheduling.k8s.io PodGroups (Kubernetes 1.35+ with the GenericWorkload feature gate): pods are scheduled one by one, as before';

interface GroupDoc {
  versions?: { version?: unknown }[];
  preferredVersion?: { version?: unknown };
}

interface ResourceListDoc {
  resources?: { name?: unknown }[];
}

/** The plan from what discovery says: preferred version first; PodGroups win, v1alpha1 Workloads are the 1.35 shape. */
export function planFromDiscovery(
  group: GroupDoc | undefined,
  resources: ReadonlyMap<string, ResourceListDoc>,
): GangPlan {
  if (!group) return { off: NOT_SERVED };
  const listed = (group.versions ?? []).map((v) => v.version).filter((v): v is string => typeof v === 'string');
  const preferred = typeof group.preferredVersion?.version === 'string' ? group.preferredVersion.version : undefined;
  const order =
    preferred && listed.includes(preferred) ? [preferred, ...listed.filter((v) => v !== preferred)] : listed;
  const names = (version: string) =>
    new Set((resources.get(version)?.resources ?? []).map((r) => r.name).filter((n) => typeof n === 'string'));
  const withPodGroups = order.find((v) => names(v).has('podgroups'));
  if (withPodGroups) return { apiVersion: `${SCHEDULING_GROUP}/${withPodGroups}` };
  if (order.includes('v1alpha1') && names('v1alpha1').has('workloads')) {
    return { apiVersion: `${SCHEDULING_GROUP}/v1alpha1` };
  }
  return { off: NOT_SERVED };
}

/** Asks the cluster of the kubeconfig; never throws: a failure is a plan that says why there is no gang. */
export async function discoverGangPlan(kubeconfig: string | undefined): Promise<GangPlan> {
  let client: KubeClient;
  try {
    client = new KubeClient(loadKubeConfig({ kubeconfig }), { timeoutMs: DISCOVERY_TIMEOUT_MS });
  } catch (err) {
    return {
      off: `no cluster to ask whether it serves PodGroups (${errorMessage(err)}); pass --gang-api-version to write them anyway`,
    };
  }
  try {
    let group: GroupDoc | undefined;
    try {
      group = await client.get<GroupDoc>(`/apis/${SCHEDULING_GROUP}`);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) group = undefined;
      else throw err;
    }
    const resources = new Map<string, ResourceListDoc>();
    for (const v of group?.versions ?? []) {
      if (typeof v.version !== 'string') continue;
      resources.set(v.version, await client.get<ResourceListDoc>(`/apis/${SCHEDULING_GROUP}/${v.version}`));
    }
    return planFromDiscovery(group, resources);
  } catch (err) {
    return {
      off: `could not ask the cluster whether it serves PodGroups (${errorMessage(err)}); pass --gang-api-version to write them anyway`,
    };
  } finally {
    client.close();
  }
}
