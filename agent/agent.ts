import type { Logger } from 'pino';
import type { KubeClient } from '../src/kube/client.js';
import type { DeviceTaintEffect } from '../src/kube/types.js';
import { componentLogger, silentLogger } from '../src/log.js';
import { VERSION } from '../src/version.js';
import { DEVICE_TYPES, type DeviceType, keepDeviceTypes } from './discovery/device-types.js';
import type { Inventory } from './discovery/inventory.js';
import { scanInventory } from './discovery/scan.js';
import { DeviceHealthBoard } from './health/board.js';
import { HealthManager } from './health/manager.js';
import { ApiClaimReader } from './kubelet/claim-reader.js';
import { KubeletPluginManager } from './kubelet/plugin.js';
import { AgentMetrics } from './metrics/registry.js';
import { AgentHttpServer } from './metrics/server.js';
import { SlicePublisher, type TaintMode } from './slices/publisher.js';
import { RescanLoop } from './slices/rescan.js';

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
  rescanIntervalMs: number;
  /** the kinds of device this agent serves (--device-types); all when unset */
  deviceTypes?: readonly DeviceType[];
  /** rescan when these directories change (udev's database, `/run/udev/data`); missing ones are skipped */
  rescanWatchDirs?: string[];
  taintEffect: DeviceTaintEffect;
  deviceTaints?: TaintMode;
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
  };
}

export class Agent {
  readonly board = new DeviceHealthBoard();
  readonly discovery: RescanLoop;
  readonly publisher: SlicePublisher;
  readonly managers: Manager[];
  /** Prometheus metrics; other managers may add theirs to metrics.registry */
  readonly metrics: AgentMetrics;
  readonly health: HealthManager | undefined;
  /** the kubelet DRA plugin, when options.kubeletPlugin is set */
  readonly kubeletPlugin: KubeletPluginManager | undefined;
  /** other managers register readiness checks here (`http.addReadinessCheck(name, check)`) */
  readonly http: AgentHttpServer | undefined;
  private started: Manager[] = [];

  constructor(readonly options: AgentOptions) {
    const log = options.log ?? silentLogger();
    this.discovery = new RescanLoop({
      scan:
        options.scan ??
        (async () =>
          keepDeviceTypes(
            await scanInventory({
              sysfsRoot: options.sysfsRoot,
              devRoot: options.devRoot,
              nvidiaSmi: options.nvidiaSmi,
              nvidiaSmiTimeoutMs: options.nvidiaSmiTimeoutMs,
              nodeName: options.nodeName,
            }),
            options.deviceTypes ?? DEVICE_TYPES,
          )),
      intervalMs: options.rescanIntervalMs,
      watchDirs: options.rescanWatchDirs,
      log: componentLogger(log, 'discovery'),
    });
    this.publisher = new SlicePublisher({
      client: options.client,
      driver: options.driverName,
      nodeName: options.nodeName,
      taintEffect: options.taintEffect,
      taints: options.deviceTaints ?? 'auto',
      agentVersion: VERSION,
      log: componentLogger(log, 'slices'),
    });
    this.publisher.attachBoard(this.board);
    this.discovery.onInventory((inventory) => this.publisher.setInventory(inventory));

    this.managers = [
      { name: 'discovery', start: () => this.discovery.start(), stop: () => this.discovery.stop() },
      { name: 'slices', start: () => this.publisher.start(), stop: () => this.publisher.stop() },
      // health monitors (kernel log XIDs, nvidia-smi, AER, links) writing to this.board: appended by agent/health/
    ];

    // kubelet DRA plugin (registration, node service, CDI, checkpoint, health stream): after the slices
    if (options.kubeletPlugin) {
      const { stateDir, ...dirs } = options.kubeletPlugin;
      const plugin = new KubeletPluginManager({
        ...dirs,
        driver: options.driverName,
        nodeName: options.nodeName,
        checkpointPath: `${stateDir}/kubelet-plugin-checkpoint.json`,
        devRoot: options.devRoot,
        claims: new ApiClaimReader(options.client),
        inventory: () =>
          this.discovery.inventory ?? {
            scannedAt: '',
            devices: [],
            affinity: [],
            excludedInterfaces: [],
            problems: [],
          },
        board: this.board,
        logger: componentLogger(log, 'kubelet-plugin'),
      });
      this.kubeletPlugin = plugin;
      this.discovery.onInventory(() => plugin.inventoryChanged());
      this.managers.push({ name: 'kubelet-plugin', start: () => plugin.start(), stop: () => plugin.stop() });
    }

    // health (agent/health) and /metrics (agent/metrics)
    this.metrics = new AgentMetrics({ labels: { node: options.nodeName } });
    this.metrics.watchBoard(this.board);
    if (options.health) {
      const health = new HealthManager({
        ...options.health,
        board: this.board,
        nodeName: options.nodeName,
        driverName: options.driverName,
        sysfsRoot: options.sysfsRoot,
        nvidiaSmi: options.nvidiaSmi,
        nvidiaSmiTimeoutMs: options.nvidiaSmiTimeoutMs,
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

  async start(): Promise<void> {
    for (const manager of this.managers) {
      await manager.start();
      this.started.push(manager);
    }
  }

  /** Stops in reverse order. The API keeps this node's slices: only `--uninstall` removes them. */
  async stop(): Promise<void> {
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
