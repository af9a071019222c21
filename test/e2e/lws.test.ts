/**
 * LeaderWorkerSets in the test cluster: no LWS controller runs here, but the API server double validates and
 * defaults them with the real CRD schema, so the project's LWS examples are checked by the real kubectl against it.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { startTestCluster, type TestCluster } from '../cluster/index.js';
import { itRecorded } from '../support/recorded.js';
import { REPO_ROOT } from './manifests.js';

const run = promisify(execFile);

describe('LeaderWorkerSet examples against the CRD schema', () => {
  let cluster: TestCluster;
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lws-'));
    cluster = await startTestCluster({ apiServer: { namespaces: ['inference'] } });
  }, 60_000);

  afterAll(async () => {
    await cluster?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const apply = async (text: string) => {
    const file = join(dir, `m-${Math.random().toString(36).slice(2)}.yaml`);
    await writeFile(file, text);
    return run('kubectl', ['--kubeconfig', cluster.kubeconfigPath, 'apply', '-f', file]).then(
      (r) => ({ ok: true, out: r.stdout }),
      (e: { stderr?: string }) => ({ ok: false, out: e.stderr ?? '' }),
    );
  };

  itRecorded(
    'accepts the injected vLLM and SGLang LeaderWorkerSets and stores them with the schema defaults',
    async () => {
      for (const example of ['vllm-lws', 'sglang-lws']) {
        const { stdout } = await run('kubectl', ['kustomize', join(REPO_ROOT, 'deploy/examples', example)]);
        const result = await apply(stdout);
        expect(result.out).toMatch(/leaderworkerset\.leaderworkerset\.x-k8s\.io\/\S+ created/);
      }
      const lws = cluster.apiServer.store.get('leaderworkersets', 'llama-405b', 'inference') as unknown as {
        spec: { replicas?: number; startupPolicy?: string };
      };
      expect(lws.spec.startupPolicy).toBe('LeaderCreated');
      expect(lws.spec.replicas).toBeTypeOf('number');
    },
    { needs: 'k8s', timeout: 60_000 },
  );

  itRecorded(
    'refuses a LeaderWorkerSet the CRD schema rejects, naming the field',
    async () => {
      const { stdout } = await run('kubectl', ['kustomize', join(REPO_ROOT, 'deploy/examples/vllm-lws')]);
      const lws = parseAllDocuments(stdout)
        .map((d) => d.toJS() as { kind?: string; metadata: { name: string }; spec: Record<string, unknown> })
        .find((d) => d.kind === 'LeaderWorkerSet');
      if (!lws) throw new Error('no LeaderWorkerSet in the example');
      lws.metadata.name = 'bad-size';
      (lws.spec.leaderWorkerTemplate as Record<string, unknown>).size = 'two';
      const result = await apply(stringify(lws));
      expect(result.ok).toBe(false);
      expect(result.out).toContain('size');
    },
    { needs: 'k8s', timeout: 60_000 },
  );
});
