/**
 * The coordinator as a manager: the member table, the gRPC server and the status publisher, started and stopped
 * together. Recovery adds its watchdog and pod watch as further managers beside these, driven by the hooks.
 */
import type { ServerCredentials } from '@grpc/grpc-js';
import type { Logger } from '../../src/log.js';
import { GroupTable, type GroupTableOptions } from './group-table.js';
import { RecoveryManager, type RecoveryOptions } from './recovery.js';
import {
  type Authenticator,
  type CoordinatorHooks,
  CoordinatorServer,
  type CoordinatorServerOptions,
} from './server.js';
import { StatusPublisher, type StatusSink } from './status-publisher.js';

export interface CoordinatorOptions extends GroupTableOptions {
  /** `host:port` to listen on (port 0 = any free one) */
  listen: string;
  log: Logger;
  heartbeatIntervalMs: number;
  progressIntervalMs?: number;
  /** where the status goes; none = only the Status RPC */
  sink?: StatusSink;
  authenticate?: Authenticator;
  hooks?: CoordinatorHooks;
  /** failure detection and recovery; without it the group never restarts */
  recovery?: Omit<RecoveryOptions, 'table' | 'log' | 'onChange'>;
  /** TLS for the gRPC service; plaintext without */
  serverCredentials?: ServerCredentials;
  /** connection bounds (connection-guard.ts) */
  limits?: CoordinatorServerOptions['limits'];
}

export class Coordinator {
  readonly table: GroupTable;
  readonly server: CoordinatorServer;
  readonly publisher: StatusPublisher | undefined;
  readonly recovery: RecoveryManager | undefined;

  constructor(private readonly options: CoordinatorOptions) {
    this.table = new GroupTable(options);
    this.recovery = options.recovery
      ? new RecoveryManager({
          ...options.recovery,
          table: this.table,
          log: options.log,
          onChange: () => this.publisher?.schedule(),
        })
      : undefined;
    this.publisher = options.sink
      ? new StatusPublisher({
          sink: options.sink,
          leaderPod: options.leaderPod,
          snapshot: () => this.table.snapshot(),
          log: options.log,
        })
      : undefined;
    this.server = new CoordinatorServer({
      table: this.table,
      log: options.log,
      heartbeatIntervalMs: options.heartbeatIntervalMs,
      progressIntervalMs: options.progressIntervalMs,
      authenticate: options.authenticate,
      hooks: this.recovery ? { ...this.recovery.hooks(), ...options.hooks } : options.hooks,
      onChange: () => this.publisher?.schedule(),
      credentials: options.serverCredentials,
      limits: options.limits,
    });
  }

  /**
   * The pod watch read what holds up a pod of the group (undefined: nothing known, or gone): for a pod that has not
   * joined or whose member is lost, the members waiting at the barrier and the published status say so; for a
   * released member whose run never attaches, recovery names it as the cause.
   */
  heldUp(pod: string, why: string | undefined): void {
    if (!this.table.noteHeldUp(pod, why)) return;
    this.recovery?.podHeldUp(pod, why);
    this.server.progressChanged();
    this.publisher?.schedule();
  }

  /** Listens and publishes the initial (Forming) status; returns the bound port. */
  async start(): Promise<number> {
    const port = await this.server.listen(this.options.listen);
    this.recovery?.start(this.server);
    this.publisher?.start();
    this.options.log.info(
      { port, group: this.table.group, size: this.table.size, leaderPod: this.table.leaderPod },
      'coordinator listening',
    );
    return port;
  }

  async stop(): Promise<void> {
    this.recovery?.stop();
    await this.server.close();
    await this.publisher?.stop();
  }
}
