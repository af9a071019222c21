import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { componentLogger, type Logger } from '../../src/log.js';
import type { DiscoveredDevice, Inventory } from '../discovery/inventory.js';
import type { InterfaceAddresses } from '../discovery/net-addresses.js';
import type { DeviceHealthBoard } from '../health/board.js';
import type { DeviceHealthSnapshot } from '../kubeletplugin/health-stream.js';
import type { RegistrationState } from '../kubeletplugin/registration.js';
import { type PluginReadiness, PluginServer } from '../kubeletplugin/server.js';
import type { SocketLayout } from '../kubeletplugin/sockets.js';
import { CdiDirectory, DEFAULT_CDI_DIR } from './cdi.js';
import { CheckpointStore } from './checkpoint.js';
import { type ClaimStatusApi, ClaimStatusWriter } from './claim-status.js';
import { ClaimPreparer, type ClaimReader, type ReconcileReport } from './preparer.js';

/**
 * The agent's kubelet DRA plugin, one manager: registration socket, DRA node service (v1 + v1beta1),
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
  log: Logger;
  /** healthCheckTimeoutSeconds on the stream (default 60) */
  healthTimeoutSeconds?: number;
  /** resend the full list this often even without changes (default 10 s, below the kubelet's 30 s) */
  healthResendMs?: number;
  /** also serve grpc.health.v1 on this TCP address (e.g. `0.0.0.0:51515`) for a livenessProbe; off by default */
  grpcHealthAddress?: string;
  /** report prepared devices in the claims' `status.devices` (claim-status.ts); left out, claims' status is not written */
  claimStatus?: { api: ClaimStatusApi; addresses: () => Promise<InterfaceAddresses> };
}

export type { PluginReadiness } from '../kubeletplugin/server.js';

/** The devices this plugin serves, by name. Accelerators we do not drive are never published, so never prepared. */
export function servedDevices(inventory: Inventory): Map<string, DiscoveredDevice> {
  return new Map(
    inventory.devices.filter((device) => device.kind !== 'accelerator').map((device) => [device.name, device]),
  );
}

export class KubeletPluginManager {
  readonly layout: SocketLayout;
  readonly cdi: CdiDirectory;
  private readonly preparer: ClaimPreparer;
  /** the claims' `status.devices` writer, when options.claimStatus is set */
  readonly claimStatus: ClaimStatusWriter | undefined;
  private readonly server: PluginServer;
  private lastReconcile: ReconcileReport | undefined;

  constructor(private readonly options: KubeletPluginOptions) {
    const poolName = options.poolName ?? options.nodeName;
    this.server = new PluginServer({
      driver: options.driver,
      registryDir: options.registryDir,
      pluginDir: options.pluginDir,
      podUid: options.podUid,
      claims: {
        prepare: (claims) => this.preparer.prepare(claims),
        unprepare: (claims) => this.preparer.unprepare(claims),
      },
      poolName,
      health: () => this.healthSnapshot(),
      subscribeHealth: (onChange) => options.board.subscribe(onChange),
      healthTimeoutSeconds: options.healthTimeoutSeconds,
      healthResendMs: options.healthResendMs,
      grpcHealthAddress: options.grpcHealthAddress,
      log: options.log,
    });
    this.layout = this.server.layout;
    this.cdi = new CdiDirectory(options.cdiDir ?? DEFAULT_CDI_DIR);
    const checkpoint = new CheckpointStore(
      options.checkpointPath ?? join(this.layout.pluginDir, 'checkpoint.json'),
      options.driver,
      options.nodeName,
    );
    this.claimStatus = options.claimStatus
      ? new ClaimStatusWriter({
          api: options.claimStatus.api,
          addresses: options.claimStatus.addresses,
          driver: options.driver,
          pool: poolName,
          log: componentLogger(options.log, 'kubelet-plugin.claim-status'),
        })
      : undefined;
    const claimStatus = this.claimStatus;
    this.preparer = new ClaimPreparer({
      ...(claimStatus
        ? {
            status: {
              prepared: (claim, devices) => claimStatus.prepared(claim, devices),
              unprepared: (claim) => claimStatus.unprepared(claim),
            },
          }
        : {}),
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
      log: componentLogger(options.log, 'kubelet-plugin.node-service'),
    });
  }

  async start(): Promise<void> {
    await mkdir(this.cdi.dir, { recursive: true, mode: 0o755 });
    await this.server.prepareDirs();
    await mkdir(dirname(this.checkpointPath()), { recursive: true, mode: 0o750 });
    this.lastReconcile = await this.preparer.reconcile();
    await this.server.start();
    this.options.log.info(
      { registrationSocket: this.layout.registrationSocket, draSocket: this.layout.draSocket, cdiDir: this.cdi.dir },
      'kubelet plugin serving',
    );
  }

  /** Removes the registration socket first (the kubelet de-registers this instance), then closes the service. */
  stop(): Promise<void> {
    return this.server.stop();
  }

  /** For /readyz (ready: registered with the kubelet) and /healthz (live: sockets served). */
  readiness(): PluginReadiness {
    return this.server.readiness();
  }

  /** Call when discovery produced a new inventory: the health stream sends the new device list. */
  inventoryChanged(): void {
    this.server.healthChanged();
  }

  registrationState(): RegistrationState {
    return this.server.registrationState();
  }

  reconcileReport(): ReconcileReport | undefined {
    return this.lastReconcile;
  }

  healthConnections(): number {
    return this.server.healthConnections();
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
    const named: [string, DiscoveredDevice][] = [...served.values()].map((device) => [device.name, device]);
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
