/**
 * The test cluster: the parts integration tests, the demo and the benchmarks share. For now it starts the API
 * server double; scheduler-lite, the kubelet emulator and simulated nodes are added here as they land.
 */
import { type ApiServer, type ApiServerOptions, startApiServer } from './apiserver/index.js';
import { startWorkloads, type WorkloadOptions, type Workloads } from './controllers/workloads.js';
import type { KubernetesVersion } from './versions.js';

export interface TestClusterOptions {
  /**
   * The Kubernetes release to emulate, for the API server and every kubelet emulator (test/cluster/versions.ts);
   * `apiServer.version` and `workloads.kubelet.version` may still be set apart.
   */
  version?: KubernetesVersion;
  apiServer?: ApiServerOptions;
  /** also scheduler-lite, StatefulSet controller, headless-Service DNS and simulated nodes running pods for real */
  workloads?: WorkloadOptions;
}

export interface TestCluster {
  apiServer: ApiServer;
  /** present when started with the `workloads` option */
  workloads?: Workloads;
  /** Admin kubeconfig. */
  kubeconfigPath: string;
  stop(): Promise<void>;
}

export async function startTestCluster(options: TestClusterOptions = {}): Promise<TestCluster> {
  const version = options.version ?? options.apiServer?.version;
  const apiServer = await startApiServer({ ...options.apiServer, ...(version ? { version } : {}) });
  // Parts started after the API server stop first (last in, first out).
  const stops: (() => Promise<void>)[] = [() => apiServer.stop()];
  let workloads: Workloads | undefined;
  if (options.workloads) {
    try {
      workloads = await startWorkloads(apiServer, {
        ...options.workloads,
        kubelet: { ...(version ? { version } : {}), ...options.workloads.kubelet },
      });
    } catch (error) {
      await apiServer.stop();
      throw error;
    }
    const started = workloads;
    stops.push(() => started.stop());
  }
  return {
    apiServer,
    workloads,
    kubeconfigPath: apiServer.kubeconfigPath,
    stop: async () => {
      for (const stop of stops.reverse()) await stop();
    },
  };
}
