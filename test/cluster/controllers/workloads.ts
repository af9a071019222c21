/**
 * The parts that make workloads run in the test cluster: scheduler-lite (claims + binding), the StatefulSet, Job,
 * JobSet and LeaderWorkerSet controllers-lite, the headless-Service DNS, and simulated nodes whose kubelet emulators run pods as local processes.
 * `startTestCluster({ workloads: … })` starts them after the API server; the node agents are not part of it (tests
 * and the demo run `lockstep agent` processes with `node.agentArgs()`).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { KubeClient } from '../../../src/kube/client.js';
import { loadKubeConfig } from '../../../src/kube/config.js';
import type { ApiServer } from '../apiserver/index.js';
import type { KubeletEmulatorOptions } from '../kubelet/index.js';
import type { SimulatedNodeKind } from '../nodes/index.js';
import { AddressPool } from '../pods/addresses.js';
import { type NodeRuntime, startNodeRuntime } from '../pods/node-runtime.js';
import { SchedulerLite } from '../scheduler/index.js';
import { ClusterDns } from './dns.js';
import { JobController } from './job.js';
import { JobSetController } from './jobset.js';
import { LeaderWorkerSetController } from './lws.js';
import { RootCaPublisher } from './root-ca.js';
import { StatefulSetController } from './statefulset.js';

export interface WorkloadOptions {
  /** the simulated nodes, each with a kubelet emulator running its pods */
  nodes: { name: string; kind: SimulatedNodeKind }[];
  /** where node trees, pod directories and the DNS hosts file go */
  dir: string;
  /** extra env for every container (e.g. LOCKSTEP_LOG_LEVEL) */
  podEnv?: Record<string, string>;
  kubelet?: Partial<KubeletEmulatorOptions>;
  log?: Logger;
}

export interface Workloads {
  client: KubeClient;
  nodes: NodeRuntime[];
  node(name: string): NodeRuntime;
  scheduler: SchedulerLite;
  statefulSets: StatefulSetController;
  jobs: JobController;
  jobSets: JobSetController;
  leaderWorkerSets: LeaderWorkerSetController;
  dns: ClusterDns;
  stop(): Promise<void>;
}

export async function startWorkloads(apiServer: ApiServer, options: WorkloadOptions): Promise<Workloads> {
  await mkdir(options.dir, { recursive: true });
  const client = new KubeClient(loadKubeConfig({ kubeconfig: apiServer.kubeconfigPath }));
  const stops: (() => Promise<void>)[] = [];
  try {
    // before any pod: the kubelet waits for kube-root-ca.crt to mount an API-access volume
    const rootCa = new RootCaPublisher({ client, caPem: apiServer.caPem ?? '', log: options.log });
    await rootCa.start();
    stops.push(() => rootCa.stop());
    const dns = new ClusterDns({ client, hostsFile: join(options.dir, 'hosts'), log: options.log });
    await dns.start();
    stops.push(() => dns.stop());
    const scheduler = new SchedulerLite({
      client,
      log: options.log,
      listTypeAttributes: apiServer.gates.DRAListTypeAttributes,
    });
    await scheduler.start();
    stops.push(() => scheduler.stop());
    const statefulSets = new StatefulSetController({ client, log: options.log });
    await statefulSets.start();
    stops.push(() => statefulSets.stop());
    const jobs = new JobController({ client, log: options.log });
    await jobs.start();
    stops.push(() => jobs.stop());
    const jobSets = new JobSetController({ client, log: options.log });
    await jobSets.start();
    stops.push(() => jobSets.stop());
    const leaderWorkerSets = new LeaderWorkerSetController({ client, log: options.log });
    await leaderWorkerSets.start();
    stops.push(() => leaderWorkerSets.stop());
    const addresses = new AddressPool();
    const nodes: NodeRuntime[] = [];
    for (const spec of options.nodes) {
      const runtime = await startNodeRuntime({
        ...spec,
        dir: join(options.dir, spec.name),
        apiServer,
        client,
        addresses,
        hostsFile: dns.hostsFile,
        podEnv: options.podEnv,
        kubelet: options.kubelet,
        log: options.log,
      });
      nodes.push(runtime);
      stops.push(() => runtime.stop());
    }
    return {
      client,
      nodes,
      node: (name) => {
        const found = nodes.find((n) => n.name === name);
        if (!found) throw new Error(`no simulated node ${name}`);
        return found;
      },
      scheduler,
      statefulSets,
      jobs,
      jobSets,
      leaderWorkerSets,
      dns,
      stop: async () => {
        for (const stop of stops.reverse()) await stop();
      },
    };
  } catch (error) {
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
    throw error;
  }
}
