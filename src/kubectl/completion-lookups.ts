import './node-compat.js';
import { CoreV1Api } from '@kubernetes/client-node';
import { LABEL_GROUP } from '../contract/names.js';
import { DEFAULT_DRIVER_NAME } from '../version.js';
import { apiReader } from './cluster.js';
import type { CompletionLookups, CompletionScope } from './completion.js';
import { loadKubeConfig } from './kubeconfig.js';

function load(scope: CompletionScope) {
  return loadKubeConfig({
    ...(scope.kubeconfig ? { kubeconfig: scope.kubeconfig } : {}),
    ...(scope.context ? { context: scope.context } : {}),
  });
}

/** Completion reads the same lists as the verbs (one request each), with the flags typed so far. */
export const apiLookups: CompletionLookups = {
  async nodes(scope) {
    const slices = await apiReader(load(scope).kc).slices(`spec.driver=${DEFAULT_DRIVER_NAME}`);
    return [...new Set(slices.map((s) => s.spec.nodeName).filter((n): n is string => !!n))].sort();
  },
  async groups(scope) {
    const { kc, namespace } = load(scope);
    const pods = await apiReader(kc).pods({
      ...(scope.allNamespaces ? {} : { namespace: scope.namespace ?? namespace }),
      labelSelector: LABEL_GROUP,
    });
    return [...new Set(pods.map((p) => p.metadata?.labels?.[LABEL_GROUP]).filter((g): g is string => !!g))].sort();
  },
  async namespaces(scope) {
    const list = await load(scope).kc.makeApiClient(CoreV1Api).listNamespace();
    return list.items.map((n) => n.metadata?.name ?? '').filter((n) => n !== '');
  },
  contexts(scope) {
    return load({ ...scope, allNamespaces: false, context: undefined } as CompletionScope)
      .kc.getContexts()
      .map((c) => c.name);
  },
};
