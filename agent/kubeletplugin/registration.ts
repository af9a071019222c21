import type { ServerUnaryCall, sendUnaryData, UntypedServiceImplementation } from '@grpc/grpc-js';
import type { Logger } from '../../src/log.js';
import { cleanText } from '../../src/text/untrusted.js';
import {
  HEALTH_VERSIONS,
  PLUGIN_TYPE_DRA,
  type PluginInfo,
  type RegistrationStatus,
  VERSION_DRA_V1,
  VERSION_DRA_V1BETA1,
} from './protos.js';

/**
 * The plugin side of kubelet plugin registration (FACTS.md §1): GetInfo says who we are and where the DRA service
 * socket is; the kubelet answers with NotifyRegistrationStatus. A refusal means the node cannot use the driver at all,
 * so it is logged as an error with the kubelet's reason, and readiness reports it.
 */
export type RegistrationState =
  | { state: 'waiting' }
  | { state: 'registered'; at: number }
  | { state: 'refused'; error: string; at: number };

export function pluginInfo(driver: string, draSocket: string, withHealth = true): PluginInfo {
  // In order of preference: the kubelet takes the first DRAPlugin entry it knows. The health entries name every
  // DRAResourceHealth version served on the same socket; a kubelet calls the newest it knows (1.36+), a 1.35 one
  // calls v1alpha1 without looking.
  const versions: string[] = [VERSION_DRA_V1, VERSION_DRA_V1BETA1];
  if (withHealth) versions.push(...HEALTH_VERSIONS);
  return { type: PLUGIN_TYPE_DRA, name: driver, endpoint: draSocket, supportedVersions: versions };
}

export class RegistrationService {
  private current: RegistrationState = { state: 'waiting' };

  constructor(
    private readonly info: PluginInfo,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  state(): RegistrationState {
    return this.current;
  }

  /** A new registration socket was bound: not registered until the kubelet says so again. */
  awaitRegistration(): void {
    this.current = { state: 'waiting' };
  }

  implementation(): UntypedServiceImplementation {
    return {
      GetInfo: (_call: ServerUnaryCall<unknown, PluginInfo>, callback: sendUnaryData<PluginInfo>) => {
        this.log.debug({ info: this.info }, 'kubelet asked for plugin info');
        callback(null, this.info);
      },
      NotifyRegistrationStatus: (
        call: ServerUnaryCall<RegistrationStatus, Record<string, never>>,
        callback: sendUnaryData<Record<string, never>>,
      ) => {
        const { pluginRegistered: registered, error } = call.request;
        if (registered) {
          this.current = { state: 'registered', at: this.now() };
          this.log.info({ driver: this.info.name, endpoint: this.info.endpoint }, 'kubelet registered the DRA plugin');
        } else {
          // whatever is on the other end of the socket wrote this: cleaned and capped before logs and readiness show it
          this.current = { state: 'refused', error: cleanText(error || '(no reason given)'), at: this.now() };
          this.log.error(
            { driver: this.info.name, endpoint: this.info.endpoint, error: this.current.error },
            'KUBELET REFUSED THE DRA PLUGIN REGISTRATION: pods on this node cannot use the driver until this is fixed',
          );
        }
        callback(null, {});
      },
    };
  }
}
