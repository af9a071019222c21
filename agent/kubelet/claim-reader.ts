import { isNotFound, type KubeClient } from '../../src/kube/client.js';
import { RESOURCE_CLAIMS, resourcePath } from '../../src/kube/resources.js';
import type { ResourceClaimLike } from './claims.js';
import type { ClaimReader } from './preparer.js';

/** Reads ResourceClaims (`resource.k8s.io/v1`) through the API server with the agent's client; 404 → undefined. */
export class ApiClaimReader implements ClaimReader {
  constructor(private readonly client: KubeClient) {}

  async get(namespace: string, name: string): Promise<ResourceClaimLike | undefined> {
    try {
      return await this.client.get<ResourceClaimLike>(resourcePath(RESOURCE_CLAIMS, { namespace, name }));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }
}
