/**
 * The generic half of a kubelet DRA plugin, as the upstream kubelet-plugin helper splits it: the registration socket
 * in the kubelet's registry, the DRA service socket (node service v1 + v1beta1, the device health stream in every
 * package the kubelet may call, grpc.health.v1), optionally grpc.health.v1 on TCP for a livenessProbe. It knows
 * nothing of devices or claims: the driver hands it a ClaimHandler and its health snapshots.
 *
 * Threats (tests in test/agent/kubelet/plugin.test.ts, named in brackets):
 * - a stale socket of a dead instance: removed before binding; a live one of another pod is left alone ["rolling
 *   update: two instances with pod UIDs overlap; the newer removes only dead sockets"];
 * - unauthenticated callers (gRPC over a Unix socket has no credentials): the sockets are restricted to their owner
 *   after binding, so only root (the kubelet) connects ["sockets are not world-writable"];
 * - the kubelet calling the DRA socket before it is served: registration is bound last and removed first;
 * - replayed calls (the kubelet retries prepare after a restart): answered identically from the checkpoint, nothing
 *   prepared twice ["prepares, writes a valid CDI spec, records it, and answers repeats identically"];
 * - oversized or hostile input: more than MAX_CLAIMS_PER_CALL claims, empty or hostile UIDs, undecodable bytes fail
 *   that call only ["malformed requests: empty list, empty and hostile UIDs, huge lists", "undecodable bytes fail that
 *   call only; the service keeps answering"]; a hostile registration error from the kubelet is cleaned and capped
 *   before it is logged ["shows a hostile registration error cleaned and capped, not 100 KB of escapes"];
 * - floods of health readers: a reader that never reads holds nothing up and costs one pending list ["a reader that
 *   never reads does not hold up prepare or other readers"];
 * - a socket file deleted under the running plugin (a cleanup script, a wiped registry directory): each path is looked
 *   at every second and a missing socket is bound again, then announced with a new registration socket, so the
 *   kubelet's plugin watcher registers the plugin again; /healthz fails while a socket cannot be recreated
 *   (test/agent/kubeletplugin/socket-heal.test.ts: "a deleted … socket is back and registered again",
 *   "/healthz fails while the registry directory is not writable");
 * - a socket path taken over by another process (an overlapping agent without a pod UID binds the same path): only
 *   a missing path is recreated, never a present one, so two instances never take a path from each other in turn
 *   ["a socket path taken by another process is left alone"].
 */
import { lstat, rm } from 'node:fs/promises';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import type { HealthImplementation } from 'grpc-health-check';
import { errorMessage } from '../../src/errors.js';
import { componentLogger, type Logger } from '../../src/log.js';
import { type DeviceHealthSnapshot, HealthStreamServer } from './health-stream.js';
import { type ClaimHandler, nodeServiceImplementation } from './node-service.js';
import { DRA_V1_SERVICE, DRA_V1BETA1_SERVICE, HEALTH_VERSIONS, kubeletServices } from './protos.js';
import { pluginInfo, RegistrationService, type RegistrationState } from './registration.js';
import { ensureSocketDirs, removeStaleSockets, restrictSocket, type SocketLayout, socketLayout } from './sockets.js';

/**
 * The gRPC service names reported SERVING on grpc.health.v1 ('' is the whole server); a health version's string is
 * its service's full name.
 */
const SERVED_SERVICES = ['', DRA_V1_SERVICE, DRA_V1BETA1_SERVICE, ...HEALTH_VERSIONS];

export interface PluginServerOptions {
  driver: string;
  /** default /var/lib/kubelet/plugins_registry */
  registryDir?: string;
  /** default /var/lib/kubelet/plugins/<driver> */
  pluginDir?: string;
  /** the agent pod's UID: rolling-update socket names so two agent pods can overlap */
  podUid?: string;
  /** the driver's prepare/unprepare */
  claims: ClaimHandler;
  /** the pool named in the health stream's device IDs */
  poolName: string;
  /** every served device with its current health */
  health: () => DeviceHealthSnapshot[];
  /** calls back on any health change; returns the unsubscribe function */
  subscribeHealth: (onChange: () => void) => () => void;
  /** healthCheckTimeoutSeconds on the stream (default 60) */
  healthTimeoutSeconds?: number;
  /** resend the full list this often even without changes (default 10 s, below the kubelet's 30 s) */
  healthResendMs?: number;
  /** also serve grpc.health.v1 on this TCP address (e.g. `0.0.0.0:51515`); off by default */
  grpcHealthAddress?: string;
  /** how often the socket paths are checked for deletion (default 1 s: a deleted socket is back within 5 s) */
  socketCheckMs?: number;
  log: Logger;
}

export interface PluginReadiness {
  ready: boolean;
  live: boolean;
  reason: string;
}

export class PluginServer {
  readonly layout: SocketLayout;
  private readonly registration: RegistrationService;
  private readonly healthStream: HealthStreamServer;
  private grpcHealth: HealthImplementation | undefined;
  private draServer: Server | undefined;
  private registrationServer: Server | undefined;
  private healthServer: Server | undefined;
  /** starting until every socket is served and registered; stopped once stop() began */
  private phase: 'starting' | 'serving' | 'stopped' = 'starting';
  private socketTimer: NodeJS.Timeout | undefined;
  private socketCheck: Promise<void> | undefined;
  /** why a deleted socket cannot be recreated (live: false until it is) */
  private socketProblem: string | undefined;

  constructor(private readonly options: PluginServerOptions) {
    this.layout = socketLayout({
      driver: options.driver,
      registryDir: options.registryDir,
      pluginDir: options.pluginDir,
      podUid: options.podUid,
    });
    this.registration = new RegistrationService(
      pluginInfo(options.driver, this.layout.draSocket),
      componentLogger(options.log, 'kubelet-plugin.registration'),
    );
    this.healthStream = new HealthStreamServer({
      poolName: options.poolName,
      snapshot: options.health,
      subscribe: options.subscribeHealth,
      timeoutSeconds: options.healthTimeoutSeconds ?? 60,
      resendIntervalMs: options.healthResendMs ?? 10_000,
      log: componentLogger(options.log, 'kubelet-plugin.health-stream'),
    });
  }

  /** Creates the socket directories (before the driver writes its own state beside them). */
  async prepareDirs(): Promise<void> {
    await ensureSocketDirs(this.layout);
  }

  /** Serves the DRA socket, then registers: the kubelet may call the DRA socket the moment it sees registration. */
  async start(): Promise<void> {
    const { log } = this.options;
    this.phase = 'starting';
    await ensureSocketDirs(this.layout);
    const removed = await removeStaleSockets(this.options.driver, this.layout);
    if (removed.length > 0) log.info({ removed }, 'removed stale plugin sockets');

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
    dra.addService(services.draV1, nodeServiceImplementation(this.options.claims, 'v1', log));
    dra.addService(services.draV1beta1, nodeServiceImplementation(this.options.claims, 'v1beta1', log));
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
    await this.serveRegistration();
    this.phase = 'serving';
    for (const name of SERVED_SERVICES) grpcHealth.setStatus(name, 'SERVING');
    this.scheduleSocketCheck();
  }

  /** Binds a fresh registration socket: a new file the kubelet's plugin watcher registers (again). */
  private async serveRegistration(): Promise<void> {
    // closing the old listener unlinks its path (libuv does on close): done before the new socket takes the path
    await shutdown(this.registrationServer, 0);
    this.registrationServer = undefined;
    const registration = new Server();
    registration.addService(kubeletServices().registration, this.registration.implementation());
    await bindUnix(registration, this.layout.registrationSocket);
    await restrictSocket(this.layout.registrationSocket);
    this.registrationServer = registration;
  }

  private scheduleSocketCheck(): void {
    if (this.phase !== 'serving') return;
    this.socketTimer = setTimeout(() => {
      this.socketCheck = this.healSockets().finally(() => this.scheduleSocketCheck());
    }, this.options.socketCheckMs ?? 1000);
    this.socketTimer.unref();
  }

  /**
   * Recreates a socket file that was deleted (only a missing path: one another process holds is never taken back).
   * A new DRA socket is announced with a new registration socket, as a new registration socket is announced by itself:
   * the kubelet's plugin watcher sees a new file, asks GetInfo again and dials the endpoint afresh.
   */
  private async healSockets(): Promise<void> {
    const { draSocket, registrationSocket } = this.layout;
    const draMissing = await isMissing(draSocket);
    const registrationMissing = await isMissing(registrationSocket);
    if (!draMissing && !registrationMissing) {
      if (this.socketProblem === undefined) return;
      this.socketProblem = undefined;
      this.options.log.info('kubelet plugin sockets are back');
      return;
    }
    const { log } = this.options;
    let path = draMissing ? draSocket : registrationSocket;
    try {
      await ensureSocketDirs(this.layout);
      if (draMissing && this.draServer) {
        // the listener of the deleted file is closed; connections already open (health streams) stay
        this.draServer.unbind(`unix:${draSocket}`);
        await bindUnix(this.draServer, draSocket);
        await restrictSocket(draSocket);
      }
      path = registrationSocket;
      this.registration.awaitRegistration();
      await this.serveRegistration();
      if (this.phase !== 'serving') return;
      this.socketProblem = undefined;
      log.warn(
        { deleted: [...(draMissing ? [draSocket] : []), ...(registrationMissing ? [registrationSocket] : [])] },
        'kubelet plugin socket was deleted: recreated and registering again',
      );
    } catch (error) {
      const problem = `kubelet plugin socket ${path} was deleted and cannot be recreated: ${errorMessage(error)}`;
      if (problem !== this.socketProblem) log.error({ socket: path }, problem);
      this.socketProblem = problem;
    }
  }

  /** Removes the registration socket first (the kubelet de-registers this instance), then closes the service. */
  async stop(): Promise<void> {
    this.phase = 'stopped';
    clearTimeout(this.socketTimer);
    await this.socketCheck;
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
    if (this.phase === 'stopped') return { ready: false, live: false, reason: 'kubelet plugin stopped' };
    if (this.phase === 'starting') return { ready: false, live: true, reason: 'kubelet plugin starting' };
    if (this.socketProblem !== undefined) return { ready: false, live: false, reason: this.socketProblem };
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

  /** Sends the current device list on every health stream (the served devices changed). */
  healthChanged(): void {
    this.healthStream.broadcast();
  }

  registrationState(): RegistrationState {
    return this.registration.state();
  }

  healthConnections(): number {
    return this.healthStream.connections();
  }
}

function bindUnix(server: Server, path: string): Promise<void> {
  return new Promise((resolve, reject) =>
    server.bindAsync(`unix:${path}`, ServerCredentials.createInsecure(), (error) =>
      error ? reject(error) : resolve(),
    ),
  );
}

/** True only when nothing is at the path (a file of another kind, or another process's socket, counts as present). */
async function isMissing(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
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
