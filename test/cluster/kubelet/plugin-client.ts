import {
  Client,
  type ClientReadableStream,
  connectivityState,
  credentials,
  Metadata,
  type MethodDefinition,
  type ServiceDefinition,
} from '@grpc/grpc-js';
import {
  type Claim,
  type HealthServiceVersion,
  kubeletServices,
  type NodePrepareResourcesResponse,
  type NodeUnprepareResourcesResponse,
  type NodeWatchResourcesResponse,
  type PluginInfo,
  type RegistrationStatus,
  VERSION_DRA_V1,
  VERSION_DRA_V1BETA1,
} from '../../../agent/kubeletplugin/protos.js';

/**
 * The kubelet's side of the plugin sockets (FACTS.md §1–3), from the same .proto files the agent serves: a
 * registration client (GetInfo with the kubelet's 1 s timeout, NotifyRegistrationStatus) and a DRA client for the
 * version the kubelet chose (45 s per call).
 */
export const GET_INFO_TIMEOUT_MS = 1000;
export const DRA_CALL_TIMEOUT_MS = 45_000;

/** The DRAPlugin versions this kubelet knows, newest first (the kubelet picks the first the plugin lists that it knows). */
export const KUBELET_DRA_VERSIONS = [VERSION_DRA_V1, VERSION_DRA_V1BETA1] as const;
export type DraServiceVersion = (typeof KUBELET_DRA_VERSIONS)[number];

function method<Req, Res>(service: ServiceDefinition, name: string): MethodDefinition<Req, Res> {
  const definition = service[name];
  if (!definition) throw new Error(`no method ${name}`);
  return definition as MethodDefinition<Req, Res>;
}

function unary<Req, Res>(
  client: Client,
  definition: MethodDefinition<Req, Res>,
  request: Req,
  timeoutMs: number,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      definition.path,
      definition.requestSerialize,
      definition.responseDeserialize,
      request,
      new Metadata(),
      { deadline: Date.now() + timeoutMs },
      (error, response) =>
        error || response === undefined ? reject(error ?? new Error('empty response')) : resolve(response),
    );
  });
}

function unixClient(socketPath: string): Client {
  // The kubelet dials `unix:<path>`; no TLS on node-local sockets.
  return new Client(`unix:${socketPath}`, credentials.createInsecure());
}

export class RegistrationClient {
  private readonly client: Client;

  constructor(readonly socketPath: string) {
    this.client = unixClient(socketPath);
  }

  getInfo(timeoutMs = GET_INFO_TIMEOUT_MS): Promise<PluginInfo> {
    return unary(this.client, method<object, PluginInfo>(kubeletServices().registration, 'GetInfo'), {}, timeoutMs);
  }

  async notify(status: RegistrationStatus, timeoutMs = GET_INFO_TIMEOUT_MS): Promise<void> {
    await unary(
      this.client,
      method<RegistrationStatus, object>(kubeletServices().registration, 'NotifyRegistrationStatus'),
      status,
      timeoutMs,
    );
  }

  close(): void {
    this.client.close();
  }
}

export class DraClient {
  private readonly client: Client;

  constructor(
    readonly endpoint: string,
    readonly version: DraServiceVersion,
    readonly timeoutMs = DRA_CALL_TIMEOUT_MS,
  ) {
    this.client = unixClient(endpoint);
  }

  private service(): ServiceDefinition {
    const services = kubeletServices();
    return this.version === VERSION_DRA_V1 ? services.draV1 : services.draV1beta1;
  }

  prepare(claims: Claim[]): Promise<NodePrepareResourcesResponse> {
    return unary(this.client, method(this.service(), 'NodePrepareResources'), { claims }, this.timeoutMs);
  }

  unprepare(claims: Claim[]): Promise<NodeUnprepareResourcesResponse> {
    return unary(this.client, method(this.service(), 'NodeUnprepareResources'), { claims }, this.timeoutMs);
  }

  /** NodeWatchResources of one health package (`/v1.DRAResourceHealth/…`, `/v1beta1.…`, `/v1alpha1.…`). */
  watchHealth(version: HealthServiceVersion): ClientReadableStream<NodeWatchResourcesResponse> {
    const definition = method<object, NodeWatchResourcesResponse>(
      kubeletServices().health[version],
      'NodeWatchResources',
    );
    return this.client.makeServerStreamRequest(
      definition.path,
      definition.requestSerialize,
      definition.responseDeserialize,
      {},
      new Metadata(),
      {},
    );
  }

  /** Asks gRPC to connect now (the kubelet does, to learn early whether the plugin is there). */
  connect(): void {
    this.client.getChannel().getConnectivityState(true);
  }

  connected(): boolean {
    return this.client.getChannel().getConnectivityState(false) === connectivityState.READY;
  }

  /** Calls back on every connectivity change until closed. */
  onConnectivityChange(listener: (ready: boolean) => void): void {
    const channel = this.client.getChannel();
    const watch = () => {
      const state = channel.getConnectivityState(false);
      if (state === connectivityState.SHUTDOWN) return;
      channel.watchConnectivityState(state, Number.POSITIVE_INFINITY, () => {
        const next = channel.getConnectivityState(false);
        if (next === connectivityState.SHUTDOWN) return;
        listener(next === connectivityState.READY);
        // Like the kubelet: after a drop, ask for a reconnect so a restarted plugin is noticed.
        if (next === connectivityState.IDLE) channel.getConnectivityState(true);
        watch();
      });
    };
    watch();
  }

  close(): void {
    this.client.close();
  }
}
