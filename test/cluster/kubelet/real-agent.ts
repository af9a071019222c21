/**
 * The bundled agent (a real process) on the simulated 8x H100 node of one emulated Kubernetes release, with the API
 * server double (seeded with a kustomize directory's objects), the kubelet emulator and scheduler-lite: what the
 * kubelet plugin's end-to-end tests share. The agent runs as the DaemonSet's pod does, with its service account's
 * pod-bound token, so deploy/base's RBAC and admission policies apply to it.
 *
 * The agent is spawned in its own process group and `stop()` ends it (SIGTERM to the group, SIGKILL after 5 s) before
 * the scheduler, the kubelet and the API server; the child reaper kills it too when a test times out.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeClient } from '../../../src/kube/client.js';
import { bundlePath } from '../../support/build.js';
import { REPO_ROOT } from '../../support/paths.js';
import type { ApiServer, ApiServerOptions } from '../apiserver/index.js';
import type { SubNumaClusters } from '../nodes/h100-hgx-model.js';
import { buildSimulatedNode, type SimulatedNode } from '../nodes/index.js';
import { SchedulerLite } from '../scheduler/index.js';
import type { KubernetesVersion } from '../versions.js';
import { KubeletEmulator } from './emulator.js';
import { nodeObject, shortTempDir, startApi } from './harness.js';

export interface RealAgentOptions {
  version: KubernetesVersion;
  /** the kustomize directory (relative to the repository) applied to the API server first */
  kustomize: string;
  nodeName: string;
  /** prefix of the temporary directory holding the node, sockets, CDI specs and state */
  tempPrefix: string;
  /** extra agent arguments (after the paths) */
  agentArgs?: string[];
  /** API server feature gates over the release's defaults; scheduler-lite follows DRAListTypeAttributes */
  featureGates?: ApiServerOptions['featureGates'];
  /** the simulated node's NUMA nodes per socket (nodes/h100-hgx-model.ts; default 1) */
  subNumaClusters?: SubNumaClusters;
}

export interface RealAgentWorld {
  api: ApiServer;
  client: KubeClient;
  node: SimulatedNode;
  kubelet: KubeletEmulator;
  scheduler: SchedulerLite;
  agent: ChildProcess;
  /** the temporary directory: `p` plugin sockets, `r` registry, `c` CDI specs, `s` state */
  dir: string;
  /** what the agent wrote to stdout and stderr so far */
  log(): string;
  /** waits through the kubelet emulator; on timeout the error carries the tail of the agent's log */
  waitOr(what: string, predicate: () => boolean, timeoutMs: number): Promise<void>;
  /** ends the agent, scheduler, kubelet and API server, and removes the temporary directory */
  stop(): Promise<void>;
}

/** The agent's own pod, so its service-account token is bound to it and to the node (as the DaemonSet's is). */
const AGENT_POD = 'lockstep-agent-x1';

export async function startRealAgent(options: RealAgentOptions): Promise<RealAgentWorld> {
  const { version, nodeName } = options;
  const started = await startApi({ version, ...(options.featureGates ? { featureGates: options.featureGates } : {}) });
  const { api, client } = started;
  api.store.apply(execFileSync('kubectl', ['kustomize', join(REPO_ROOT, options.kustomize)], { encoding: 'utf8' }));
  api.store.create('nodes', nodeObject(nodeName));
  api.store.create('pods', {
    metadata: { name: AGENT_POD, namespace: 'lockstep-system' },
    spec: {
      nodeName,
      serviceAccountName: 'lockstep-agent',
      containers: [{ name: 'agent', image: 'lockstep' }],
    },
  });
  const agentKubeconfig = api.kubeconfigFor({
    serviceAccount: { namespace: 'lockstep-system', name: 'lockstep-agent' },
    pod: AGENT_POD,
  });
  const dir = await shortTempDir(options.tempPrefix);
  const node = await buildSimulatedNode('h100-hgx', join(dir, 'node'), {
    nodeName,
    ...(options.subNumaClusters ? { subNumaClusters: options.subNumaClusters } : {}),
  });
  const kubelet = new KubeletEmulator({
    version,
    nodeName,
    client,
    registryDir: join(dir, 'r'),
    cdiDirs: [join(dir, 'c')],
    pollMs: 50,
    retryMs: 200,
    statusSyncMs: 200,
  });
  await kubelet.start();
  const scheduler = new SchedulerLite({ client, listTypeAttributes: api.gates.DRAListTypeAttributes });
  await scheduler.start();
  const agent = spawn(
    process.execPath,
    [
      bundlePath('lockstep'),
      'agent',
      ...['--node-name', nodeName, '--kubeconfig', agentKubeconfig, '--proc-root', node.procRoot],
      ...['--sysfs-root', node.sysfsRoot, '--dev-root', node.devRoot, '--nvidia-smi', node.nvidiaSmiPath],
      ...['--kmsg', node.kmsgPath, '--state-dir', join(dir, 's'), '--plugin-dir', join(dir, 'p')],
      ...['--plugin-registry-dir', join(dir, 'r'), '--cdi-dir', join(dir, 'c'), '--http-address', '127.0.0.1:0'],
      ...(options.agentArgs ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  let agentLog = '';
  const collect = (chunk: Buffer) => {
    agentLog += chunk.toString();
  };
  agent.stdout?.on('data', collect);
  agent.stderr?.on('data', collect);

  return {
    api,
    client,
    node,
    kubelet,
    scheduler,
    agent,
    dir,
    log: () => agentLog,
    waitOr: (what, predicate, timeoutMs) =>
      kubelet.waitFor(what, predicate, timeoutMs).catch((error: unknown) => {
        throw new Error(`${String(error)}\n--- agent log (tail) ---\n${agentLog.slice(-4000)}`);
      }),
    async stop() {
      await stopAgentGroup(agent);
      await scheduler.stop();
      await kubelet.stop();
      await api.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** SIGTERM to the agent's process group, SIGKILL when it has not exited within 5 s. */
async function stopAgentGroup(agent: ChildProcess): Promise<void> {
  if (agent.pid === undefined || agent.exitCode !== null || agent.signalCode !== null) return;
  const exited = new Promise((resolve) => agent.once('exit', resolve));
  process.kill(-agent.pid, 'SIGTERM');
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
  if (agent.exitCode === null && agent.signalCode === null) process.kill(-agent.pid, 'SIGKILL');
}
