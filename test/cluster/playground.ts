/**
 * The playground behind `npm run cluster -- --nodes h100,h100`: the test cluster with simulated nodes whose kubelet
 * emulators run pods as local processes, deploy/base applied, one real `lockstep agent` per node publishing its
 * devices, a `bin/` with `kubectl-lockstep` and `lockstep` for PATH, and an example workload ready to apply (the
 * demo's StatefulSet, injected, with a torch.distributed job standing in for vLLM).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RESOURCE_SLICES, resourcePath } from '../../src/kube/resources.js';
import { NAMESPACE, workloadManifest } from '../e2e/manifests.js';
import { bundlePath } from '../support/build.js';
import { freePort } from '../support/ports.js';
import { AgentProcess } from './agents.js';
import type { ApiServerOptions } from './apiserver/index.js';
import { startTestCluster, type TestCluster } from './index.js';
import type { SimulatedNodeKind } from './nodes/index.js';
import type { KubernetesVersion } from './versions.js';

const REPO_ROOT = join(import.meta.dirname, '..', '..');

interface PlaygroundNode {
  name: string;
  kind: SimulatedNodeKind;
  agent: AgentProcess;
}

export interface Playground {
  cluster: TestCluster;
  nodes: PlaygroundNode[];
  /** holds kubectl-lockstep and lockstep, for PATH */
  binDir: string;
  /** the example workload, ready for `kubectl apply -f` */
  examplePath: string;
  /** the example's namespace */
  namespace: string;
  /** devices each node published, once every agent has published (undefined: not within the wait) */
  waitForDevices(timeoutMs: number): Promise<Map<string, number> | undefined>;
  stop(): Promise<void>;
}

function writeLauncher(path: string, bundle: string): void {
  writeFileSync(path, `#!/bin/sh\nexec '${process.execPath}' -- '${bundle}' "$@"\n`);
  chmodSync(path, 0o755);
}

export async function startPlayground(options: {
  kinds: SimulatedNodeKind[];
  dir: string;
  apiServer: ApiServerOptions;
  version?: KubernetesVersion;
}): Promise<Playground> {
  const cluster = await startTestCluster({
    ...(options.version ? { version: options.version } : {}),
    apiServer: {
      ...options.apiServer,
      dir: options.dir,
      podGracefulDeletion: true,
      namespaces: [NAMESPACE],
    },
    workloads: {
      dir: join(options.dir, 'cluster'),
      nodes: options.kinds.map((kind, i) => ({ name: `node-${i + 1}`, kind })),
      // torch's TCPStore listens on every address of the machine: a port of this run's own (see test/e2e/story.ts)
      podEnv: { LOCKSTEP_MASTER_PORT: String(await freePort()) },
    },
  });
  const nodes: PlaygroundNode[] = [];
  const stop = async () => {
    for (const node of nodes) await node.agent.stop();
    await cluster.stop();
  };
  try {
    const workloads = cluster.workloads;
    if (!workloads) throw new Error('the test cluster started without workloads');
    cluster.apiServer.store.apply(
      execFileSync('kubectl', ['kustomize', join(REPO_ROOT, 'deploy/base')], { encoding: 'utf8' }),
    );
    const binDir = join(options.dir, 'bin');
    mkdirSync(binDir, { recursive: true });
    writeLauncher(join(binDir, 'kubectl-lockstep'), bundlePath('kubectl-lockstep'));
    writeLauncher(join(binDir, 'lockstep'), bundlePath('lockstep'));
    const examplePath = join(options.dir, 'example.yaml');
    writeFileSync(examplePath, workloadManifest());
    for (const [i, runtime] of workloads.nodes.entries()) {
      const port = await freePort();
      const agent = new AgentProcess(
        runtime.name,
        [
          ...runtime.agentArgs(),
          `--kubeconfig=${cluster.kubeconfigPath}`,
          `--http-address=127.0.0.1:${port}`,
          '--health-interval=1s',
        ],
        join(options.dir, `agent-${runtime.name}.log`),
        { PATH: process.env.PATH, HOME: process.env.HOME, LOCKSTEP_LOG_LEVEL: 'info' },
      );
      agent.start();
      nodes.push({ name: runtime.name, kind: options.kinds[i] ?? 'cpu-vm', agent });
    }
    return {
      cluster,
      nodes,
      binDir,
      examplePath,
      namespace: NAMESPACE,
      waitForDevices: async (timeoutMs) => {
        const deadline = Date.now() + timeoutMs;
        for (;;) {
          const counts = new Map<string, number>();
          for (const node of nodes) {
            const slices = await workloads.client
              .get<{ items: { spec: { devices?: unknown[] } }[] }>(resourcePath(RESOURCE_SLICES), {
                fieldSelector: `spec.nodeName=${node.name}`,
              })
              .catch(() => ({ items: [] }));
            if (slices.items.length > 0)
              counts.set(
                node.name,
                slices.items.reduce((n, s) => n + (s.spec.devices?.length ?? 0), 0),
              );
          }
          if (counts.size === nodes.length) return counts;
          if (Date.now() > deadline) return undefined;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      },
      stop,
    };
  } catch (error) {
    await stop().catch(() => undefined);
    throw error;
  }
}
