/**
 * kube-controller-manager's root-ca-cert-publisher: every namespace gets a ConfigMap `kube-root-ca.crt` whose
 * `ca.crt` is the API server's CA. The kubelet's own `kube-api-access-*` volumes, and lockstep's coordinator
 * credentials (a projected volume of the same shape), read it; without it a pod mounting it would never start.
 * Follows kubernetes/pkg/controller/certificates/rootcacertpublisher/publisher.go (name, key, description annotation).
 */
import type { Logger } from 'pino';
import { isAlreadyExists, type KubeClient } from '../../../src/kube/client.js';
import { Informer } from '../../../src/kube/informer.js';
import type { ResourceType } from '../../../src/kube/resources.js';
import type { KubeObject } from '../../../src/kube/types.js';
import { silentLogger } from '../../../src/log.js';

const NAMESPACES: ResourceType = {
  group: '',
  version: 'v1',
  resource: 'namespaces',
  kind: 'Namespace',
  namespaced: false,
};
const ROOT_CA_CONFIGMAP = 'kube-root-ca.crt';
const DESCRIPTION =
  'Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.';

export class RootCaPublisher {
  private readonly namespaces: Informer<KubeObject>;
  private readonly log: Logger;
  private readonly done = new Set<string>();
  private pending: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: { client: KubeClient; caPem: string; log?: Logger }) {
    this.log = options.log ?? silentLogger();
    this.namespaces = new Informer<KubeObject>(options.client, { type: NAMESPACES, log: this.log });
  }

  async start(): Promise<void> {
    this.namespaces.on(() => this.publish());
    this.namespaces.start();
    await this.namespaces.synced();
    this.publish();
    await this.pending;
  }

  async stop(): Promise<void> {
    await this.namespaces.stop();
    await this.pending.catch(() => undefined);
  }

  private publish(): void {
    for (const ns of this.namespaces.list()) {
      const name = ns.metadata.name;
      if (!name || this.done.has(name) || ns.metadata.deletionTimestamp) continue;
      this.done.add(name);
      this.pending = this.pending.then(() =>
        this.options.client
          .create(`/api/v1/namespaces/${encodeURIComponent(name)}/configmaps`, {
            apiVersion: 'v1',
            kind: 'ConfigMap',
            metadata: {
              name: ROOT_CA_CONFIGMAP,
              namespace: name,
              annotations: { 'kubernetes.io/description': DESCRIPTION },
            },
            data: { 'ca.crt': this.options.caPem },
          })
          .catch((err: unknown) => {
            if (!isAlreadyExists(err)) {
              this.done.delete(name);
              this.log.warn({ err, namespace: name }, 'cannot publish kube-root-ca.crt');
            }
          }),
      );
    }
  }
}
