/**
 * The end-to-end story, shared by `npm run demo` (demo.ts) and the e2e test: a test cluster with two simulated
 * 8x H100 nodes whose kubelets run pods as real processes, a `lockstep agent` process per node, the StatefulSet
 * example (with a torch.distributed job standing in for vLLM), an XID on a member's GPU, and what follows. Each method
 * is one step that waits for what it expects (polling with a deadline) and throws with what it saw otherwise.
 */

import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CONDITION_DEVICES_HEALTHY, isLockstepTaintKey } from '../../src/contract/names.js';
import { PODS, RESOURCE_CLAIMS, RESOURCE_SLICES, resourcePath } from '../../src/kube/resources.js';
import type { Pod, ResourceClaim, ResourceSlice } from '../../src/kube/types.js';
import { AgentProcess } from '../cluster/agents.js';
import type { Workloads } from '../cluster/controllers/workloads.js';
import { startTestCluster, type TestCluster } from '../cluster/index.js';
import type { KubernetesVersion } from '../cluster/versions.js';
import { bundlePath } from '../support/build.js';
import { freePort } from '../support/ports.js';
import { baseManifest, ENGINE_CONTAINER, GROUP, NAMESPACE, workloadManifest } from './manifests.js';

const run = promisify(execFile);
const NODE_NAMES = ['gpu-node-1', 'gpu-node-2'] as const;
export const DRIVER = 'lockstep.dev';

export { AgentProcess };

export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export interface MemberDevice {
  pod: string;
  node: string;
  device: string;
  pciBusID: string;
  /** the GPU's UUID (slice attribute), what CDI gives the container as NVIDIA_VISIBLE_DEVICES */
  uuid: string;
  claim: string;
}

export class Story {
  readonly agents = new Map<string, AgentProcess>();
  /** every version of the group's pods the API server stored, in order (conditions that came and went included) */
  readonly podHistory: Pod[] = [];
  private readonly binDir: string;
  private readonly unsubscribe: () => void;

  private constructor(
    readonly cluster: TestCluster,
    readonly workloads: Workloads,
    readonly dir: string,
  ) {
    this.unsubscribe = cluster.apiServer.store.subscribe('pods', (_type, object) => {
      const pod = object as unknown as Pod;
      if (pod.metadata.namespace === NAMESPACE) this.podHistory.push(pod);
    });
    this.binDir = join(dir, 'bin');
    mkdirSync(this.binDir, { recursive: true });
    // kubectl finds plugins on PATH: kubectl-lockstep, the bundle from dist/
    const plugin = join(this.binDir, 'kubectl-lockstep');
    writeFileSync(plugin, `#!/bin/sh\nexec '${process.execPath}' '${bundlePath('kubectl-lockstep')}' "$@"\n`);
    chmodSync(plugin, 0o755);
  }

  /** The cluster (API server with device taints and graceful pod deletion, two h100-hgx nodes) and deploy/base. */
  /**
   * `version`: emulate that Kubernetes release in the API server and every kubelet (test/cluster/versions.ts), with its
   * own gate defaults; without it, the legacy server with device taints switched on.
   */
  static async start(dir: string, options: { podLogLevel?: string; version?: KubernetesVersion } = {}): Promise<Story> {
    const cluster = await startTestCluster({
      ...(options.version ? { version: options.version } : {}),
      apiServer: {
        tls: true,
        podGracefulDeletion: true,
        ...(options.version ? {} : { featureGates: { DRADeviceTaints: true } }),
        namespaces: [NAMESPACE],
      },
      workloads: {
        dir: join(dir, 'cluster'),
        nodes: NODE_NAMES.map((name) => ({ name, kind: 'h100-hgx' as const })),
        podEnv: {
          LOCKSTEP_LOG_LEVEL: options.podLogLevel ?? 'info',
          // torch's TCPStore listens on every address of the machine, not the pod's: a port of this run's own keeps
          // two runs on one machine apart (the coordinator hands it to the engines as MASTER_PORT)
          LOCKSTEP_MASTER_PORT: String(await freePort()),
        },
      },
    });
    const workloads = cluster.workloads;
    if (!workloads) throw new Error('the test cluster started without workloads');
    cluster.apiServer.store.apply(baseManifest());
    return new Story(cluster, workloads, dir);
  }

  get client() {
    return this.workloads.client;
  }

  get kubeconfig(): string {
    return this.cluster.kubeconfigPath;
  }

  /** One `lockstep agent` per node, with the node's sysfs, /dev, nvidia-smi, kernel log and kubelet directories. */
  async startAgents(): Promise<void> {
    for (const node of this.workloads.nodes) {
      const port = await freePort();
      const args = [
        ...node.agentArgs(),
        `--kubeconfig=${this.kubeconfig}`,
        `--http-address=127.0.0.1:${port}`,
        '--health-interval=1s',
      ];
      const agent = new AgentProcess(node.name, args, join(this.dir, `agent-${node.name}.log`), {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        LOCKSTEP_LOG_LEVEL: 'info',
      });
      agent.start();
      this.agents.set(node.name, agent);
    }
  }

  agent(node: string): AgentProcess {
    const agent = this.agents.get(node);
    if (!agent) throw new Error(`no agent on ${node}`);
    return agent;
  }

  async slices(node?: string): Promise<ResourceSlice[]> {
    const list = await this.client.get<{ items: ResourceSlice[] }>(resourcePath(RESOURCE_SLICES), {
      ...(node ? { fieldSelector: `spec.nodeName=${node}` } : {}),
    });
    return list.items;
  }

  /** Every node's GPUs are published (8 per node) and its plugin is registered with its kubelet. */
  async waitForSlices(timeoutMs = 60_000): Promise<Map<string, number>> {
    return until(
      'both nodes to publish 8 GPUs each and register their DRA plugin',
      async () => {
        const counts = new Map<string, number>();
        for (const node of this.workloads.nodes) {
          const gpus = (await this.slices(node.name))
            .flatMap((s) => (s.spec as { devices?: { name: string }[] }).devices ?? [])
            .filter((d) => d.name.startsWith('gpu-')).length;
          if (gpus !== 8 || !node.kubelet.pluginList().some((p) => p.driver === DRIVER)) return undefined;
          counts.set(node.name, gpus);
        }
        return counts;
      },
      timeoutMs,
    );
  }

  /** `kubectl apply` (the real kubectl) of the workload; returns kubectl's output. */
  async applyWorkload(): Promise<string> {
    const file = join(this.dir, 'workload.yaml');
    await writeFile(file, workloadManifest());
    const { stdout } = await run('kubectl', ['--kubeconfig', this.kubeconfig, 'apply', '-f', file]);
    return stdout;
  }

  /** The real kubectl against the cluster; its output (or its error text). */
  async kubectl(args: string[]): Promise<string> {
    const { stdout, stderr } = await run('kubectl', ['--kubeconfig', this.kubeconfig, ...args]).catch(
      (error: { stdout?: string; stderr?: string; message: string }) => ({
        stdout: error.stdout ?? '',
        stderr: error.stderr || error.message,
      }),
    );
    return stdout + stderr;
  }

  /** `kubectl lockstep …` through the real kubectl's plugin lookup. */
  async kubectlLockstep(args: string[]): Promise<string> {
    // kubectl wants the plugin's name first; the kubeconfig goes through $KUBECONFIG
    const { stdout, stderr } = await run('kubectl', ['lockstep', ...args], {
      env: { ...process.env, KUBECONFIG: this.kubeconfig, PATH: `${this.binDir}:${process.env.PATH}` },
    }).catch((error: { stdout?: string; stderr?: string; message: string }) => ({
      stdout: error.stdout ?? '',
      stderr: error.stderr || error.message,
    }));
    return stdout + (stderr ? stderr : '');
  }

  async pod(name: string): Promise<Pod | undefined> {
    try {
      return await this.client.get<Pod>(resourcePath(PODS, { namespace: NAMESPACE, name }));
    } catch {
      return undefined;
    }
  }

  async groupPods(): Promise<Pod[]> {
    const list = await this.client.get<{ items: Pod[] }>(resourcePath(PODS, { namespace: NAMESPACE }), {
      labelSelector: `app=${GROUP}`,
    });
    return list.items.sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''));
  }

  /** Where a pod runs now, and its engine's output. */
  engineLog(pod: Pod): Promise<string> {
    const node = (pod.spec as { nodeName?: string }).nodeName;
    const logs = node ? this.workloads.node(node).runner.logsDir(pod.metadata.uid ?? '') : undefined;
    return logs ? readFile(join(logs, `${ENGINE_CONTAINER}.log`), 'utf8').catch(() => '') : Promise.resolve('');
  }

  containerLog(pod: Pod, container: string): Promise<string> {
    const node = (pod.spec as { nodeName?: string }).nodeName;
    const logs = node ? this.workloads.node(node).runner.logsDir(pod.metadata.uid ?? '') : undefined;
    return logs ? readFile(join(logs, `${container}.log`), 'utf8').catch(() => '') : Promise.resolve('');
  }

  /** Both pods Running with every container ready (the readiness gate aside). */
  async waitForPodsRunning(timeoutMs: number): Promise<Pod[]> {
    return until(
      `${GROUP}-0 and ${GROUP}-1 running`,
      async () => {
        const pods = await this.groupPods();
        const live = pods.filter((p) => !p.metadata.deletionTimestamp);
        const ok =
          live.length === 2 &&
          live.every((p) =>
            (p.status?.conditions ?? []).some((c) => c.type === 'ContainersReady' && c.status === 'True'),
          );
        return ok ? live : undefined;
      },
      timeoutMs,
      250,
    );
  }

  /** Every member's engine printed an all-reduce with the full sum (1 + 2 for two members), after `sinceEpoch`. */
  async waitForAllReduce(timeoutMs: number, minEpoch = 0): Promise<Map<string, string>> {
    return until(
      `an all-reduce over both members (epoch ≥ ${minEpoch})`,
      async () => {
        const lines = new Map<string, string>();
        for (const pod of await this.groupPods()) {
          if (pod.metadata.deletionTimestamp) return undefined;
          const log = await this.engineLog(pod);
          const last = log
            .split('\n')
            .filter((l) => /^allreduce epoch=(\d+) rank=\d+\/2 step=\d+ sum=3$/.test(l))
            .filter((l) => Number(/epoch=(\d+)/.exec(l)?.[1]) >= minEpoch)
            .pop();
          if (!last) return undefined;
          lines.set(pod.metadata.name ?? '', last);
        }
        return lines.size === 2 ? lines : undefined;
      },
      timeoutMs,
      500,
    );
  }

  /**
   * How many complete all-reduces each member's engine printed so far (of the current pods; the container log is
   * appended to, so the count grows across engine restarts within one pod).
   */
  async allReduceSteps(): Promise<Map<string, number>> {
    const steps = new Map<string, number>();
    for (const pod of await this.groupPods()) {
      const matches = [...(await this.engineLog(pod)).matchAll(/^allreduce epoch=\d+ rank=\d+\/2 step=\d+ sum=3$/gm)];
      steps.set(pod.metadata.name ?? '', matches.length);
    }
    return steps;
  }

  /** The GPUs (NVIDIA_VISIBLE_DEVICES, from the CDI spec) the engine of a pod was last started with. */
  async engineGpus(podName: string): Promise<string | undefined> {
    const pod = await this.pod(podName);
    if (!pod) return undefined;
    const inits = [...(await this.engineLog(pod)).matchAll(/^init epoch=\d+ .* gpus=(\S*)$/gm)];
    return inits.length > 0 ? inits[inits.length - 1]?.[1] : undefined;
  }

  /** The epochs the engines of the current pods were started in (from their `init epoch=` lines). */
  async engineEpochs(): Promise<Map<string, number[]>> {
    const epochs = new Map<string, number[]>();
    for (const pod of await this.groupPods()) {
      const found = [...(await this.engineLog(pod)).matchAll(/^init epoch=(\d+) /gm)].map((m) => Number(m[1]));
      epochs.set(pod.metadata.name ?? '', found);
    }
    return epochs;
  }

  /** Every member's engine keeps all-reducing: each one does `by` more all-reduces than it had done. */
  async waitForProgress(before: Map<string, number>, by: number, timeoutMs: number): Promise<Map<string, number>> {
    return until(
      `every member's all-reduce to advance ${by} steps past ${JSON.stringify([...before])}`,
      async () => {
        const now = await this.allReduceSteps();
        return [...before].every(([pod, step]) => (now.get(pod) ?? -1) >= step + by) ? now : undefined;
      },
      timeoutMs,
      250,
    );
  }

  /** The group is Ready: the coordinator set lockstep.dev/GroupReady and the kubelet's Ready follows the gate. */
  async waitForGroupReady(timeoutMs: number): Promise<Pod[]> {
    return until(
      'lockstep.dev/GroupReady and Ready on both pods',
      async () => {
        const pods = (await this.groupPods()).filter((p) => !p.metadata.deletionTimestamp);
        const cond = (p: Pod, type: string) =>
          (p.status?.conditions ?? []).some((c) => c.type === type && c.status === 'True');
        return pods.length === 2 && pods.every((p) => cond(p, 'lockstep.dev/GroupReady') && cond(p, 'Ready'))
          ? pods
          : undefined;
      },
      timeoutMs,
      250,
    );
  }

  /** The GPU a member holds: from its ResourceClaim's allocation and the node's slice (pciBusID). */
  async memberGpu(podName: string): Promise<MemberDevice> {
    const pod = await this.pod(podName);
    if (!pod) throw new Error(`no pod ${podName}`);
    const claimName = pod.status?.resourceClaimStatuses?.find((s) => s.name === 'devices')?.resourceClaimName;
    if (!claimName) throw new Error(`pod ${podName} has no generated claim yet`);
    const claim = await this.client.get<ResourceClaim>(
      resourcePath(RESOURCE_CLAIMS, { namespace: NAMESPACE, name: claimName }),
    );
    const results =
      (claim.status as { allocation?: { devices?: { results?: { request: string; pool: string; device: string }[] } } })
        ?.allocation?.devices?.results ?? [];
    const gpu = results.find((r) => r.request === 'gpu');
    if (!gpu) throw new Error(`claim ${claimName} has no GPU allocated`);
    const slices = await this.slices(gpu.pool);
    const device = slices
      .flatMap(
        (s) =>
          (s.spec as { devices?: { name: string; attributes?: Record<string, { string?: string }> }[] }).devices ?? [],
      )
      .find((d) => d.name === gpu.device);
    const pciBusID =
      device?.attributes?.['resource.kubernetes.io/pciBusID']?.string ?? device?.attributes?.pciBusID?.string;
    if (!pciBusID) throw new Error(`device ${gpu.device} of ${gpu.pool} has no pciBusID attribute`);
    const uuid = device?.attributes?.['lockstep.dev/uuid']?.string ?? device?.attributes?.uuid?.string ?? '';
    return { pod: podName, node: gpu.pool, device: gpu.device, pciBusID, uuid, claim: claimName };
  }

  /** An XID line, as the NVIDIA driver writes it, in the node's kernel log. */
  async injectXid(member: MemberDevice, xid = 79): Promise<string> {
    const [domain, bus] = member.pciBusID.toLowerCase().split(':');
    const text = `NVRM: Xid (PCI:${domain}:${bus}:00): ${xid}, pid=0, name=python3, GPU has fallen off the bus.`;
    await this.workloads.node(member.node).node.appendKernelLog(text);
    return text;
  }

  /** The device is unhealthy in its slice (attribute healthy=false, and a lockstep taint of the fault's class). */
  async waitForDeviceUnhealthy(member: MemberDevice, timeoutMs: number): Promise<{ taint?: unknown }> {
    return until(
      `${member.node}/${member.device} unhealthy in its ResourceSlice`,
      async () => {
        for (const slice of await this.slices(member.node)) {
          const device = (
            slice.spec as {
              devices?: { name: string; attributes?: Record<string, { bool?: boolean }>; taints?: { key: string }[] }[];
            }
          ).devices?.find((d) => d.name === member.device);
          if (!device) continue;
          const healthy = device.attributes?.['lockstep.dev/healthy']?.bool ?? device.attributes?.healthy?.bool;
          const taint = device.taints?.find((t) => isLockstepTaintKey(t.key));
          if (healthy === false || taint) return { taint };
        }
        return undefined;
      },
      timeoutMs,
    );
  }

  /** The agent's pod reporter set lockstep.dev/DevicesHealthy on the pod holding the device. */
  async waitForDevicesHealthy(
    podName: string,
    status: 'True' | 'False',
    timeoutMs: number,
    uid?: string,
  ): Promise<string> {
    // from the pod's history: the coordinator may delete the pod right after the condition appears
    return until(
      `${CONDITION_DEVICES_HEALTHY}=${status} on ${podName}`,
      () => {
        for (const pod of this.podHistory) {
          if (pod.metadata.name !== podName || (uid && pod.metadata.uid !== uid)) continue;
          const condition = pod.status?.conditions?.find((c) => c.type === CONDITION_DEVICES_HEALTHY);
          if (condition?.status === status) return condition.message ?? condition.reason ?? status;
        }
        return undefined;
      },
      timeoutMs,
    );
  }

  /** The kubelet's view of the device through the plugin's health stream (NodeWatchResources, KEP-4680). */
  async waitForKubeletHealth(
    member: MemberDevice,
    health: 'Healthy' | 'Unhealthy',
    timeoutMs: number,
  ): Promise<string> {
    const kubelet = this.workloads.node(member.node).kubelet;
    return until(
      `the kubelet of ${member.node} to see ${member.device} ${health}`,
      () => (kubelet.deviceHealth(DRIVER, member.node, member.device) === health ? health : undefined),
      timeoutMs,
    );
  }

  /** The kubelet's allocatedResourcesStatus for the engine container says the device's health. */
  async waitForAllocatedHealth(podName: string, health: 'Healthy' | 'Unhealthy', timeoutMs: number): Promise<string> {
    return until(
      `allocatedResourcesStatus ${health} on ${podName}`,
      async () => {
        const pod = await this.pod(podName);
        const statuses =
          (
            pod?.status as
              | {
                  containerStatuses?: {
                    name: string;
                    allocatedResourcesStatus?: { resources: { resourceID: string; health: string }[] }[];
                  }[];
                }
              | undefined
          )?.containerStatuses ?? [];
        const engine = statuses.find((c) => c.name === ENGINE_CONTAINER);
        const hit = engine?.allocatedResourcesStatus
          ?.flatMap((r) => r.resources)
          .find((r) => r.health === health && /gpu/.test(r.resourceID));
        return hit ? `${hit.resourceID}: ${hit.health}` : undefined;
      },
      timeoutMs,
    );
  }

  /** `kubectl delete` of the StatefulSet, then every pod, claim, CDI spec and container process is gone. */
  async deleteWorkload(timeoutMs: number): Promise<void> {
    await run('kubectl', [
      '--kubeconfig',
      this.kubeconfig,
      'delete',
      'statefulset',
      GROUP,
      '-n',
      NAMESPACE,
      '--wait=false',
    ]);
    await until(
      "the group's pods, claims, CDI specs and processes to be gone",
      async () => {
        if ((await this.groupPods()).length > 0) return undefined;
        const left = await this.leftovers();
        return left.claims.length === 0 && left.cdiSpecs.length === 0 && left.processes.length === 0 ? true : undefined;
      },
      timeoutMs,
      250,
    );
  }

  /** The pod of that name was deleted and created again (a new UID), and is running. */
  async waitForPodReplaced(name: string, oldUid: string, timeoutMs: number): Promise<Pod> {
    return until(
      `${name} to be deleted and created again`,
      async () => {
        const pod = await this.pod(name);
        return pod && pod.metadata.uid !== oldUid && !pod.metadata.deletionTimestamp ? pod : undefined;
      },
      timeoutMs,
      250,
    );
  }

  /** Kills the coordinator sidecar's processes in the leader pod; the runtime starts it again (restartPolicy Always). */
  async killCoordinator(): Promise<number> {
    const leader = await this.pod(`${GROUP}-0`);
    const node = (leader?.spec as { nodeName?: string } | undefined)?.nodeName;
    if (!leader || !node) throw new Error('no leader pod');
    const runner = this.workloads.node(node).runner;
    const pid = runner.containerPid(leader.metadata.uid ?? '', 'lockstep-coordinator');
    if (!pid) throw new Error('the coordinator container is not running');
    process.kill(-pid, 'SIGKILL');
    return pid;
  }

  /** What is left behind: slices of stopped agents, CDI spec files, claims, and processes of pods. */
  async leftovers(): Promise<{ cdiSpecs: string[]; claims: string[]; processes: number[] }> {
    const cdiSpecs = this.workloads.nodes.flatMap((n) =>
      existsSync(n.cdiDir) ? readdirSync(n.cdiDir).map((f) => `${n.name}/${f}`) : [],
    );
    const claims = (
      await this.client.get<{ items: ResourceClaim[] }>(resourcePath(RESOURCE_CLAIMS, { namespace: NAMESPACE }))
    ).items.map((c) => c.metadata.name ?? '');
    const processes = [
      ...new Set([
        ...this.workloads.nodes.flatMap((n) => n.runner.allPids()).filter(alive),
        ...this.workloads.nodes.flatMap((n) => n.runner.strayProcesses()),
      ]),
    ];
    return { cdiSpecs, claims, processes };
  }

  async stop(): Promise<void> {
    this.unsubscribe();
    for (const agent of this.agents.values()) await agent.stop();
    await this.cluster.stop();
  }
}

/** The process group of a container (its first process and anything it started) still has a member. */
export function alive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}
