/**
 * Cluster DNS for headless Services, as CoreDNS serves it from EndpointSlices: for a Service with `clusterIP: None`
 * and a selector, each matching pod with an IP (Ready, or any when `publishNotReadyAddresses`), not terminating,
 * whose `hostname` is set and whose `subdomain` is the Service's name, answers as
 * `<hostname>.<service>.<namespace>.svc.cluster.local`; the Service's own name answers with every such pod's IP.
 *
 * Local processes cannot use a cluster DNS server, so the answers are kept in a hosts file (written atomically when
 * they change) that the pods' Node processes resolve from (pods/netns-preload.mjs, with the pod's search domains, so
 * `<pod>.<service>.<namespace>` resolves as it does in a pod). `resolve()` answers in-process.
 */
import { randomUUID } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { KubeClient } from '../../../src/kube/client.js';
import { Informer } from '../../../src/kube/informer.js';
import { PODS, type ResourceType } from '../../../src/kube/resources.js';
import type { KubeObject, Pod } from '../../../src/kube/types.js';
import { silentLogger } from '../../../src/log.js';

export const SERVICES: ResourceType = {
  group: '',
  version: 'v1',
  resource: 'services',
  kind: 'Service',
  namespaced: true,
};
const CLUSTER_DOMAIN = 'cluster.local';

export interface Service extends KubeObject {
  spec?: { clusterIP?: string; selector?: Record<string, string>; publishNotReadyAddresses?: boolean };
}

export interface DnsRecord {
  name: string;
  address: string;
}

const matches = (selector: Record<string, string>, labels: Record<string, string> | undefined) =>
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

const podIP = (pod: Pod) => (pod.status as { podIP?: string } | undefined)?.podIP;

/** The records of the headless Services (pure). */
export function headlessRecords(services: readonly Service[], pods: readonly Pod[]): DnsRecord[] {
  const records: DnsRecord[] = [];
  for (const svc of services) {
    if (svc.spec?.clusterIP !== 'None' || !svc.spec.selector) continue;
    const ns = svc.metadata.namespace ?? 'default';
    const svcName = `${svc.metadata.name}.${ns}.svc.${CLUSTER_DOMAIN}`;
    const selector = svc.spec.selector;
    for (const pod of pods) {
      const ip = podIP(pod);
      if (pod.metadata.namespace !== ns || !ip || pod.metadata.deletionTimestamp) continue;
      if (!matches(selector, pod.metadata.labels)) continue;
      const ready = (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
      if (!ready && !svc.spec.publishNotReadyAddresses) continue;
      const spec = pod.spec as { hostname?: string; subdomain?: string };
      if (spec.hostname && spec.subdomain === svc.metadata.name) {
        records.push({ name: `${spec.hostname}.${svcName}`, address: ip });
      }
      records.push({ name: svcName, address: ip });
    }
  }
  return records.sort((a, b) => a.name.localeCompare(b.name) || a.address.localeCompare(b.address));
}

export function hostsText(records: readonly DnsRecord[]): string {
  return `# test cluster DNS (headless Services), written by test/cluster/controllers/dns.ts\n${records
    .map((r) => `${r.address} ${r.name}`)
    .join('\n')}\n`;
}

export interface ClusterDnsOptions {
  client: KubeClient;
  hostsFile: string;
  log?: Logger;
}

export class ClusterDns {
  private readonly services: Informer<Service>;
  private readonly pods: Informer<Pod>;
  private readonly log: Logger;
  private records: DnsRecord[] = [];
  private lastText = '';
  private writing: Promise<void> = Promise.resolve();
  private running = false;

  constructor(private readonly options: ClusterDnsOptions) {
    this.log = (options.log ?? silentLogger()).child({ component: 'cluster-dns' });
    this.services = new Informer<Service>(options.client, { type: SERVICES, log: this.log });
    this.pods = new Informer<Pod>(options.client, { type: PODS, log: this.log });
  }

  get hostsFile(): string {
    return this.options.hostsFile;
  }

  async start(): Promise<void> {
    this.running = true;
    this.services.on(() => this.refresh());
    this.pods.on(() => this.refresh());
    this.services.start();
    this.pods.start();
    await Promise.all([this.services.synced(), this.pods.synced()]);
    this.refresh();
    await this.writing;
  }

  async stop(): Promise<void> {
    this.running = false;
    await Promise.all([this.services.stop(), this.pods.stop()]);
    await this.writing;
  }

  /** The addresses a name has now (fully qualified, or relative to `namespace` as a pod's search path makes it). */
  resolve(name: string, namespace = 'default'): string[] {
    const candidates = [name, `${name}.${namespace}.svc.${CLUSTER_DOMAIN}`, `${name}.svc.${CLUSTER_DOMAIN}`];
    for (const candidate of candidates) {
      const found = this.records.filter((r) => r.name === candidate).map((r) => r.address);
      if (found.length > 0) return found;
    }
    return [];
  }

  private refresh(): void {
    if (!this.running) return;
    this.records = headlessRecords(this.services.list(), this.pods.list());
    const text = hostsText(this.records);
    if (text === this.lastText) return;
    this.lastText = text;
    this.writing = this.writing.then(async () => {
      const temp = `${this.options.hostsFile}.${randomUUID()}.tmp`;
      await writeFile(temp, text);
      await rename(temp, this.options.hostsFile);
    });
  }
}
