import type { Logger } from 'pino';
import type { Claim, NodeWatchResourcesResponse } from '../../../agent/kubeletplugin/protos.js';
import { isNotFound, type KubeClient } from '../../../src/kube/client.js';
import { Informer } from '../../../src/kube/informer.js';
import { EVENTS, PODS, RESOURCE_CLAIMS, RESOURCE_SLICES, resourcePath } from '../../../src/kube/resources.js';
import type { Pod, ResourceClaim } from '../../../src/kube/types.js';
import { silentLogger } from '../../../src/log.js';
import { type KubernetesVersion, versionProfile } from '../versions.js';
import { loadCdiRegistry } from './cdi-rules.js';
import { type DraPluginInfo, DraPlugins } from './dra-plugins.js';
import { DEFAULT_HEALTH_TIMEOUT_MS, HealthCache, type ResourceHealth } from './health-cache.js';
import {
  allocatedResourcesStatus,
  type ClaimDevice,
  containerCdiIds,
  type ExtendedResourceClaimStatus,
  extendedResourceClaimStatus,
  type PodContainer,
  type ResourceStatus,
  resolveClaimName,
} from './pod-status.js';
import { type RegistrationOutcome, RegistrationWatcher } from './registration-watcher.js';

/**
 * The kubelet of one simulated node, as far as DRA goes (see README.md): plugin registration, NodePrepareResources /
 * NodeUnprepareResources for the pods bound to the node, the device health stream and `allocatedResourcesStatus`,
 * ResourceSlice wiping, container restarts and pod deletion. It talks to the API only through the API (a KubeClient
 * from a kubeconfig), like the real kubelet.
 */
export interface KubeletEmulatorOptions {
  nodeName: string;
  client: KubeClient;
  /** the plugin registry directory it watches (the kubelet's /var/lib/kubelet/plugins_registry) */
  registryDir: string;
  /** CDI spec directories; when given, a container only starts if every CDI id prepare returned resolves in them */
  cdiDirs?: string[];
  /** slices of a driver are wiped this long after its last plugin disconnected (kubelet: 30 s) */
  wipeDelayMs?: number;
  /** wipe the node's slices at start (kubelet: always) */
  wipeOnStart?: boolean;
  /** NodeWatchResources is retried this often after it ends (kubelet: 5 s) */
  healthRetryMs?: number;
  /** a device not reported for this long reads Unknown, unless it carries its own timeout (kubelet: 30 s) */
  healthTimeoutMs?: number;
  /** include health messages (gate ResourceHealthStatusMessage, 1.36); default: the version's profile, else false */
  healthMessages?: boolean;
  /**
   * The kubelet's Kubernetes version: which health package it calls (1.37 v1, 1.36 v1beta1, 1.35 v1alpha1) and which
   * health gates are on. Without it: the 1.35 kubelet's v1alpha1 stream with the health gate on.
   */
  version?: KubernetesVersion;
  /** ResourceHealthStatus gate (open health streams); default: the version's profile, else true */
  resourceHealthStatus?: boolean;
  getInfoTimeoutMs?: number;
  /** per DRA call (kubelet: 45 s) */
  callTimeoutMs?: number;
  /** registry directory scan period */
  pollMs?: number;
  /** failed pod syncs (prepare, unprepare) are retried after this long */
  retryMs?: number;
  /** running pods' status is recomputed this often (health timeouts, readiness gates) */
  statusSyncMs?: number;
  hostIP?: string;
  podIP?: (pod: Pod) => string;
  /** runs the pods' containers as real processes (test/cluster/pods); without it, containers are pretend */
  containers?: ContainerRunner;
  log?: Logger;
  now?: () => number;
}

/** The container runtime seam: test/cluster/pods/runner.ts (PodRunner) implements it. */
interface ContainerRunner {
  /** after the pod's claims are prepared: starts its containers in the background */
  start(pod: Pod): Promise<void>;
  /** before its claims are unprepared: stops its containers (grace period, then SIGKILL) */
  stop(uid: string, gracePeriodSeconds?: number): Promise<void>;
  /** what the runtime knows of the pod's status, undefined for a pod it does not run */
  status(uid: string):
    | {
        phase: string;
        podIP: string;
        initialized: boolean;
        containersReady: boolean;
        initContainerStatuses: Record<string, unknown>[];
        containerStatuses: Record<string, unknown>[];
      }
    | undefined;
}

interface ContainerRuntime {
  name: string;
  restartCount: number;
  startedAt: string;
  lastState?: {
    terminated: { exitCode: number; reason: string; startedAt: string; finishedAt: string; containerID: string };
  };
}

export interface PodRuntime {
  uid: string;
  namespace: string;
  name: string;
  phase: 'Pending' | 'Running' | 'Terminating';
  lastError?: string;
  startTime?: string;
  containers: Map<string, ContainerRuntime>;
  /** ResourceClaim names this pod uses (for unprepare) */
  claimNames: string[];
  /** pod claim name → ResourceClaim name */
  podClaims: Map<string, string>;
  /** the claim made for the pod's extended resources (status.extendedResourceClaimStatus), once prepared */
  extendedClaim?: ExtendedResourceClaimStatus;
  lastStatus?: string;
  lastEventMessage?: string;
}

export interface ClaimInfo {
  namespace: string;
  name: string;
  uid: string;
  drivers: string[];
  devices: ClaimDevice[];
  podUIDs: Set<string>;
  prepared: boolean;
}

export class KubeletEmulator {
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly client: KubeClient;
  private readonly pods: Informer<Pod>;
  private readonly health: HealthCache;
  private readonly healthMessages: boolean;
  readonly plugins: DraPlugins;
  private readonly watcher: RegistrationWatcher;
  private readonly runtimes = new Map<string, PodRuntime>();
  private readonly claimInfos = new Map<string, ClaimInfo>();
  private readonly dirty = new Set<string>();
  private readonly retryTimers = new Map<string, NodeJS.Timeout>();
  private worker: Promise<void> | undefined;
  private statusTimer: NodeJS.Timeout | undefined;
  private running = false;
  private readonly wipes: Promise<void>[] = [];
  readonly stats = { prepareCalls: 0, unprepareCalls: 0, statusWrites: 0, wipes: 0 };

  constructor(private readonly options: KubeletEmulatorOptions) {
    this.log = (options.log ?? silentLogger()).child({ component: 'kubelet', node: options.nodeName });
    this.now = options.now ?? Date.now;
    this.client = options.client;
    this.health = new HealthCache(this.now, options.healthTimeoutMs ?? DEFAULT_HEALTH_TIMEOUT_MS);
    const profile = options.version ? versionProfile(options.version) : undefined;
    this.healthMessages = options.healthMessages ?? profile?.kubelet.healthMessages ?? false;
    this.pods = new Informer<Pod>(this.client, {
      type: PODS,
      fieldSelector: `spec.nodeName=${options.nodeName}`,
      log: this.log,
      backoff: { initialMs: 50, maxMs: 2000 },
    });
    this.plugins = new DraPlugins({
      callTimeoutMs: options.callTimeoutMs,
      healthRetryMs: options.healthRetryMs,
      wipeDelayMs: options.wipeDelayMs,
      healthServices: profile?.kubelet.healthServices ?? 'legacy',
      resourceHealthStatus: options.resourceHealthStatus ?? profile?.kubelet.resourceHealthStatus ?? true,
      onWipe: (driver) => this.wipe(driver),
      onHealth: (driver, message) => this.onHealth(driver, message),
      onHealthStreamEnd: (driver) => {
        this.health.clearDriver(driver);
        this.markRunningDirty();
      },
      log: this.log,
      now: this.now,
    });
    this.watcher = new RegistrationWatcher({
      dir: options.registryDir,
      handlers: { DRAPlugin: this.plugins },
      pollMs: options.pollMs,
      getInfoTimeoutMs: options.getInfoTimeoutMs,
      log: this.log,
      now: this.now,
    });
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    // Like the kubelet: no driver is usable before it registers, so the node's slices go first.
    if (this.options.wipeOnStart !== false) await this.wipe(undefined);
    this.pods.on((_type, pod) => this.markDirty(pod.metadata.uid ?? ''));
    this.pods.start();
    await this.pods.synced();
    this.watcher.start();
    this.statusTimer = setInterval(() => this.markRunningDirty(), this.options.statusSyncMs ?? 1000);
    this.statusTimer.unref();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearInterval(this.statusTimer);
    for (const timer of this.retryTimers.values()) clearTimeout(timer);
    this.retryTimers.clear();
    await this.watcher.stop();
    this.plugins.stop();
    await this.pods.stop();
    await this.worker;
    await Promise.allSettled(this.wipes);
  }

  // ---------- what tests look at ----------

  registrations(): RegistrationOutcome[] {
    return this.watcher.outcomes();
  }

  pluginList(): DraPluginInfo[] {
    return this.plugins.list();
  }

  pod(namespace: string, name: string): PodRuntime | undefined {
    return [...this.runtimes.values()].find((runtime) => runtime.namespace === namespace && runtime.name === name);
  }

  claim(namespace: string, name: string): ClaimInfo | undefined {
    return this.claimInfos.get(`${namespace}/${name}`);
  }

  /**
   * The CDI ids the container runtime injects into one container of a running pod: the devices of the claims (and
   * requests) its `resources.claims` names, and of the requests its extended resources map to (the kubelet's
   * GetResources).
   */
  containerCdiIds(namespace: string, podName: string, container: PodContainer): string[] {
    const runtime = this.pod(namespace, podName);
    if (!runtime) return [];
    return containerCdiIds(
      container,
      (claimName) => this.claimInfos.get(`${namespace}/${claimName}`)?.devices,
      runtime.podClaims,
      runtime.extendedClaim,
    );
  }

  deviceHealth(driver: string, pool: string, device: string): ResourceHealth {
    return this.health.get(driver, pool, device).health;
  }

  /** The container runtime saw a change in the pod (a container started or exited): write its status soon. */
  podChanged(uid: string): void {
    this.markDirty(uid);
  }

  /** Scans the registry directory now instead of at the next poll. */
  scanRegistry(): Promise<void> {
    return this.watcher.scanNow();
  }

  /** Resolves when the predicate holds (checked every 20 ms); rejects after timeoutMs with the pod's last error. */
  async waitFor(what: string, predicate: () => boolean, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      if (Date.now() > deadline) throw new Error(`kubelet ${this.options.nodeName}: timed out waiting for ${what}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  async waitForPodRunning(namespace: string, name: string, timeoutMs = 10_000): Promise<PodRuntime> {
    await this.waitFor(
      `pod ${namespace}/${name} running (last error: ${this.pod(namespace, name)?.lastError ?? 'none'})`,
      () =>
        this.pod(namespace, name)?.phase === 'Running' &&
        this.pod(namespace, name)?.lastStatus !== undefined &&
        !this.dirtyPod(namespace, name),
      timeoutMs,
    );
    return this.pod(namespace, name) as PodRuntime;
  }

  /**
   * Calls NodePrepareResources again for a running pod's claims, as a kubelet may (FACTS.md §2), and checks the plugin
   * answers exactly as the first time. Throws when it does not.
   */
  async repeatPrepare(namespace: string, name: string): Promise<void> {
    const runtime = this.pod(namespace, name);
    if (!runtime) throw new Error(`no pod ${namespace}/${name} on ${this.options.nodeName}`);
    for (const claimName of runtime.claimNames) {
      const info = this.claimInfos.get(`${namespace}/${claimName}`);
      if (!info) continue;
      for (const driver of info.drivers) {
        const plugin = this.plugins.get(driver);
        if (!plugin) throw new Error(`DRA driver ${driver} is not registered`);
        this.stats.prepareCalls++;
        const response = await plugin.prepare([{ namespace, uid: info.uid, name: info.name }]);
        const result = response.claims?.[info.uid];
        if (!result) throw new Error(`NodePrepareResources skipped 1 ResourceClaims`);
        if (result.error)
          throw new Error(`NodePrepareResources failed for ResourceClaim ${info.name}: ${result.error}`);
        const again = (result.devices ?? []).map((device) => ({
          driver,
          pool: device.poolName,
          device: device.deviceName,
          requestNames: device.requestNames ?? [],
          cdiIds: device.cdiDeviceIds ?? [],
        }));
        const before = info.devices.filter((device) => device.driver === driver);
        if (JSON.stringify(again) !== JSON.stringify(before)) {
          throw new Error(
            `NodePrepareResources is not deterministic for ResourceClaim ${info.name}: first ${JSON.stringify(before)}, now ${JSON.stringify(again)}`,
          );
        }
      }
    }
  }

  /** The container exits and the kubelet starts it again (restartPolicy Always): restartCount and lastState. */
  async restartContainer(
    namespace: string,
    name: string,
    container: string,
    exit: { exitCode?: number; reason?: string } = {},
  ): Promise<void> {
    const runtime = this.pod(namespace, name);
    const state = runtime?.containers.get(container);
    if (!runtime || !state)
      throw new Error(`no running container ${container} in pod ${namespace}/${name} on ${this.options.nodeName}`);
    const now = new Date(this.now()).toISOString();
    state.lastState = {
      terminated: {
        exitCode: exit.exitCode ?? 1,
        reason: exit.reason ?? 'Error',
        startedAt: state.startedAt,
        finishedAt: now,
        containerID: containerId(runtime, container, state.restartCount),
      },
    };
    state.restartCount++;
    state.startedAt = now;
    this.markDirty(runtime.uid);
    await this.waitFor(`status of ${namespace}/${name} written`, () => !this.dirty.has(runtime.uid) && !this.worker);
  }

  // ---------- the sync loop ----------

  private dirtyPod(namespace: string, name: string): boolean {
    const runtime = this.pod(namespace, name);
    return runtime !== undefined && this.dirty.has(runtime.uid);
  }

  private markRunningDirty(): void {
    for (const runtime of this.runtimes.values()) if (runtime.phase === 'Running') this.markDirty(runtime.uid);
  }

  private markDirty(uid: string): void {
    if (!uid || !this.running) return;
    this.dirty.add(uid);
    if (!this.worker) this.worker = this.work().finally(() => (this.worker = undefined));
  }

  private async work(): Promise<void> {
    while (this.dirty.size > 0 && this.running) {
      const [uid] = this.dirty;
      if (uid === undefined) break;
      this.dirty.delete(uid);
      try {
        await this.syncPod(uid);
        const runtime = this.runtimes.get(uid);
        if (runtime) delete runtime.lastError;
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        const runtime = this.runtimes.get(uid);
        if (runtime) {
          runtime.lastError = message;
          await this.reportFailure(runtime, message).catch(() => undefined);
        }
        this.log.warn({ uid, error: message }, 'pod sync failed; will retry');
        clearTimeout(this.retryTimers.get(uid));
        this.retryTimers.set(
          uid,
          setTimeout(() => {
            this.retryTimers.delete(uid);
            this.markDirty(uid);
          }, this.options.retryMs ?? 500),
        );
      }
    }
  }

  private findPod(uid: string): Pod | undefined {
    return this.pods.list().find((pod) => pod.metadata.uid === uid);
  }

  private async syncPod(uid: string): Promise<void> {
    const pod = this.findPod(uid);
    const runtime = this.runtimes.get(uid);
    if (!pod) {
      // Gone from the API (deleted without grace): containers are gone, claims are unprepared.
      if (runtime) {
        await this.options.containers?.stop(uid);
        await this.unprepare(runtime);
        this.runtimes.delete(uid);
      }
      return;
    }
    const phase = pod.status?.phase;
    if (phase === 'Succeeded' || phase === 'Failed') return;
    const current = runtime ?? this.newRuntime(pod);
    if (pod.metadata.deletionTimestamp) {
      current.phase = 'Terminating';
      await this.options.containers?.stop(
        uid,
        (pod.metadata as { deletionGracePeriodSeconds?: number }).deletionGracePeriodSeconds,
      );
      await this.unprepare(current);
      this.runtimes.delete(uid);
      // Graceful deletion ends with the kubelet's delete with grace 0.
      await this.client
        .delete(resourcePath(PODS, { namespace: current.namespace, name: current.name }), undefined, {
          apiVersion: 'v1',
          kind: 'DeleteOptions',
          gracePeriodSeconds: 0,
          preconditions: { uid },
        })
        .catch((error: unknown) => {
          if (!isNotFound(error)) throw error;
        });
      return;
    }
    if (current.phase === 'Pending') {
      await this.prepare(pod, current);
      await this.checkCdi(current);
      const now = new Date(this.now()).toISOString();
      current.startTime ??= now;
      for (const container of pod.spec.containers) {
        current.containers.set(container.name, { name: container.name, restartCount: 0, startedAt: now });
      }
      current.phase = 'Running';
      await this.options.containers?.start(pod);
    }
    await this.writeStatus(pod, current);
  }

  private newRuntime(pod: Pod): PodRuntime {
    const runtime: PodRuntime = {
      uid: pod.metadata.uid ?? '',
      namespace: pod.metadata.namespace ?? 'default',
      name: pod.metadata.name ?? '',
      phase: 'Pending',
      containers: new Map(),
      claimNames: [],
      podClaims: new Map(),
    };
    this.runtimes.set(runtime.uid, runtime);
    return runtime;
  }

  // ---------- prepare / unprepare (pkg/kubelet/cm/dra/manager.go) ----------

  private async prepare(pod: Pod, runtime: PodRuntime): Promise<void> {
    const validated: { claim: ResourceClaim; podClaim: string }[] = [];
    const validate = async (name: string, generated: boolean): Promise<ResourceClaim> => {
      let claim: ResourceClaim;
      try {
        claim = await this.client.get<ResourceClaim>(
          resourcePath(RESOURCE_CLAIMS, { namespace: runtime.namespace, name }),
        );
      } catch (error) {
        throw new Error(`fetch ResourceClaim ${name}: ${error instanceof Error ? error.message : String(error)}`);
      }
      if (generated && !(claim.metadata.ownerReferences ?? []).some((owner) => owner.uid === runtime.uid)) {
        throw new Error(`ResourceClaim ${name} was not created for pod ${runtime.name} (pod is not owner)`);
      }
      const reserved =
        (claim.status as { reservedFor?: { resource?: string; name?: string; uid?: string }[] } | undefined)
          ?.reservedFor ?? [];
      if (!reserved.some((ref) => ref.resource === 'pods' && ref.uid === runtime.uid)) {
        throw new Error(
          `pod ${runtime.name} (${runtime.uid}) is not allowed to use ResourceClaim ${name} (${claim.metadata.uid})`,
        );
      }
      for (const driver of new Set(claimResults(claim).map((result) => result.driver))) {
        if (!this.plugins.get(driver)) throw new Error(`DRA driver ${driver} is not registered`);
      }
      return claim;
    };
    // Validation pass first, nothing cached: a pod that fails here can be deleted without unprepare.
    for (const entry of pod.spec.resourceClaims ?? []) {
      const resolved = resolveClaimName(pod, entry.name);
      if ('none' in resolved) continue;
      if ('missing' in resolved) throw new Error(resolved.missing);
      const claim = await validate(resolved.name, resolved.generated);
      runtime.podClaims.set(entry.name, resolved.name);
      validated.push({ claim, podClaim: entry.name });
    }
    // The claim scheduler-lite (kube-scheduler) made for the pod's extended resources is prepared like a pod claim
    // it generated: the pod must own it and be among its reservedFor.
    const extended = extendedResourceClaimStatus(pod);
    if (extended) {
      const claim = await validate(extended.resourceClaimName, true);
      runtime.extendedClaim = extended;
      validated.push({ claim, podClaim: '' });
    }

    const batches = new Map<string, Claim[]>();
    for (const { claim } of validated) {
      const key = `${claim.metadata.namespace}/${claim.metadata.name}`;
      let info = this.claimInfos.get(key);
      if (!info) {
        const results = claimResults(claim);
        info = {
          namespace: claim.metadata.namespace ?? runtime.namespace,
          name: claim.metadata.name ?? '',
          uid: claim.metadata.uid ?? '',
          drivers: [...new Set(results.map((result) => result.driver))],
          devices: [],
          podUIDs: new Set(),
          prepared: false,
        };
        this.claimInfos.set(key, info);
      } else if (info.uid !== claim.metadata.uid) {
        throw new Error(
          `old ResourceClaim with same name ${info.name} and different UID ${info.uid} still exists (previous pod force-deleted?!)`,
        );
      }
      info.podUIDs.add(runtime.uid);
      if (!runtime.claimNames.includes(info.name)) runtime.claimNames.push(info.name);
      if (info.prepared) continue;
      addToDriverBatches(batches, info);
    }

    for (const [driver, claims] of batches) {
      const plugin = this.plugins.get(driver);
      if (!plugin) throw new Error(`DRA driver ${driver} is not registered`);
      this.stats.prepareCalls++;
      let response: Awaited<ReturnType<typeof plugin.prepare>>;
      try {
        response = await plugin.prepare(claims);
      } catch (error) {
        throw new Error(`NodePrepareResources: ${error instanceof Error ? error.message : String(error)}`);
      }
      for (const [uid, result] of Object.entries(response.claims ?? {})) {
        const requested = claims.find((claim) => claim.uid === uid);
        if (!requested) throw new Error(`NodePrepareResources returned result for unknown claim UID ${uid}`);
        if (result.error)
          throw new Error(`NodePrepareResources failed for ResourceClaim ${requested.name}: ${result.error}`);
        const info = this.claimInfos.get(`${requested.namespace}/${requested.name}`);
        if (!info) continue;
        // Repeated calls must be deterministic: replace, never append twice.
        info.devices = info.devices.filter((device) => device.driver !== driver);
        for (const device of result.devices ?? []) {
          info.devices.push({
            driver,
            pool: device.poolName,
            device: device.deviceName,
            requestNames: device.requestNames ?? [],
            cdiIds: device.cdiDeviceIds ?? [],
          });
        }
      }
      const unfinished = claims.length - Object.keys(response.claims ?? {}).length;
      if (unfinished !== 0) throw new Error(`NodePrepareResources skipped ${unfinished} ResourceClaims`);
    }
    for (const { claim } of validated) {
      const info = this.claimInfos.get(`${claim.metadata.namespace}/${claim.metadata.name}`);
      if (info) info.prepared = true;
    }
  }

  private async unprepare(runtime: PodRuntime): Promise<void> {
    const batches = new Map<string, Claim[]>();
    const done: ClaimInfo[] = [];
    for (const name of runtime.claimNames) {
      const info = this.claimInfos.get(`${runtime.namespace}/${name}`);
      if (!info) continue;
      if (info.podUIDs.size > 1) {
        info.podUIDs.delete(runtime.uid);
        continue;
      }
      done.push(info);
      addToDriverBatches(batches, info);
    }
    for (const [driver, claims] of batches) {
      const plugin = this.plugins.get(driver);
      if (!plugin) throw new Error(`DRA driver ${driver} is not registered`);
      this.stats.unprepareCalls++;
      let response: Awaited<ReturnType<typeof plugin.unprepare>>;
      try {
        response = await plugin.unprepare(claims);
      } catch (error) {
        throw new Error(`NodeUnprepareResources: ${error instanceof Error ? error.message : String(error)}`);
      }
      for (const [uid, result] of Object.entries(response.claims ?? {})) {
        const requested = claims.find((claim) => claim.uid === uid);
        if (!requested) throw new Error(`NodeUnprepareResources returned result for unknown claim UID ${uid}`);
        if (result.error)
          throw new Error(`NodeUnprepareResources failed for ResourceClaim ${requested.name}: ${result.error}`);
      }
      const unfinished = claims.length - Object.keys(response.claims ?? {}).length;
      if (unfinished !== 0) throw new Error(`NodeUnprepareResources skipped ${unfinished} ResourceClaims`);
    }
    for (const info of done) this.claimInfos.delete(`${info.namespace}/${info.name}`);
    runtime.claimNames = [];
    delete runtime.extendedClaim;
  }

  /** The runtime resolves every CDI id at container creation; an unknown one fails the container. */
  private async checkCdi(runtime: PodRuntime): Promise<void> {
    if (!this.options.cdiDirs) return;
    const ids = runtime.claimNames.flatMap(
      (name) => this.claimInfos.get(`${runtime.namespace}/${name}`)?.devices.flatMap((device) => device.cdiIds) ?? [],
    );
    if (ids.length === 0) return;
    const registry = await loadCdiRegistry(this.options.cdiDirs);
    const unresolved = ids.filter((id) => !registry.devices.has(id));
    if (unresolved.length > 0) {
      throw new Error(
        `failed to inject CDI devices: unresolvable CDI devices ${unresolved.join(', ')}${registry.problems.length ? ` (spec problems: ${registry.problems.join('; ')})` : ''}`,
      );
    }
  }

  // ---------- health ----------

  private onHealth(driver: string, message: NodeWatchResourcesResponse): void {
    const changed = this.health.update(driver, message.devices ?? []);
    if (changed.length === 0) return;
    for (const runtime of this.runtimes.values()) {
      const uses = runtime.claimNames.some((name) =>
        this.claimInfos
          .get(`${runtime.namespace}/${name}`)
          ?.devices.some((device) =>
            changed.some((c) => c.driver === device.driver && c.pool === device.pool && c.device === device.device),
          ),
      );
      if (uses) this.markDirty(runtime.uid);
    }
  }

  // ---------- pod status ----------

  private containerStatuses(pod: Pod, runtime: PodRuntime): Record<string, unknown>[] {
    return pod.spec.containers.map((spec) => {
      const container = spec as PodContainer;
      const state = runtime.containers.get(container.name);
      const status: Record<string, unknown> = {
        name: container.name,
        image: container.image ?? '',
        imageID: '',
        containerID: state ? containerId(runtime, container.name, state.restartCount) : undefined,
        ready: state !== undefined,
        started: state !== undefined,
        restartCount: state?.restartCount ?? 0,
        state: state ? { running: { startedAt: state.startedAt } } : { waiting: { reason: 'ContainerCreating' } },
      };
      if (state?.lastState) status.lastState = state.lastState;
      const resources: ResourceStatus[] = allocatedResourcesStatus(
        container,
        (podClaim) => {
          const claimName = runtime.podClaims.get(podClaim);
          return claimName ? this.claimInfos.get(`${runtime.namespace}/${claimName}`)?.devices : undefined;
        },
        (driver, pool, device) => this.health.get(driver, pool, device),
        this.healthMessages,
      );
      if (resources.length > 0) status.allocatedResourcesStatus = resources;
      if (status.containerID === undefined) delete status.containerID;
      return status;
    });
  }

  private async writeStatus(pod: Pod, runtime: PodRuntime): Promise<void> {
    const running = runtime.phase === 'Running';
    const gates = ((pod.spec as { readinessGates?: { conditionType: string }[] }).readinessGates ?? []).map(
      (gate) => gate.conditionType,
    );
    const gatesOpen = gates.every((type) =>
      pod.status?.conditions?.some((condition) => condition.type === type && condition.status === 'True'),
    );
    const ready = running && gatesOpen;
    const condition = (type: string, ok: boolean, reason?: string) => ({
      type,
      status: ok ? 'True' : 'False',
      ...(reason && !ok ? { reason } : {}),
    });
    const hostIP = this.options.hostIP ?? '127.0.0.1';
    const status = {
      phase: running ? 'Running' : 'Pending',
      hostIP,
      hostIPs: [{ ip: hostIP }],
      podIP: this.options.podIP?.(pod) ?? hostIP,
      startTime: runtime.startTime,
      conditions: [
        condition('PodReadyToStartContainers', true),
        condition('Initialized', true),
        condition('ContainersReady', running, 'ContainersNotReady'),
        condition('Ready', ready, running ? 'ReadinessGatesNotReady' : 'ContainersNotReady'),
      ],
      initContainerStatuses: initContainerStatuses(pod, runtime),
      containerStatuses: this.containerStatuses(pod, runtime),
    };
    const real = this.options.containers?.status(runtime.uid);
    if (real) {
      // Real processes: phase, IP, conditions and container states are the runtime's; DRA health stays ours.
      const health = new Map(status.containerStatuses.map((c) => [c.name, c.allocatedResourcesStatus]));
      const ok = real.containersReady;
      status.phase = real.phase;
      status.podIP = real.podIP;
      status.conditions = [
        condition('PodReadyToStartContainers', true),
        condition('Initialized', real.initialized, 'ContainersNotInitialized'),
        condition('ContainersReady', ok, 'ContainersNotReady'),
        condition('Ready', ok && gatesOpen, ok ? 'ReadinessGatesNotReady' : 'ContainersNotReady'),
      ];
      status.initContainerStatuses = real.initContainerStatuses;
      status.containerStatuses = real.containerStatuses.map((c) => {
        const allocated = health.get(c.name as string);
        return allocated ? { ...c, allocatedResourcesStatus: allocated } : c;
      });
    }
    const text = JSON.stringify(status);
    if (text === runtime.lastStatus) return;
    // Strategic merge: conditions merge by type, so conditions others set (PodScheduled, lockstep.dev/…) stay.
    const stamp = new Date(this.now()).toISOString();
    const previous = new Map((pod.status?.conditions ?? []).map((c) => [c.type, c]));
    const conditions = status.conditions.map((c) => {
      const before = previous.get(c.type) as { status?: string; lastTransitionTime?: string } | undefined;
      return {
        ...c,
        lastProbeTime: null,
        lastTransitionTime: before?.status === c.status ? (before.lastTransitionTime ?? stamp) : stamp,
      };
    });
    await this.client.patch(
      resourcePath(PODS, { namespace: runtime.namespace, name: runtime.name, subresource: 'status' }),
      { status: { ...status, conditions } },
      'strategic',
    );
    this.stats.statusWrites++;
    runtime.lastStatus = text;
  }

  /** Pending with the reason, and one Warning Event per distinct error (FailedPrepareDynamicResources and co.). */
  private async reportFailure(runtime: PodRuntime, message: string): Promise<void> {
    if (runtime.lastEventMessage === message) return;
    runtime.lastEventMessage = message;
    const reason = /NodePrepareResources|DRA driver|ResourceClaim|CDI/.test(message)
      ? 'FailedPrepareDynamicResources'
      : 'FailedSync';
    const now = new Date(this.now()).toISOString();
    await this.client.create(resourcePath(EVENTS, { namespace: runtime.namespace }), {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { generateName: `${runtime.name}.`, namespace: runtime.namespace },
      involvedObject: {
        apiVersion: 'v1',
        kind: 'Pod',
        name: runtime.name,
        namespace: runtime.namespace,
        uid: runtime.uid,
      },
      reason,
      message,
      type: 'Warning',
      source: { component: 'kubelet', host: this.options.nodeName },
      reportingComponent: 'kubelet',
      reportingInstance: this.options.nodeName,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    });
  }

  // ---------- slices ----------

  /** DeleteCollection of the node's slices (of one driver, or all), retried until it works or we stop. */
  private wipe(driver: string | undefined): Promise<void> {
    const selector = `spec.nodeName=${this.options.nodeName}${driver ? `,spec.driver=${driver}` : ''}`;
    const run = (async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          await this.client.delete(resourcePath(RESOURCE_SLICES), { fieldSelector: selector });
          this.stats.wipes++;
          this.log.info({ fieldSelector: selector }, 'deleted ResourceSlices');
          return;
        } catch (error) {
          if (isNotFound(error)) return;
          if (!this.running && attempt > 0) return;
          await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 100 * 2 ** attempt)));
        }
      }
    })();
    this.wipes.push(run);
    return run;
  }
}

interface AllocationResultShape {
  driver: string;
  pool: string;
  device: string;
  request: string;
}

function claimResults(claim: ResourceClaim): AllocationResultShape[] {
  const status = claim.status as { allocation?: { devices?: { results?: AllocationResultShape[] } } } | undefined;
  return status?.allocation?.devices?.results ?? [];
}

function containerId(runtime: PodRuntime, container: string, restart: number): string {
  return `emulated://${runtime.uid}/${container}/${restart}`;
}

function initContainerStatuses(pod: Pod, runtime: PodRuntime): Record<string, unknown>[] {
  const inits =
    (pod.spec as { initContainers?: { name: string; image?: string; restartPolicy?: string }[] }).initContainers ?? [];
  const at = runtime.startTime ?? new Date(0).toISOString();
  return inits.map((init) =>
    init.restartPolicy === 'Always'
      ? {
          name: init.name,
          image: init.image ?? '',
          imageID: '',
          ready: true,
          started: true,
          restartCount: 0,
          state: { running: { startedAt: at } },
        }
      : {
          name: init.name,
          image: init.image ?? '',
          imageID: '',
          ready: true,
          restartCount: 0,
          state: { terminated: { exitCode: 0, reason: 'Completed', startedAt: at, finishedAt: at } },
        },
  );
}

/** The kubelet calls each driver once per pod with all of that driver's claims: group the claim by its drivers. */
function addToDriverBatches(batches: Map<string, Claim[]>, info: ClaimInfo): void {
  for (const driver of info.drivers) {
    const batch = batches.get(driver) ?? [];
    batch.push({ namespace: info.namespace, uid: info.uid, name: info.name });
    batches.set(driver, batch);
  }
}
