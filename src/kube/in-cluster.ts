/**
 * In-cluster credentials without @kubernetes/client-node: the pod's service account (token and CA from the mount) and
 * the API server from KUBERNETES_SERVICE_HOST/PORT, which is all a DaemonSet or sidecar ever uses. The node agent
 * runs on every GPU node for the cluster's whole life, and loading client-node (its bundled chunk is 2.8 MB of
 * generated API code) cost it about 39 MB of resident memory for one object it used to read two files; kubeconfig
 * files (development, tests, kubectl) still go through client-node (config.ts), loaded only then.
 *
 * Threats: a rotated token (projected service-account tokens expire within the hour: the token file is read again
 * on every call; KubeClient asks again every few seconds); a missing or unreadable token or CA (a DomainError naming
 * the file, at start-up); an IPv6 service host (bracketed in the URL).
 */
import { existsSync, readFileSync } from 'node:fs';
import type https from 'node:https';
import { DomainError, errorMessage } from '../errors.js';
import { formatHostPort } from '../net/host-port.js';
import type { KubeConfigSource } from './config.js';

/** What KubeClient needs of a configuration: the server, and credentials for each request (client-node's shape). */
export interface ClusterAccess {
  getCurrentCluster(): { server: string } | null;
  applyToHTTPSOptions(options: https.RequestOptions): Promise<void>;
}

export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** The API server URL a pod reaches: `https://host:port`, IPv6 in brackets. */
export function inClusterServer(env: NodeJS.ProcessEnv): string | undefined {
  const host = env.KUBERNETES_SERVICE_HOST;
  if (!host) return undefined;
  const port = env.KUBERNETES_SERVICE_PORT || '443';
  return `https://${formatHostPort(host, port)}`;
}

export class InClusterAccess implements ClusterAccess {
  private readonly tokenFile: string;
  private readonly ca: Buffer;

  constructor(
    private readonly server: string,
    root = '',
  ) {
    this.tokenFile = `${root}${SERVICE_ACCOUNT_DIR}/token`;
    const caFile = `${root}${SERVICE_ACCOUNT_DIR}/ca.crt`;
    try {
      this.ca = readFileSync(caFile);
    } catch (err) {
      throw new DomainError('failed', `cannot read the service account's CA ${caFile}: ${errorMessage(err)}`);
    }
    this.token();
  }

  getCurrentCluster(): { server: string } {
    return { server: this.server };
  }

  async applyToHTTPSOptions(options: https.RequestOptions): Promise<void> {
    options.ca = this.ca;
    options.headers = { ...options.headers, authorization: `Bearer ${this.token()}` };
  }

  private token(): string {
    try {
      return readFileSync(this.tokenFile, 'utf8').trim();
    } catch (err) {
      throw new DomainError('failed', `cannot read the service account token ${this.tokenFile}: ${errorMessage(err)}`);
    }
  }
}

/**
 * The configuration a long-running in-cluster program uses: the service account when it runs in a pod and was given
 * no kubeconfig (no client-node loaded), else config.ts's loadKubeConfig (client-node, imported now).
 */
export async function loadClusterAccess(source: KubeConfigSource = {}): Promise<ClusterAccess> {
  const env = source.env ?? process.env;
  const explicit = source.kubeconfig ?? (env.KUBECONFIG || undefined);
  const root = source.inClusterRoot ?? '';
  const server = inClusterServer(env);
  if (!explicit && !source.context && server && existsSync(`${root}${SERVICE_ACCOUNT_DIR}/token`)) {
    return new InClusterAccess(server, root);
  }
  const { loadKubeConfig } = await import('./config.js');
  return loadKubeConfig(source);
}
