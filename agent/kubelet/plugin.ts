import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { HealthImplementation } from 'grpc-health-check';
import type { Logger } from '../../src/log.js';
import type { Device, Inventory } from '../discovery/inventory.js';
import type { DeviceHealthBoard } from '../health/board.js';
import { CdiDirectory, DEFAULT_CDI_DIR } from './cdi.js';
import { CheckpointStore } from './checkpoint.js';
import { type DeviceHealthSnapshot, HealthStreamServer } from './health-stream.js';
import { nodeServiceImplementation } from './node-service.js';
import { ClaimPreparer, type ClaimReader, type ReconcileReport } from './preparer.js';
import {
  DRA_V1_SERVICE,
  DRA_V1BETA1_SERVICE,
  HEALTH_V1_SERVICE,
  HEALTH_V1ALPHA1_SERVICE,
  HEALTH_V1BETA1_SERVICE,
  HEALTH_VERSIONS,
  kubeletServices,
} from './protos.js';

/** The gRPC service names reported SERVING on grpc.health.v1 ('' is the whole server). */
const SERVED_SERVICES = [
  '',
  DRA_V1_SERVICE,
  DRA_V1BETA1_SERVICE,
  HEALTH_V1_SERVICE,
  HEALTH_V1BETA1_SERVICE,
  HEALTH_V1ALPHA1_SERVICE,
];

import { pluginInfo, RegistrationService, type RegistrationState } from './registration.js';
import { ensureSocketDirs, removeStaleSockets, restrictSocket, type SocketLayout, socketLayout } from './sockets.js';

/**
 * The agent's kubelet DRA plugin (issue 6), one manager: registration socket, DRA node service (v1 + v1beta1),
 * device health stream, standard gRPC health service, CDI specs and checkpoint. start() reconciles the checkpoint,
 * the CDI directory and the API before it opens any socket, so the kubelet never talks to a half-recovered plugin.
 */
export interface KubeletPluginOptions {
  driver: string;
  nodeName: string;
  /** this node's pool in the ResourceSlices (default: the node name, the upstream convention) */
  poolName?: string;
  /** default /var/lib/kubelet/plugins_registry */
  registryDir?: string;
  /** default /var/lib/kubelet/plugins/<driver> */
  pluginDir?: string;
  /** default /var/run/cdi */
  cdiDir?: string;
  /** default <pluginDir>/checkpoint.json */
  checkpointPath?: string;
  /** the agent pod's UID: rolling-update socket names so two agent pods can overlap */
  podUid?: string;
  /** fake /dev trees in tests; the container always sees /dev */
  devRoot?: string;
  claims: ClaimReader;
  /** discovery's latest inventory */
  inventory: () => Inventory;
  board: DeviceHealthBoard;
  /**
   * names an older agent published → today's names (legacy-names.ts): claims allocated before an upgrade are
   * prepared, and their devices' health streamed, under the name their allocation holds
   */
  aliases?: () => ReadonlyMap<string, string>;
  logger: Logger;
  /** health_check_timeout_seconds on the stream (default 60) */
  healthTimeoutSeconds?: number;
  /** resend the full list this often even without changes (default 10 s, below the kubelet's 30 s) */
  healthResendMs?: number;
  /** also serve grpc.health.v1 on this TCP address (e.g. `0.0.0.0:51515`) for a livenessProbe; off by default */
  grpcHealthAddress?: string;
}

export interface PluginReadiness {
  ready: boolean;
  live: boolean;
  reason: string;
}

/** The devices this plugin serves, by name. Accelerators we do not drive are never published, so never prepared. */
export function servedDevices(inventory: Inventory): Map<string, Device> {
  return new Map(
    inventory.devices.filter((device) => device.kind !== 'accelerator').map((device) => [device.name, device]),
  );
}

export class KubeletPluginManager {
  readonly layout: SocketLayout;
  readonly cdi: CdiDirectory;
  private readonly preparer: ClaimPreparer;
  private readonly registration: RegistrationService;
  private readonly healthStream: HealthStreamServer;
  private grpcHealth: HealthImplementation | undefined;
  private draServer: Server | undefined;
  private registrationServer: Server | undefined;
  private healthServer: Server | undefined;
  private serving = false;
  private stopped = false;
  private lastReconcile: ReconcileReport | undefined;

  constructor(private readonly options: KubeletPluginOptions) {
    this.layout = socketLayout({
      driver: options.driver,
      registryDir: options.registryDir,
      pluginDir: options.pluginDir,
      podUid: options.podUid,
    });
    const poolName = options.poolName ?? options.nodeName;
    this.cdi = new CdiDirectory(options.cdiDir ?? DEFAULT_CDI_DIR);
    const checkpoint = new CheckpointStore(
      options.checkpointPath ?? join(this.layout.pluginDir, 'checkpoint.json'),
      options.driver,
      options.nodeName,
    );
    this.preparer = new ClaimPreparer({
      driver: options.driver,
      nodeName: options.nodeName,
      poolName,
      cdi: this.cdi,
      checkpoint,
      claims: options.claims,
      devices: () => servedDevices(options.inventory()),
      health: (device) => options.board.get(device),
      ...(options.aliases ? { aliases: options.aliases } : {}),
      devRoot: options.devRoot,
      logger: options.logger.child({ part: 'node-service' }),
    });
    this.registration = new RegistrationService(
      pluginInfo(options.driver, this.layout.draSocket),
      options.logger.child({ part: 'registration' }),
    );
    this.healthStream = new HealthStreamServer({
      poolName,
      snapshot: () => this.healthSnapshot(),
      subscribe: (onChange) => options.board.subscribe(onChange),
      timeoutSeconds: options.healthTimeoutSeconds ?? 60,
      resendIntervalMs: options.healthResendMs ?? 10_000,
      logger: options.logger.child({ part: 'health-stream' }),
    });
  }

  async start(): Promise<void> {
    const { logger } = this.options;
    this.stopped = false;
    await mkdir(this.cdi.dir, { recursive: true, mode: 0o755 });
    await ensureSocketDirs(this.layout);
    await mkdir(dirname(this.checkpointPath()), { recursive: true, mode: 0o750 });
    this.lastReconcile = await this.preparer.reconcile();

    const removed = await removeStaleSockets(this.options.driver, this.layout);
    if (removed.length > 0) logger.info({ removed }, 'removed stale plugin sockets');

    // Loaded on start, not at import: grpc-health-check reads its .proto via __dirname when its module is first
    // evaluated, which an ESM bundle lacks; a dynamic import keeps every other command of the bundle unaffected.
    // (A CommonJS module: bundlers may put its exports under `default`.)
    const healthModule: {
      HealthImplementation?: typeof HealthImplementation;
      default?: { HealthImplementation: typeof HealthImplementation };
    } = await import('grpc-health-check');
    const Health = healthModule.HealthImplementation ?? healthModule.default?.HealthImplementation;
    if (!Health) throw new Error('grpc-health-check did not load: no HealthImplementation export');
    const grpcHealth = new Health({ '': 'NOT_SERVING' });
    this.grpcHealth = grpcHealth;
    const services = kubeletServices();
    const dra = new Server();
    dra.addService(services.draV1, nodeServiceImplementation(this.preparer, 'v1', logger));
    dra.addService(services.draV1beta1, nodeServiceImplementation(this.preparer, 'v1beta1', logger));
    // One implementation behind every health package: the messages are identical, only the method path differs.
    for (const version of HEALTH_VERSIONS) {
      dra.addService(services.health[version], { NodeWatchResources: this.healthStream.handler });
    }
    grpcHealth.addToServer(dra);
    await bindUnix(dra, this.layout.draSocket);
    await restrictSocket(this.layout.draSocket);
    this.draServer = dra;
    this.healthStream.start();

    if (this.options.grpcHealthAddress) {
      const health = new Server();
      grpcHealth.addToServer(health);
      await new Promise<void>((resolve, reject) =>
        health.bindAsync(this.options.grpcHealthAddress as string, ServerCredentials.createInsecure(), (error) =>
          error ? reject(error) : resolve(),
        ),
      );
      this.healthServer = health;
    }

    // Registration last: the kubelet may call the DRA socket the moment it sees this one.
    const registration = new Server();
    registration.addService(services.registration, this.registration.implementation());
    await bindUnix(registration, this.layout.registrationSocket);
    await restrictSocket(this.layout.registrationSocket);
    this.registrationServer = registration;
    this.serving = true;
    for (const name of SERVED_SERVICES) grpcHealth.setStatus(name, 'SERVING');
    logger.info(
      { registrationSocket: this.layout.registrationSocket, draSocket: this.layout.draSocket, cdiDir: this.cdi.dir },
      'kubelet plugin serving',
    );
  }

  /** Removes the registration socket first (the kubelet de-registers this instance), then closes the service. */
  async stop(): Promise<void> {
    this.serving = false;
    this.stopped = true;
    for (const name of SERVED_SERVICES) this.grpcHealth?.setStatus(name, 'NOT_SERVING');
    await shutdown(this.registrationServer);
    this.registrationServer = undefined;
    this.healthStream.stop();
    await shutdown(this.draServer);
    this.draServer = undefined;
    await shutdown(this.healthServer);
    this.healthServer = undefined;
    await rm(this.layout.registrationSocket, { force: true });
    await rm(this.layout.draSocket, { force: true });
  }

  /** For /readyz (ready: registered with the kubelet) and /healthz (live: sockets served). */
  readiness(): PluginReadiness {
    // Live while starting (a slow start is not a wedged process); not live once stopped.
    if (!this.serving) {
      return this.stopped
        ? { ready: false, live: false, reason: 'kubelet plugin stopped' }
        : { ready: false, live: true, reason: 'kubelet plugin starting' };
    }
    const registration: RegistrationState = this.registration.state();
    switch (registration.state) {
      case 'registered':
        return { ready: true, live: true, reason: 'registered with the kubelet' };
      case 'refused':
        return { ready: false, live: true, reason: `kubelet refused the registration: ${registration.error}` };
      default:
        return { ready: false, live: true, reason: 'waiting for the kubelet to register the plugin' };
    }
  }

  /** Call when discovery produced a new inventory: the health stream sends the new device list. */
  inventoryChanged(): void {
    this.healthStream.broadcast();
  }

  registrationState(): RegistrationState {
    return this.registration.state();
  }

  reconcileReport(): ReconcileReport | undefined {
    return this.lastReconcile;
  }

  healthConnections(): number {
    return this.healthStream.connections();
  }

  /** The prepare/unprepare core, for tests and the agent's status. */
  claims(): ClaimPreparer {
    return this.preparer;
  }

  private checkpointPath(): string {
    return this.options.checkpointPath ?? join(this.layout.pluginDir, 'checkpoint.json');
  }

  private healthSnapshot(): DeviceHealthSnapshot[] {
    const board = this.options.board;
    const served = servedDevices(this.options.inventory());
    // a claim allocated under a legacy name is looked up by the kubelet under that name: stream it under both
    const named: [string, Device][] = [...served.values()].map((device) => [device.name, device]);
    for (const [legacy, current] of this.options.aliases?.() ?? []) {
      const device = served.get(current);
      if (device) named.push([legacy, device]);
    }
    return named
      .map(([name, device]): DeviceHealthSnapshot => {
        const entry = board.get(device.name);
        if (entry) {
          const snapshot: DeviceHealthSnapshot = { device: name, state: entry.state, since: entry.since };
          if (entry.reason !== undefined) snapshot.reason = entry.reason;
          if (entry.message !== undefined) snapshot.message = entry.message;
          return snapshot;
        }
        return { device: name, ...device.health };
      })
      .sort((a, b) => a.device.localeCompare(b.device));
  }
}

function bindUnix(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) =>
    server.bindAsync(`unix:${path}`, ServerCredentials.createInsecure(), (error) =>
      error ? reject(error) : resolve(),
    ),
  );
}

function shutdown(server: Server | undefined, graceMs = 2000): Promise<void> {
  if (!server) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
