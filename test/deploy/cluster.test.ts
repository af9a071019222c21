import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import type { JsonObject } from '../../src/inject/json.js';
import { type ApiServer, startApiServer } from '../cluster/apiserver/index.js';
import { kustomize } from './render.js';

/**
 * Every object deploy/ renders is accepted by the test cluster's API server with strict field validation (the
 * LeaderWorkerSet against the real CRD schema, resource.k8s.io against the official OpenAPI document), through the
 * real kubectl. The double does not serve batch/v1 Jobs, so the JAX example's Job is left out here (its pod
 * template is the same shape the StatefulSet example proves).
 */
let api: ApiServer;

beforeAll(async () => {
  api = await startApiServer({ namespaces: ['inference', 'training'] });
});

afterAll(async () => {
  await api?.stop();
});

function apply(objects: JsonObject[]): { status: number | null; stdout: string; stderr: string } {
  const text = objects.map((o) => stringify(o)).join('---\n');
  const result = spawnSync('kubectl', ['--kubeconfig', api.kubeconfigPath, 'apply', '--validate=strict', '-f', '-'], {
    input: text,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const SERVED_ELSEWHERE = new Set(['Job']);

describe('deploy/ on the test cluster', () => {
  it.each([
    'deploy/base',
    'deploy/overlays/gpu-only',
    'deploy/overlays/nic-only',
    'deploy/examples/vllm-lws',
    'deploy/examples/vllm-statefulset',
    'deploy/examples/sglang-lws',
    'deploy/examples/jax-tpu',
  ])('%s is accepted with strict validation', (dir) => {
    const objects = kustomize(dir).objects.filter((o) => !SERVED_ELSEWHERE.has(String(o.kind)));
    const result = apply(objects);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout.trim().split('\n')).toHaveLength(objects.length);
  });

  it('refuses a LeaderWorkerSet with a field the CRD does not have (the check can fail)', () => {
    const lws = kustomize('deploy/examples/vllm-lws').objects.find((o) => o.kind === 'LeaderWorkerSet')!;
    const broken = structuredClone(lws);
    (broken.spec as JsonObject).leaderWorkerTemplate = {
      ...((broken.spec as JsonObject).leaderWorkerTemplate as JsonObject),
      restartPolicyy: 'None',
    };
    (broken.metadata as JsonObject).name = 'broken';
    const result = apply([broken]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('restartPolicyy');
  });
});
