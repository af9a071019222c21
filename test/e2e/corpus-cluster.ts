/**
 * The set-up the corpus end-to-end tests share: a test cluster with one CPU-only node whose pods run as local
 * processes, lockstep's base applied, and `kubectl` with the built `kubectl lockstep` on its PATH. Call it inside a
 * describe block: it registers the beforeAll that starts the cluster and the afterAll that stops it and removes its
 * directory, even when a test fails.
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll } from 'vitest';
import { startTestCluster, type TestCluster } from '../cluster/index.js';
import { bundlePath } from '../support/build.js';
import { baseManifest } from './manifests.js';

const run = promisify(execFile);

export interface CorpusCluster {
  /** set once beforeAll has run */
  cluster: TestCluster;
  /** the test's temporary directory (the cluster's files live in its `cluster/`) */
  dir: string;
  /** real kubectl against the cluster, `kubectl lockstep` included */
  kubectl(args: string[]): Promise<{ stdout: string; stderr: string }>;
}

export function useCorpusCluster(dirPrefix: string, namespaces: readonly string[]): CorpusCluster {
  let bin = '';
  const handle: CorpusCluster = {
    cluster: undefined as unknown as TestCluster,
    dir: '',
    kubectl: (args) =>
      run('kubectl', args, {
        env: { ...process.env, KUBECONFIG: handle.cluster.kubeconfigPath, PATH: `${bin}:${process.env.PATH}` },
      }),
  };
  beforeAll(async () => {
    handle.dir = await mkdtemp(join(tmpdir(), dirPrefix));
    handle.cluster = await startTestCluster({
      apiServer: { namespaces: [...namespaces] },
      workloads: {
        dir: join(handle.dir, 'cluster'),
        nodes: [{ name: 'node-a', kind: 'cpu-vm' }],
        podEnv: {
          LOCKSTEP_LOG_LEVEL: 'info',
          LOCKSTEP_MASTER_PORT: String(20_000 + Math.floor(Math.random() * 10_000)),
        },
      },
    });
    handle.cluster.apiServer.store.apply(baseManifest());
    bin = join(handle.dir, 'bin');
    mkdirSync(bin, { recursive: true });
    writeFileSync(
      join(bin, 'kubectl-lockstep'),
      `#!/bin/sh\nexec '${process.execPath}' '${bundlePath('kubectl-lockstep')}' "$@"\n`,
    );
    chmodSync(join(bin, 'kubectl-lockstep'), 0o755);
  }, 60_000);
  afterAll(async () => {
    await handle.cluster?.stop();
    if (handle.dir) await rm(handle.dir, { recursive: true, force: true });
  }, 60_000);
  return handle;
}
