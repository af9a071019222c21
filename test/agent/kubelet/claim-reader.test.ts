import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClaimReader } from '../../../agent/kubelet/claim-reader.js';
import type { KubeClient } from '../../../src/kube/client.js';
import type { ApiServer } from '../../cluster/apiserver/index.js';
import { createAllocatedClaim, startApi } from '../../cluster/kubelet/harness.js';

let api: ApiServer;
let client: KubeClient;
beforeAll(async () => {
  ({ api, client } = await startApi());
});
afterAll(async () => {
  client?.close();
  await api?.stop();
});

describe('ApiClaimReader', () => {
  it('reads a claim, answers undefined for a missing one, and throws on other API errors', async () => {
    const created = createAllocatedClaim(api, { name: 'c', node: 'n1', results: [{ request: 'g', device: 'gpu-0' }] });
    const reader = new ApiClaimReader(client);
    const claim = await reader.get('default', 'c');
    expect(claim?.metadata?.uid).toBe(created.metadata.uid);
    expect(claim?.status?.allocation?.devices?.results).toEqual([
      { request: 'g', device: 'gpu-0', driver: 'lockstep.dev', pool: 'n1' },
    ]);
    expect(await reader.get('default', 'nope')).toBeUndefined();
    api.faults.failNext(1, 503);
    await expect(reader.get('default', 'c')).rejects.toThrow();
  });
});
