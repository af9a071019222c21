/**
 * One simulated node with a kubelet that runs pods for real: the simulated machine (nodes/), its Node object in the
 * API (as the kubelet registers it), the kubelet emulator (kubelet/) with this directory's PodRunner as its container
 * runtime, and the directories an agent on that node uses (plugin registry, plugin sockets, CDI specs, state), with
 * `agentArgs()` giving `lockstep agent` the flags that point into them.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { KubeClient } from '../../../src/kube/client.js';
import { NODES, resourcePath } from '../../../src/kube/resources.js';
import type { Pod } from '../../../src/kube/types.js';
import type { ApiServer } from '../apiserver/index.js';
import { KubeletEmulator, type KubeletEmulatorOptions, loadCdiRegistry } from '../kubelet/index.js';
import { buildSimulatedNode, type SimulatedNode, type SimulatedNodeKind } from '../nodes/index.js';
import type { AddressPool } from './addresses.js';
import { PodRunner } from './runner.js';
import type { ContainerSpec } from './spec.js';

export interface NodeRuntimeOptions {
  name: string;
  kind: SimulatedNodeKind;
  /** everything of this node goes under this directory */
  dir: string;
  apiServer: ApiServer;
  /** the kubelet's client (admin) */
  client: KubeClient;
  addresses: AddressPool;
  hostsFile?: string;
  /** extra env for every container (e.g. LOCKSTEP_LOG_LEVEL) */
  podEnv?: Record<string, string>;
  kubelet?: Partial<KubeletEmulatorOptions>;
  log?: Logger;
}

export interface NodeRuntime {
  name: string;
  node: SimulatedNode;
  registryDir: string;
  pluginDir: string;
  cdiDir: string;
  stateDir: string;
  kubelet: KubeletEmulator;
  runner: PodRunner;
  /** `lockstep agent` flags for this node (add --kubeconfig and --http-address) */
  agentArgs(): string[];
  stop(): Promise<void>;
}

export async function startNodeRuntime(options: NodeRuntimeOptions): Promise<NodeRuntime> {
  const { name, dir } = options;
  const node = await buildSimulatedNode(options.kind, join(dir, 'machine'), { nodeName: name });
  const registryDir = join(dir, 'plugins_registry');
  const pluginDir = join(dir, 'plugins', 'lockstep.dev');
  const cdiDir = join(dir, 'cdi');
  const stateDir = join(dir, 'state');
  for (const d of [registryDir, pluginDir, cdiDir, stateDir]) await mkdir(d, { recursive: true });
  await ensureNode(options.client, name);

  let kubelet: KubeletEmulator | undefined;
  const runner = new PodRunner({
    nodeName: name,
    client: options.client,
    dir: join(dir, 'pods'),
    addresses: options.addresses,
    hostsFile: options.hostsFile,
    kubeconfigFor: (pod: Pod, token?: string) =>
      options.apiServer.kubeconfigFor(
        token !== undefined
          ? { bearerToken: token, label: `pod-${pod.metadata.name}` }
          : {
              serviceAccount: {
                namespace: pod.metadata.namespace ?? 'default',
                name: (pod.spec as { serviceAccountName?: string }).serviceAccountName ?? 'default',
              },
              pod: pod.metadata.name,
            },
        pod.metadata.namespace,
      ),
    extraEnv: options.podEnv,
    cdiEnv: (pod, container) => (kubelet ? containerCdiEnv(kubelet, cdiDir, pod, container) : Promise.resolve({})),
    onChange: (uid) => kubelet?.podChanged(uid),
    log: options.log,
  });
  kubelet = new KubeletEmulator({
    nodeName: name,
    client: options.client,
    registryDir,
    cdiDirs: [cdiDir],
    containers: runner,
    wipeDelayMs: 30_000,
    log: options.log,
    ...options.kubelet,
  });
  await kubelet.start();
  const started = kubelet;
  return {
    name,
    node,
    registryDir,
    pluginDir,
    cdiDir,
    stateDir,
    kubelet: started,
    runner,
    agentArgs: () => [
      'agent',
      `--node-name=${name}`,
      `--sysfs-root=${node.sysfsRoot}`,
      `--dev-root=${node.devRoot}`,
      `--driver-root=${node.driverRoot}`,
      `--kmsg=${node.kmsgPath}`,
      `--proc-root=${node.procRoot}`,
      `--plugin-registry-dir=${registryDir}`,
      `--plugin-dir=${pluginDir}`,
      `--cdi-dir=${cdiDir}`,
      `--state-dir=${stateDir}`,
    ],
    stop: async () => {
      await started.stop();
      await runner.stopAll();
    },
  };
}

/**
 * What the container runtime's CDI injection adds to a container's env: the spec-wide and device `containerEdits.env`
 * of every CDI device the kubelet got from NodePrepareResources for the claims (and requests) the container names, and
 * for the requests its extended resources map to.
 */
export async function containerCdiEnv(
  kubelet: KubeletEmulator,
  cdiDir: string,
  pod: Pod,
  container: ContainerSpec,
): Promise<Record<string, string>> {
  const ids = kubelet.containerCdiIds(pod.metadata.namespace ?? 'default', pod.metadata.name ?? '', container);
  if (ids.length === 0) return {};
  const registry = await loadCdiRegistry([cdiDir]);
  const env: Record<string, string> = {};
  const apply = (edits: unknown) => {
    const list = (edits as { env?: unknown } | undefined)?.env;
    for (const entry of Array.isArray(list) ? list : []) {
      if (typeof entry !== 'string' || !entry.includes('=')) continue;
      env[entry.slice(0, entry.indexOf('='))] = entry.slice(entry.indexOf('=') + 1);
    }
  };
  const specsSeen = new Set<string>();
  for (const id of ids) {
    const found = registry.devices.get(id);
    if (!found) continue;
    if (!specsSeen.has(found.file)) {
      specsSeen.add(found.file);
      apply((found.spec as { containerEdits?: unknown }).containerEdits);
    }
    apply((found.device as { containerEdits?: unknown }).containerEdits);
  }
  return env;
}

/** The Node object, Ready, as the kubelet registers it. */
async function ensureNode(client: KubeClient, name: string): Promise<void> {
  try {
    await client.get(resourcePath(NODES, { name }));
    return;
  } catch {
    // absent: create it
  }
  const created = await client.create<{ metadata: { name: string } }>(resourcePath(NODES), {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name, labels: { 'kubernetes.io/hostname': name, 'kubernetes.io/os': 'linux' } },
  });
  await client.patch(
    resourcePath(NODES, { name: created.metadata.name, subresource: 'status' }),
    {
      status: {
        conditions: [
          { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status' },
        ],
        addresses: [{ type: 'Hostname', address: name }],
      },
    },
    'merge',
  );
}
