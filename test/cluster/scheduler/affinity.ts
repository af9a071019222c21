/**
 * Required inter-pod affinity as kube-scheduler's InterPodAffinity filter applies it (pkg/scheduler/framework/plugins/
 * interpodaffinity/filtering.go): for each required podAffinity term, the node must carry the term's topologyKey and
 * share its value with the node of some scheduled pod the term selects; when no pod anywhere matches the term and the
 * incoming pod matches it itself, any node with the key passes (the first pod of a group starts the domain).
 * Selection: labelSelector (matchLabels, matchExpressions In/NotIn/Exists/DoesNotExist) plus matchLabelKeys (the
 * incoming pod's own values of those labels, added as `In` requirements; keys it lacks are skipped), in the term's
 * namespaces or else the pod's own. Not emulated: namespaceSelector, anti-affinity, preferred terms.
 */
import type { Node, Pod } from '../../../src/kube/types.js';

interface Requirement {
  key: string;
  operator: string;
  values?: string[];
}
interface AffinityTerm {
  labelSelector?: { matchLabels?: Record<string, string>; matchExpressions?: Requirement[] };
  matchLabelKeys?: string[];
  namespaces?: string[];
  topologyKey: string;
}

function requiredTerms(pod: Pod): AffinityTerm[] {
  const affinity = (pod.spec as { affinity?: { podAffinity?: Record<string, unknown> } }).affinity;
  return (affinity?.podAffinity?.requiredDuringSchedulingIgnoredDuringExecution as AffinityTerm[] | undefined) ?? [];
}

function requirements(term: AffinityTerm, incoming: Pod): Requirement[] {
  const own = incoming.metadata.labels ?? {};
  return [
    ...Object.entries(term.labelSelector?.matchLabels ?? {}).map(([key, v]) => ({ key, operator: 'In', values: [v] })),
    ...(term.labelSelector?.matchExpressions ?? []),
    ...(term.matchLabelKeys ?? [])
      .filter((key) => own[key] !== undefined)
      .map((key) => ({ key, operator: 'In', values: [own[key]!] })),
  ];
}

function selects(reqs: readonly Requirement[], labels: Record<string, string>): boolean {
  return reqs.every((r) => {
    const v = labels[r.key];
    switch (r.operator) {
      case 'In':
        return v !== undefined && (r.values ?? []).includes(v);
      case 'NotIn':
        return v === undefined || !(r.values ?? []).includes(v);
      case 'Exists':
        return v !== undefined;
      case 'DoesNotExist':
        return v === undefined;
      default:
        return false;
    }
  });
}

/**
 * Does `node` pass the incoming pod's required pod-affinity terms? `placed` are the other pods with the node each is
 * bound (or assumed) to.
 */
export function podAffinityAllows(
  incoming: Pod,
  node: Node,
  placed: readonly { pod: Pod; node: Node | undefined }[],
): boolean {
  const namespace = incoming.metadata.namespace ?? 'default';
  for (const term of requiredTerms(incoming)) {
    const domain = node.metadata.labels?.[term.topologyKey];
    if (domain === undefined) return false;
    const reqs = requirements(term, incoming);
    const namespaces = term.namespaces?.length ? term.namespaces : [namespace];
    const matching = placed.filter(
      (p) =>
        p.node !== undefined &&
        p.pod.metadata.uid !== incoming.metadata.uid &&
        namespaces.includes(p.pod.metadata.namespace ?? 'default') &&
        selects(reqs, p.pod.metadata.labels ?? {}),
    );
    if (matching.length === 0) {
      if (!(namespaces.includes(namespace) && selects(reqs, incoming.metadata.labels ?? {}))) return false;
      continue;
    }
    if (!matching.some((p) => p.node?.metadata.labels?.[term.topologyKey] === domain)) return false;
  }
  return true;
}
