import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeClient } from '../../../src/kube/client.js';
import { loadKubeConfig } from '../../../src/kube/config.js';
import type { KubeObject } from '../apiserver/index.js';
import { type ApiServer, startApiServer } from '../apiserver/index.js';

/** Objects the emulator tests seed straight into the API server (as the scheduler would leave them). */
export function nodeObject(name: string): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name } },
    status: { conditions: [{ type: 'Ready', status: 'True' }] },
  };
}

export interface PodSpecForTest {
  name: string;
  uid?: string;
  node: string;
  /** pod claim name → ResourceClaim name */
  claims?: Record<string, string>;
  /** per container: its claim references */
  containers?: { name: string; claims?: { name: string; request?: string }[] }[];
  readinessGates?: string[];
}

export function podObject(spec: PodSpecForTest): unknown {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: spec.name, namespace: 'default' },
    spec: {
      nodeName: spec.node,
      containers: (
        spec.containers ?? [{ name: 'main', claims: Object.keys(spec.claims ?? {}).map((name) => ({ name })) }]
      ).map((container) => ({
        name: container.name,
        image: 'registry.example/engine:1',
        resources: { claims: container.claims ?? [] },
      })),
      resourceClaims: Object.entries(spec.claims ?? {}).map(([name, resourceClaimName]) => ({
        name,
        resourceClaimName,
      })),
      ...(spec.readinessGates
        ? { readinessGates: spec.readinessGates.map((conditionType) => ({ conditionType })) }
        : {}),
    },
  };
}

export interface ClaimForTest {
  name: string;
  node: string;
  driver?: string;
  results: { request: string; device: string }[];
  /** pods it is reserved for */
  reservedFor?: KubeObject[];
}

/** Creates an allocated, reserved claim (what scheduler-lite leaves behind). */
export function createAllocatedClaim(api: ApiServer, claim: ClaimForTest): KubeObject {
  const driver = claim.driver ?? 'lockstep.dev';
  const requests = [...new Set(claim.results.map((result) => result.request))];
  const created = api.store.create(
    'resourceclaims',
    {
      apiVersion: 'resource.k8s.io/v1',
      kind: 'ResourceClaim',
      metadata: { name: claim.name, namespace: 'default' },
      spec: {
        devices: {
          requests: requests.map((name) => ({
            name,
            exactly: {
              deviceClassName: 'gpu.lockstep.dev',
              count: claim.results.filter((r) => r.request === name).length,
            },
          })),
        },
      },
    },
    { namespace: 'default' },
  );
  const withStatus = {
    ...created,
    status: {
      allocation: {
        devices: { results: claim.results.map((result) => ({ ...result, driver, pool: claim.node })) },
        nodeSelector: {
          nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [claim.node] }] }],
        },
      },
      reservedFor: (claim.reservedFor ?? []).map((pod) => ({
        resource: 'pods',
        name: pod.metadata.name,
        uid: pod.metadata.uid,
      })),
    },
  };
  return api.store.updateStatus('resourceclaims', withStatus as KubeObject, { namespace: 'default' });
}

export async function startApi(
  options: Parameters<typeof startApiServer>[0] = {},
): Promise<{ api: ApiServer; client: KubeClient }> {
  const api = await startApiServer(options);
  const client = new KubeClient(loadKubeConfig({ kubeconfig: api.kubeconfigPath }));
  return { api, client };
}

export async function shortTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}
