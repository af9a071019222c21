/**
 * One simulated 8x H100 node running the real agent process (dist/lockstep.mjs agent) against the API server double,
 * with the kubelet emulator registering its plugin and running one pod whose claim holds `device`. Shared by the
 * end-to-end health test and the health benchmark.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { KubeClient } from '../../../src/kube/client.js';
import { loadKubeConfig } from '../../../src/kube/config.js';
import type { ResourceSlice } from '../../../src/kube/types.js';
import { type ApiServer, startApiServer } from '../../cluster/apiserver/index.js';
import { KubeletEmulator } from '../../cluster/kubelet/emulator.js';
import { createAllocatedClaim, nodeObject, podObject, shortTempDir } from '../../cluster/kubelet/harness.js';
import { buildSimulatedNode, type SimulatedNode } from '../../cluster/nodes/index.js';
import { bundlePath } from '../../support/build.js';
import { freePort } from '../../support/ports.js';

export interface AgentWorld {
  api: ApiServer;
  node: SimulatedNode;
  kubelet: KubeletEmulator;
  agent: ChildProcess;
  pid: number;
  stateDir: string;
  metricsUrl: string;
  readyzUrl: string;
  /** the DRA plugin socket (the kubelet health stream is served there) */
  draSocket: string;
  /** the pod holding `device` (namespace default) */
  podName: string;
  stop(): Promise<void>;
}

export async function fetchText(url: string): Promise<{ status: number; text: string }> {
  try {
    const res = await fetch(url);
    return { status: res.status, text: await res.text() };
  } catch {
    return { status: 0, text: '' };
  }
}

/**
 * The environment the DaemonSet gives the agent's container (plain `value` entries only): process-start settings such
 * as NODE_OPTIONS (V8 flags) and MALLOC_ARENA_MAX, so tests and benchmarks run the agent as it is shipped.
 */
export async function daemonSetAgentEnv(): Promise<Record<string, string>> {
  const daemonSet = join(import.meta.dirname, '..', '..', '..', 'deploy', 'base', 'agent-daemonset.yaml');
  const ds = parseYaml(await readFile(daemonSet, 'utf8')) as {
    spec: { template: { spec: { containers: { name: string; env?: { name: string; value?: string }[] }[] } } };
  };
  const agent = ds.spec.template.spec.containers.find((c) => c.name === 'agent');
  return Object.fromEntries(
    (agent?.env ?? []).flatMap((e) => (e.value !== undefined ? [[e.name, e.value] as const] : [])),
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Whether this process may give a child its own mount namespace (root, and unshare permitted). */
export function canRunInCluster(): boolean {
  try {
    execFileSync('unshare', ['-m', '--propagation', 'private', 'true'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

/**
 * The command prefix and environment that start the agent as in a pod: in its own mount namespace a tmpfs on /run
 * holds the service-account mount (token and CA of the API server double), the way the kubelet projects it.
 */
async function inClusterLaunch(
  dir: string,
  api: ApiServer,
): Promise<{ prefix: string[]; env: Record<string, string | undefined> }> {
  const sa = join(dir, 'serviceaccount');
  await mkdir(sa, { recursive: true });
  await writeFile(join(sa, 'token'), api.adminToken);
  await writeFile(join(sa, 'ca.crt'), api.caPem ?? '');
  const mountPoint = '/run/secrets/kubernetes.io/serviceaccount';
  const script = `mount -t tmpfs tmpfs /run && mkdir -p ${mountPoint} && mount --bind "$0" ${mountPoint} && exec "$@"`;
  return {
    prefix: ['-m', '--propagation', 'private', 'sh', '-c', script, sa, process.execPath],
    env: {
      KUBERNETES_SERVICE_HOST: '127.0.0.1',
      KUBERNETES_SERVICE_PORT: new URL(api.url).port,
      KUBECONFIG: undefined,
    },
  };
}

export async function startAgentWorld(options: {
  nodeName: string;
  device: string;
  /** extra agent flags */
  flags?: string[];
  /** extra environment for the agent process (the benchmark passes the DaemonSet's NODE_OPTIONS, MALLOC_ARENA_MAX) */
  env?: Record<string, string>;
  /**
   * Run the agent as in a pod: no --kubeconfig, KUBERNETES_SERVICE_HOST/PORT, and the service account mounted at its
   * real path in a private mount namespace of the agent alone (`unshare -m`; needs root, see canRunInCluster).
   */
  inCluster?: boolean;
}): Promise<AgentWorld> {
  const dir = await mkdtemp(join(tmpdir(), 'health-world-'));
  // unix socket paths must stay under 108 bytes
  const sockets = await shortTempDir('hw-');
  const node = await buildSimulatedNode('h100-hgx', join(dir, 'node'), { nodeName: options.nodeName });
  const api = await startApiServer({ featureGates: { DRADeviceTaints: true } });
  const stops: (() => Promise<void>)[] = [
    () => api.stop(),
    () => rm(dir, { recursive: true, force: true }),
    () => rm(sockets, { recursive: true, force: true }),
  ];
  const stop = async () => {
    for (const s of stops.splice(0).reverse()) await s().catch(() => undefined);
  };
  try {
    api.store.create('nodes', nodeObject(options.nodeName));
    const port = await freePort();
    const pluginDir = join(sockets, 'p');
    const registryDir = join(sockets, 'r');
    const cdiDir = join(dir, 'c');
    const stateDir = join(dir, 's');
    const access = options.inCluster ? await inClusterLaunch(dir, api) : undefined;
    const agent = spawn(
      access ? 'unshare' : process.execPath,
      [
        ...(access ? access.prefix : []),
        bundlePath('lockstep'),
        'agent',
        ...['--node-name', options.nodeName, ...(access ? [] : ['--kubeconfig', api.kubeconfigPath])],
        ...['--sysfs-root', node.sysfsRoot, '--dev-root', node.devRoot, '--nvidia-smi', node.nvidiaSmiPath],
        ...['--kmsg', node.kmsgPath, '--state-dir', stateDir],
        ...['--plugin-dir', pluginDir, '--plugin-registry-dir', registryDir, '--cdi-dir', cdiDir],
        ...['--http-address', `127.0.0.1:${port}`, '--log-level', 'warn'],
        ...(options.flags ?? []),
      ],
      { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...options.env, ...access?.env } },
    );
    stops.push(
      () =>
        new Promise<void>((resolve) => {
          if (agent.exitCode !== null || agent.signalCode !== null) return resolve();
          const timer = setTimeout(() => agent.kill('SIGKILL'), 5000);
          agent.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          agent.kill('SIGTERM');
        }),
    );
    // the node's kubelet: registers the plugin, prepares the pod's claim and runs the pod
    const kubelet = new KubeletEmulator({
      nodeName: options.nodeName,
      client: new KubeClient(loadKubeConfig({ kubeconfig: api.kubeconfigPath })),
      registryDir,
      cdiDirs: [cdiDir],
      pollMs: 50,
      retryMs: 100,
    });
    await kubelet.start();
    stops.push(() => kubelet.stop());
    const podName = 'worker';
    const pod = api.store.create(
      'pods',
      podObject({ name: podName, node: options.nodeName, claims: { gpu: 'worker-gpu' } }),
      {
        namespace: 'default',
      },
    );
    createAllocatedClaim(api, {
      name: 'worker-gpu',
      node: options.nodeName,
      results: [{ request: 'gpu', device: options.device }],
      reservedFor: [pod],
    });
    const readyzUrl = `http://127.0.0.1:${port}/readyz`;
    const readyBy = Date.now() + 60_000;
    for (;;) {
      const ready = (await fetchText(readyzUrl)).status === 200;
      const sliced = api.store
        .list('resourceslices')
        .some((s) => (s as unknown as ResourceSlice).spec.nodeName === options.nodeName);
      if (ready && sliced) break;
      if (Date.now() > readyBy || agent.exitCode !== null) {
        const why = (await fetchText(`${readyzUrl}?verbose`)).text.trim().replace(/\n/g, '; ');
        throw new Error(`the agent did not become ready (readyz: ${why || 'no answer'}; slices: ${sliced})`);
      }
      await sleep(50);
    }
    await kubelet.waitForPodRunning('default', podName, 30_000);
    return {
      api,
      node,
      kubelet,
      agent,
      pid: agent.pid ?? 0,
      stateDir,
      metricsUrl: `http://127.0.0.1:${port}/metrics`,
      readyzUrl,
      draSocket: join(pluginDir, 'dra.sock'),
      podName,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
