import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { errorMessage } from '../src/errors.js';
import type { KubeClient } from '../src/kube/client.js';
import { LeaseHolder, nodeLeaseName } from '../src/kube/lease.js';
import { RESOURCE_SLICES, resourcePath } from '../src/kube/resources.js';
import type { DeviceTaintEffect, KubeList, ResourceSlice } from '../src/kube/types.js';
import { componentLogger, silentLogger } from '../src/log.js';
import { VERSION } from '../src/version.js';
import { DEVICE_TYPES, type DeviceType, keepDeviceTypes } from './discovery/device-types.js';
import type { Inventory } from './discovery/inventory.js';
import {
  type DeviceAliases,
  isLegacyName,
  legacyNamesInCheckpoint,
  loadOrFreezeAliases,
} from './discovery/legacy-names.js';
import { readInterfaceAddresses } from './discovery/net-addresses.js';
import { excludeNics, type NicExclusion } from './discovery/nic-exclude.js';
import { numaNodeLists, readNumaNodes } from './discovery/numa.js';
import { RescanLoop } from './discovery/rescan.js';
import { scanInventory } from './discovery/scan.js';
import { SysfsReader } from './discovery/sysfs-read.js';
import { DeviceHealthBoard } from './health/board.js';
import { HealthManager } from './health/manager.js';
import { ApiClaimReader } from './kubelet/claim-reader.js';
import { KubeletPluginManager } from './kubelet/plugin.js';
import { AgentMetrics } from './metrics/registry.js';
import { AgentHttpServer } from './metrics/server.js';
import { SlicePublisher, type TaintMode } from './slices/publisher.js';

/**
 * `lockstep agent`: the node agent as a list of managers, each a long-running concern with start()/stop(). They
 * start in list order (discovery first, so everything after it has an inventory) and stop in reverse. To add one,
 * construct it in the constructor and append it to `managers`.
 */
export interface Manager {
  readonly name: string;
  start(): Promise<void> | void;
  stop(): Promise<void> | void;
}

export interface AgentOptions {
  nodeName: string;
  driverName: string;
  client: KubeClient;
  sysfsRoot: string;
  devRoot: string;
  nvidiaSmi: string;
  nvidiaSmiTimeoutMs: number;
  /**
   * The host's driver root as resolved (--driver-root, agent/discovery/driver-root.ts): libnvidia-ml.so.1's directory
   * for nvidia-smi's library path, and what is missing there. Left out: nvidia-smi runs as given, nothing reported.
   */
  driverRoot?: { root: string; libraryDir?: string; found: boolean; problem?: string };
  rescanIntervalMs: number;
  /** the kinds of device this agent serves (--device-types); all when unset */
  deviceTypes?: readonly DeviceType[];
  /** NICs not to serve (--nic-exclude): management ports */
  nicExclude?: readonly NicExclusion[];
  /** rescan when these directories change (udev's database, `/run/udev/data`); missing ones are skipped */
  rescanWatchDirs?: string[];
  taintEffect: DeviceTaintEffect;
  deviceTaints?: TaintMode;
  /**
   * Publish `resource.kubernetes.io/numaNode` in its list form (--numa-node-list, clusters with the
   * DRAListTypeAttributes gate): the NUMA layout is read from sysfs at every scan (agent/discovery/numa.ts).
   */
  numaNodeList?: boolean;
  /**
   * Publish only while holding this node's Lease (src/kube/lease.ts), so the old and the new agent of a rollout do
   * not overwrite each other's slices. Left out, the agent always publishes.
   */
  lease?: {
    namespace: string;
    /** unique per pod (its UID): a restarted container takes its own Lease back at once */
    identity: string;
    durationMs?: number;
    /** a standby's polling period: the handover delay after the holder releases (default 2 s) */
    retryIntervalMs?: number;
  };
  log?: Logger;
  /** seam: tests and benchmarks hand in recorded inventories instead of scanning */
  scan?: () => Promise<Inventory>;
  /** device health monitors and pod reporting (agent/health); left out, the agent runs without them */
  health?: {
    stateDir: string;
    kmsgPath: string;
    healthIntervalMs: number;
    linkStableMs: number;
    xidIgnore?: readonly number[];
    /** sysfs poll period of NIC links (default 2 s; AER, PCI presence, TPU nodes every 5th) */
    sysfsIntervalMs?: number;
  };
  /** --http-address for /metrics, /healthz, /readyz; left out, no HTTP endpoint */
  httpAddress?: string;
  /** the kubelet DRA plugin (agent/kubelet): sockets, CDI specs, checkpoint; left out, the agent serves no plugin */
  kubeletPlugin?: {
    /** kubelet plugin registry dir (--plugin-registry-dir) */
    registryDir: string;
    /** dir of the DRA service socket (--plugin-dir) */
    pluginDir: string;
    /** --cdi-dir */
    cdiDir: string;
    /** the checkpoint goes here as kubelet-plugin-checkpoint.json (--state-dir) */
    stateDir: string;
    /** --pod-uid: rolling-update socket names */
    podUid?: string;
    /**
     * the host's /proc (--proc-root): NIC addresses for the claims' `status.devices` networkData are read from its
     * `1/net` (agent/discovery/net-addresses.ts)
     */
    procRoot?: string;
  };
}

export class Agent {
  readonly board = new DeviceHealthBoard();
  readonly discovery: RescanLoop;
  readonly publisher: SlicePublisher;
  /** the node's Lease, when options.lease is set */
  readonly lease: LeaseHolder | undefined;
  readonly managers: Manager[];
  /** Prometheus metrics; other managers may add theirs to metrics.registry */
  readonly metrics: AgentMetrics;
  readonly health: HealthManager | undefined;
  /** the kubelet DRA plugin, when options.kubeletPlugin is set */
  readonly kubeletPlugin: KubeletPluginManager | undefined;
  /** other managers register readiness checks here (`http.addReadinessCheck(name, check)`) */
  readonly http: AgentHttpServer | undefined;
  private started: Manager[] = [];
  /** the start under way or done: stop() waits for it, so a manager started late is still stopped */
  private starting: Promise<void> | undefined;
  private stopRequested = false;
  /** device names an older agent published → today's names (empty unless this node was upgraded with claims) */
  private aliases: DeviceAliases = new Map();
  /** each NUMA node's list for the list form of numaNode, from the last scan (only with --numa-node-list) */
  private numaNodeLists: ReadonlyMap<number, readonly number[]> = new Map();

  constructor(readonly options: AgentOptions) {
    const log = options.log ?? silentLogger();
    this.discovery = new RescanLoop({
      scan: async () => {
        if (options.numaNodeList) {
          this.numaNodeLists = numaNodeLists(await readNumaNodes(new SysfsReader(options.sysfsRoot)));
        }
        return excludeNics(
          options.scan
            ? await options.scan()
            : keepDeviceTypes(
                await scanInventory({
                  sysfsRoot: options.sysfsRoot,
                  devRoot: options.devRoot,
                  nvidiaSmi: options.nvidiaSmi,
                  nvidiaSmiTimeoutMs: options.nvidiaSmiTimeoutMs,
                  ...(options.driverRoot?.libraryDir ? { nvidiaLibraryDir: options.driverRoot.libraryDir } : {}),
                  nodeName: options.nodeName,
                }),
                options.deviceTypes ?? DEVICE_TYPES,
              ),
          options.nicExclude ?? [],
        );
      },
      intervalMs: options.rescanIntervalMs,
      watchDirs: options.rescanWatchDirs,
      log: componentLogger(log, 'discovery'),
    });
    if (options.lease) {
      this.lease = new LeaseHolder({
        client: options.client,
        namespace: options.lease.namespace,
        name: nodeLeaseName(options.driverName, options.nodeName),
        identity: options.lease.identity,
        leaseDurationMs: options.lease.durationMs,
        retryIntervalMs: options.lease.retryIntervalMs,
        log: componentLogger(log, 'lease'),
      });
    }
    this.publisher = new SlicePublisher({
      gate: this.lease,
      client: options.client,
      driver: options.driverName,
      nodeName: options.nodeName,
      taintEffect: options.taintEffect,
      taints: options.deviceTaints ?? 'auto',
      ...(options.numaNodeList ? { numaNodeLists: () => this.numaNodeLists } : {}),
      agentVersion: VERSION,
      log: componentLogger(log, 'slices'),
    });
    this.publisher.attachBoard(this.board);
    this.discovery.onInventory((inventory) => this.publisher.setInventory(inventory));

    const lease = this.lease;
    this.managers = [
      { name: 'discovery', start: () => this.discovery.start(), stop: () => this.discovery.stop() },
      // before the slices, so it stops after them: the Lease is released once this agent has stopped writing
      ...(lease ? [{ name: 'lease', start: () => lease.start(), stop: () => lease.stop() }] : []),
      { name: 'slices', start: () => this.publisher.start(), stop: () => this.publisher.stop() },
      // health monitors (kernel log XIDs, nvidia-smi, AER, links) writing to this.board: appended by agent/health/
    ];

    // kubelet DRA plugin (registration, node service, CDI, checkpoint, health stream): after the slices
    if (options.kubeletPlugin) {
      const { stateDir, ...dirs } = options.kubeletPlugin;
      const checkpointPath = `${stateDir}/kubelet-plugin-checkpoint.json`;
      // legacy device names are mapped before the plugin reconciles its checkpoint against the inventory
      this.managers.push({
        name: 'legacy-names',
        start: () => this.loadAliases(`${stateDir}/device-aliases.json`, checkpointPath, componentLogger(log, 'names')),
        stop: () => {},
      });
      // the health of a device reaches claims that hold it under its legacy name (pod conditions, kubelet stream)
      this.board.subscribe((entry) => {
        for (const [legacy, current] of this.aliases) {
          if (current !== entry.device) continue;
          const { device: _device, since: _since, source, ...reading } = entry;
          this.board.set(legacy, reading, source);
        }
      });
      const plugin = new KubeletPluginManager({
        ...dirs,
        driver: options.driverName,
        nodeName: options.nodeName,
        checkpointPath,
        aliases: () => this.aliases,
        devRoot: options.devRoot,
        claims: new ApiClaimReader(options.client),
        claimStatus: {
          api: options.client,
          addresses: () => readInterfaceAddresses(options.kubeletPlugin?.procRoot ?? '/proc'),
        },
        inventory: () =>
          this.discovery.inventory ?? {
            scannedAt: '',
            devices: [],
            affinity: [],
            excludedInterfaces: [],
            problems: [],
          },
        board: this.board,
        log: componentLogger(log, 'kubelet-plugin'),
      });
      this.kubeletPlugin = plugin;
      this.discovery.onInventory(() => plugin.inventoryChanged());
      this.managers.push({ name: 'kubelet-plugin', start: () => plugin.start(), stop: () => plugin.stop() });
    }

    // health (agent/health) and /metrics (agent/metrics)
    this.metrics = new AgentMetrics({ labels: { node: options.nodeName } });
    this.metrics.watchBoard(this.board);
    if (options.driverRoot) {
      const { root, found, problem } = options.driverRoot;
      this.metrics.setDriverRoot(root, found);
      // on a NIC-only node the host root has no nvidia-smi, and that is no problem: say it louder for a root a user chose
      if (problem && (options.deviceTypes ?? DEVICE_TYPES).includes('gpu')) {
        if (root === '/') log.warn({ driverRoot: root }, problem);
        else log.error({ driverRoot: root }, problem);
      }
    }
    if (options.health) {
      const health = new HealthManager({
        ...options.health,
        board: this.board,
        nodeName: options.nodeName,
        driverName: options.driverName,
        sysfsRoot: options.sysfsRoot,
        nvidiaSmi: options.nvidiaSmi,
        nvidiaSmiTimeoutMs: options.nvidiaSmiTimeoutMs,
        ...(options.driverRoot?.libraryDir ? { nvidiaLibraryDir: options.driverRoot.libraryDir } : {}),
        client: options.client,
        hooks: this.metrics,
        log: componentLogger(log, 'health'),
      });
      this.health = health;
      this.discovery.onInventory((inventory) => health.setInventory(inventory));
      this.managers.push(health);
    }
    if (options.httpAddress) {
      const http = new AgentHttpServer({
        address: options.httpAddress,
        registry: this.metrics.registry,
        log: componentLogger(log, 'http'),
      });
      this.http = http;
      if (this.health) http.addReadinessCheck('health', () => this.health?.ready() ?? true);
      if (this.kubeletPlugin) {
        const plugin = this.kubeletPlugin;
        http.addReadinessCheck('kubelet-plugin', () => plugin.readiness().ready || plugin.readiness().reason);
        http.addLivenessCheck('kubelet-plugin', () => plugin.readiness().live || plugin.readiness().reason);
      }
      // first, so /healthz answers while the other managers start
      this.managers.unshift({ name: 'http', start: () => http.start(), stop: () => http.stop() });
    }
  }

  /**
   * Decides (once per node, then read from the file) how names an older agent published map to today's. Evidence of
   * an older agent: legacy names in the plugin checkpoint, or in this node's ResourceSlices in the API. When the API
   * cannot be asked and the checkpoint shows nothing, the map is used for this run but not frozen.
   */
  private async loadAliases(path: string, checkpointPath: string, log: Logger): Promise<void> {
    const inventory = this.discovery.inventory;
    if (!inventory) return;
    let checkpointNames: string[] = [];
    try {
      checkpointNames = legacyNamesInCheckpoint(JSON.parse(await readFile(checkpointPath, 'utf8')) as unknown);
    } catch {
      // no checkpoint (fresh node) or a damaged one (the plugin moves it aside): no evidence from it
    }
    let apiUnknown = false;
    const legacyStateFound = async (): Promise<boolean | undefined> => {
      if (checkpointNames.length > 0) return true;
      try {
        // a slow API must not hold up the kubelet plugin: no answer in 5 s counts as "cannot tell"
        const list = await Promise.race([
          this.options.client.get<KubeList<ResourceSlice>>(resourcePath(RESOURCE_SLICES), {
            fieldSelector: `spec.nodeName=${this.options.nodeName},spec.driver=${this.options.driverName}`,
          }),
          new Promise<never>((_, reject) => {
            const timer = setTimeout(() => reject(new Error('no answer in 5 s')), 5000);
            timer.unref();
          }),
        ]);
        return list.items.some((slice) => (slice.spec.devices ?? []).some((d) => isLegacyName(d.name)));
      } catch (err) {
        apiUnknown = true;
        log.warn({ err: errorMessage(err) }, 'cannot list slices to look for old names');
        return undefined;
      }
    };
    try {
      const { aliases, frozen } = await loadOrFreezeAliases({ path, inventory, legacyStateFound });
      this.aliases = aliases;
      if (frozen && aliases.size > 0) log.info({ aliases: Object.fromEntries(aliases) }, 'mapped old device names');
      if (apiUnknown) log.info('old device names will be looked for again at the next start');
    } catch (err) {
      log.error({ err: errorMessage(err) }, 'cannot read or write the device alias file');
    }
    for (const [legacy, current] of this.aliases) {
      const entry = this.board.get(current);
      if (entry) this.board.set(legacy, entry, entry.source);
    }
  }

  /**
   * Starts the managers in order. A stop() that comes while this runs (SIGTERM during start-up) ends it after the
   * manager being started: nothing is started after the stop, so no socket or timer outlives it.
   */
  start(): Promise<void> {
    this.starting ??= this.startManagers();
    return this.starting;
  }

  private async startManagers(): Promise<void> {
    for (const manager of this.managers) {
      if (this.stopRequested) return;
      await manager.start();
      this.started.push(manager);
    }
  }

  /**
   * Stops in reverse order, after a start still under way has finished the manager it was starting. The API keeps
   * this node's slices: only `--uninstall` removes them.
   */
  async stop(): Promise<void> {
    this.stopRequested = true;
    await this.starting?.catch(() => undefined);
    for (const manager of this.started.reverse()) {
      try {
        await manager.stop();
      } catch {
        // one manager failing to stop must not keep the others running
      }
    }
    this.started = [];
  }
}
