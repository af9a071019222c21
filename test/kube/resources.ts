import type { ResourceType } from '../../src/kube/resources.js';

export { resourcePath } from '../../src/kube/resources.js';

/** A plain kind to exercise the generic helpers with. */
export const CONFIG_MAPS_FOR_TEST: ResourceType = {
  group: '',
  version: 'v1',
  resource: 'configmaps',
  kind: 'ConfigMap',
  namespaced: true,
};
