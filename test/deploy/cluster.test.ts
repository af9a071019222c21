import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import type { JsonObject } from '../../src/inject/json.js';
import { type ApiServer, startApiServer } from '../cluster/apiserver/index.js';
import { REPO_ROOT } from '../support/paths.js';
import { itRecorded } from '../support/recorded.js';
import { kustomize } from './render.js';

/**
 * Every object deploy/ renders is accepted by the test cluster's API server with strict field validation (the
 * LeaderWorkerSet against the real CRD schema, resource.k8s.io against the official OpenAPI document), through the
 * real kubectl. The double does not serve batch/v1 Jobs, so the JAX example's Job is left out here (its pod
 * template is the same shape the StatefulSet example proves).
 */
let api: ApiServer;

beforeAll(async () => {
  api = await startApiServer({ namespaces: ['inference', 'training', 'ml'] });
});

afterAll(async () => {
  await api?.stop();
});

/** The real kubectl, run asynchronously: the API server double answers from this same process. */
async function apply(objects: JsonObject[]): Promise<{ status: number | undefined; stdout: string; stderr: string }> {
  const text = objects.map((o) => stringify(o)).join('---\n');
  const result = await execa('kubectl', ['--kubeconfig', api.kubeconfigPath, 'apply', '--validate=strict', '-f', '-'], {
    input: text,
    reject: false,
    timeout: 60_000,
  });
  return { status: result.exitCode, stdout: result.stdout, stderr: result.stderr };
}

// kinds the API server double does not serve (no batch/v1, no JobSet CRD)
const SERVED_ELSEWHERE = new Set(['Job', 'JobSet']);

describe('deploy/ on the test cluster', () => {
  it.each([
    'deploy/base',
    'deploy/overlays/gpu-only',
    'deploy/overlays/nic-only',
    'deploy/overlays/everywhere',
    'deploy/examples/vllm-lws',
    'deploy/examples/vllm-statefulset',
    'deploy/examples/sglang-lws',
    'deploy/examples/jax-tpu',
  ])('%s is accepted with strict validation', async (dir) => {
    const objects = kustomize(dir).objects.filter((o) => !SERVED_ELSEWHERE.has(String(o.kind)));
    const result = await apply(objects);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout.trim().split('\n')).toHaveLength(objects.length);
  });

  it('install.yaml installs with kubectl apply -f, and again with --server-side, from the file as shipped', async () => {
    const file = join(REPO_ROOT, 'install.yaml');
    const objects = parseAllDocuments(readFileSync(file, 'utf8')).filter((d) => d.contents);
    const run = (args: string[]) =>
      execa('kubectl', ['--kubeconfig', api.kubeconfigPath, ...args], { reject: false, timeout: 60_000 });
    const client = await run(['apply', '--validate=strict', '-f', file]);
    expect(client.stderr).toBe('');
    expect(client.exitCode).toBe(0);
    expect(client.stdout.trim().split('\n')).toHaveLength(objects.length);
    const serverSide = await run(['apply', '--server-side', '--validate=strict', '-f', file]);
    expect(serverSide.stderr).toBe('');
    expect(serverSide.exitCode).toBe(0);
    expect(serverSide.stdout).toMatch(/daemonset\.apps\/lockstep-agent serverside-applied/);
    const agent = await run([
      'get',
      'daemonset',
      'lockstep-agent',
      '-n',
      'lockstep-system',
      '-o',
      'jsonpath={.spec.template.spec.containers[0].image}',
    ]);
    const pkg = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string };
    expect(agent.stdout).toBe(`ghcr.io/lockstep-dev/lockstep:v${pkg.version}`);
  });

  it('accepts every injected golden manifest of test/inject (LeaderWorkerSets against the CRD schema)', async () => {
    const dir = join(REPO_ROOT, 'test', 'inject', 'golden');
    const objects = readdirSync(dir)
      .flatMap((file) => parseAllDocuments(readFileSync(join(dir, file), 'utf8')))
      .flatMap((doc) => (doc.contents ? [doc.toJS() as JsonObject] : []))
      .flatMap((o) => (Array.isArray(o.items) ? (o.items as JsonObject[]) : [o]))
      .filter((o) => !SERVED_ELSEWHERE.has(String(o.kind)))
      .map((o): JsonObject => {
        // `kubectl get -o yaml` output carries server-set fields that a create refuses; apply them as a user would
        const {
          resourceVersion: _rv,
          uid: _uid,
          creationTimestamp: _ct,
          generation: _g,
          ...metadata
        } = o.metadata as JsonObject;
        const { status: _status, ...rest } = o;
        return { ...rest, metadata };
      });
    expect(objects.filter((o) => o.kind === 'LeaderWorkerSet')).toHaveLength(4);
    const result = await apply(objects);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  itRecorded(
    'refuses a LeaderWorkerSet with a field the CRD does not have (the check can fail)',
    async () => {
      const lws = kustomize('deploy/examples/vllm-lws').objects.find((o) => o.kind === 'LeaderWorkerSet')!;
      const broken = structuredClone(lws);
      (broken.spec as JsonObject).leaderWorkerTemplate = {
        ...((broken.spec as JsonObject).leaderWorkerTemplate as JsonObject),
        restartPolicyy: 'None',
      };
      (broken.metadata as JsonObject).name = 'broken';
      const result = await apply([broken]);
      expect(result.status).not.toBe(0);
      expect(result.stderr).toContain('restartPolicyy');
    },
    { needs: 'k8s' },
  );
});
