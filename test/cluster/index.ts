/**
 * The test cluster: the parts integration tests, the demo and the benchmarks share. For now it starts the API
 * server double; scheduler-lite, the kubelet emulator and simulated nodes are added here as they land.
 */
import { type ApiServer, type ApiServerOptions, startApiServer } from './apiserver/index.js';

export interface TestClusterOptions {
  apiServer?: ApiServerOptions;
}

export interface TestCluster {
  apiServer: ApiServer;
  /** Admin kubeconfig. */
  kubeconfigPath: string;
  stop(): Promise<void>;
}

export async function startTestCluster(options: TestClusterOptions = {}): Promise<TestCluster> {
  const apiServer = await startApiServer(options.apiServer);
  // Parts started after the API server stop first (last in, first out).
  const stops: (() => Promise<void>)[] = [() => apiServer.stop()];
  return {
    apiServer,
    kubeconfigPath: apiServer.kubeconfigPath,
    stop: async () => {
      for (const stop of stops.reverse()) await stop();
    },
  };
}
