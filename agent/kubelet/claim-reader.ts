import { ApiException, type KubeConfig, ResourceV1Api } from '@kubernetes/client-node';
import type { ResourceClaimLike } from './claims.js';
import type { ClaimReader } from './preparer.js';

/** Reads ResourceClaims (`resource.k8s.io/v1`) through the API server; 404 → undefined. */
export class ApiClaimReader implements ClaimReader {
  private readonly api: ResourceV1Api;

  constructor(kubeConfig: KubeConfig) {
    this.api = kubeConfig.makeApiClient(ResourceV1Api);
  }

  async get(namespace: string, name: string): Promise<ResourceClaimLike | undefined> {
    try {
      return (await this.api.readNamespacedResourceClaim({ name, namespace })) as ResourceClaimLike;
    } catch (error) {
      if (error instanceof ApiException && error.code === 404) return undefined;
      throw error;
    }
  }
}
