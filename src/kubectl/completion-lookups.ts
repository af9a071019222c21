import { groupOfPod } from '../contract/group-identity.js';
import { DRIVER, LABEL_GROUP } from '../contract/names.js';
import { apiReader, connect } from './cluster.js';
import type { CompletionLookups, CompletionScope } from './completion.js';

function open(scope: CompletionScope) {
  return connect({
    ...(scope.kubeconfig ? { kubeconfig: scope.kubeconfig } : {}),
    ...(scope.context ? { context: scope.context } : {}),
  });
}

const sorted = (values: (string | undefined)[]) => [...new Set(values.filter((v): v is string => !!v))].sort();

/** Completion reads the same lists as the verbs (one request each), with the flags typed so far. */
export const apiLookups: CompletionLookups = {
  async nodes(scope) {
    const { client } = open(scope);
    const slices = await apiReader(client).list('resourceslices', {
      fieldSelector: `spec.driver=${DRIVER}`,
    });
    client.close();
    return sorted(slices.map((s) => s.spec.nodeName));
  },
  async groups(scope) {
    const { client, namespace } = open(scope);
    const pods = await apiReader(client).list('pods', {
      ...(scope.allNamespaces ? {} : { namespace: scope.namespace ?? namespace }),
      labelSelector: LABEL_GROUP,
    });
    client.close();
    return sorted(pods.map((p) => groupOfPod(p)));
  },
  async namespaces(scope) {
    const { client } = open(scope);
    const list = await client.get<{ items: { metadata: { name?: string } }[] }>('/api/v1/namespaces');
    client.close();
    return sorted(list.items.map((n) => n.metadata.name));
  },
  contexts(scope) {
    const { kc } = connect(scope.kubeconfig ? { kubeconfig: scope.kubeconfig } : {});
    return kc.getContexts().map((c) => c.name);
  },
};
