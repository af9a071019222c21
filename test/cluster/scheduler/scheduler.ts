import type { Logger } from 'pino';
import { ApiError, isAlreadyExists, isConflict, isNotFound, type KubeClient } from '../../../src/kube/client.js';
import { Informer, objectKey } from '../../../src/kube/informer.js';
import {
  DEVICE_CLASSES,
  EVENTS,
  NODES,
  PODS,
  RESOURCE_CLAIM_TEMPLATES,
  RESOURCE_CLAIMS,
  RESOURCE_SLICES,
  resourcePath,
} from '../../../src/kube/resources.js';
import type {
  DeviceClass,
  KubeObject,
  Node,
  Pod,
  ResourceClaim,
  ResourceClaimTemplate,
  ResourceSlice,
} from '../../../src/kube/types.js';
import { silentLogger } from '../../../src/log.js';
import { allocateOnNode, collectPools, type DeviceRequestResults, devicesInUse } from './allocator.js';

/**
 * scheduler-lite: places pods that use DRA claims the way kube-scheduler's DynamicResources plugin and the
 * resourceclaim controller do together, through the API only (list/watch, create, status updates, the binding
 * subresource), so it runs against the test cluster's API server like the real ones would:
 *  - a pod's claims from ResourceClaimTemplates are created (`<pod>-<claim>-` + suffix, owned by the pod) and
 *    recorded in pod.status.resourceClaimStatuses;
 *  - the claims are allocated on one node from the published pools (see allocator.ts): status.allocation with the
 *    devices and a nodeSelector for that node, and status.reservedFor the pod;
 *  - the pod is bound to the node (pods/binding);
 *  - a pod that cannot be placed stays pending, with a FailedScheduling Event saying why;
 *  - when a pod goes away its reservations go, claims from its templates are deleted, and others deallocated.
 */

export const POD_CLAIM_NAME_ANNOTATION = 'resource.kubernetes.io/pod-claim-name';
export const SCHEDULER_NAME = 'default-scheduler';

export interface SchedulerOptions {
  client: KubeClient;
  log?: Logger;
  /** pods naming another scheduler are left alone */
  schedulerName?: string;
  /** pods without claims are bound too (to a Ready, schedulable Node in the API), unless this is false */
  bindPodsWithoutClaims?: boolean;
}

export interface SchedulerStats {
  passes: number;
  bound: number;
  claimsCreated: number;
  claimsAllocated: number;
  failures: number;
}

export class SchedulerLite {
  private readonly client: KubeClient;
  private readonly log: Logger;
  private readonly pods: Informer<Pod>;
  private readonly claims: Informer<ResourceClaim>;
  private readonly templates: Informer<ResourceClaimTemplate>;
  private readonly slices: Informer<ResourceSlice>;
  private readonly classes: Informer<DeviceClass>;
  private readonly nodes: Informer<Node>;
  private readonly informers: Informer<KubeObject>[];
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private busy: Promise<void> | undefined;
  private dirty = false;
  private readonly lastEvent = new Map<string, string>();
  private readonly knownPods = new Map<string, Pod>();
  private roundRobin = 0;
  private idleWaiters: (() => void)[] = [];
  readonly stats: SchedulerStats = { passes: 0, bound: 0, claimsCreated: 0, claimsAllocated: 0, failures: 0 };

  constructor(private readonly options: SchedulerOptions) {
    this.client = options.client;
    this.log = options.log ?? silentLogger();
    const mk = <T extends KubeObject>(type: typeof PODS) =>
      new Informer<T>(this.client, { type, log: this.log, backoff: { initialMs: 50, maxMs: 2000 } });
    this.pods = mk<Pod>(PODS);
    this.claims = mk<ResourceClaim>(RESOURCE_CLAIMS);
    this.templates = mk<ResourceClaimTemplate>(RESOURCE_CLAIM_TEMPLATES);
    this.slices = mk<ResourceSlice>(RESOURCE_SLICES);
    this.classes = mk<DeviceClass>(DEVICE_CLASSES);
    this.nodes = mk<Node>(NODES);
    this.informers = [
      this.pods,
      this.claims,
      this.templates,
      this.slices,
      this.classes,
      this.nodes,
    ] as Informer<KubeObject>[];
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    for (const inf of this.informers) {
      inf.on(() => this.trigger());
      inf.start();
    }
    this.pods.on((type, pod) => {
      if (type === 'delete') this.trigger();
      else this.knownPods.set(objectKey(pod), pod);
    });
    await Promise.all(this.informers.map((i) => i.synced()));
    this.trigger();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.busy;
    await Promise.all(this.informers.map((i) => i.stop()));
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Resolves after a pass that found nothing more to do. For tests. */
  whenIdle(): Promise<void> {
    if (!this.busy && !this.timer && !this.dirty) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private trigger(): void {
    if (!this.running) return;
    this.dirty = true;
    if (this.busy || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.busy = this.passes().finally(() => {
        this.busy = undefined;
        if (this.dirty) this.trigger();
        else for (const w of this.idleWaiters.splice(0)) w();
      });
    }, 5);
  }

  private async passes(): Promise<void> {
    while (this.dirty && this.running) {
      this.dirty = false;
      this.stats.passes++;
      try {
        await this.releaseGonePods();
        for (const pod of this.pods.list()) {
          if (!this.running) return;
          if (pod.spec.nodeName || pod.metadata.deletionTimestamp) continue;
          if ((pod.spec.schedulerName ?? SCHEDULER_NAME) !== (this.options.schedulerName ?? SCHEDULER_NAME)) continue;
          if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue;
          await this.schedule(pod);
        }
      } catch (err) {
        // conflicts and outages: the next event (or this retry) runs the pass again from fresh informer state
        this.stats.failures++;
        this.log.warn({ err: err instanceof Error ? err.message : String(err) }, 'scheduling pass failed');
        if (this.running) setTimeout(() => this.trigger(), isConflict(err) ? 20 : 200);
      }
    }
  }

  /** Claim names for each of the pod's claims, creating template claims that do not exist yet. */
  private async podClaims(pod: Pod): Promise<Map<string, ResourceClaim> | string> {
    const ns = pod.metadata.namespace ?? 'default';
    const out = new Map<string, ResourceClaim>();
    const statuses = [...(pod.status?.resourceClaimStatuses ?? [])];
    let statusChanged = false;
    for (const rc of pod.spec.resourceClaims ?? []) {
      if (rc.resourceClaimName) {
        const claim = this.claims.get(`${ns}/${rc.resourceClaimName}`);
        if (!claim) return `waiting for ResourceClaim ${rc.resourceClaimName}`;
        out.set(rc.name, claim);
        continue;
      }
      if (!rc.resourceClaimTemplateName) return `pod claim ${rc.name} names neither a claim nor a template`;
      const recorded = statuses.find((s) => s.name === rc.name)?.resourceClaimName;
      let claim = recorded ? this.claims.get(`${ns}/${recorded}`) : this.findTemplateClaim(pod, rc.name);
      if (!claim) {
        const template = this.templates.get(`${ns}/${rc.resourceClaimTemplateName}`);
        if (!template) return `ResourceClaimTemplate ${rc.resourceClaimTemplateName} not found`;
        claim = await this.createClaimFromTemplate(pod, rc.name, template);
      }
      if (!recorded || recorded !== claim.metadata.name) {
        const i = statuses.findIndex((s) => s.name === rc.name);
        const entry = { name: rc.name, resourceClaimName: claim.metadata.name };
        if (i >= 0) statuses[i] = entry;
        else statuses.push(entry);
        statusChanged = true;
      }
      out.set(rc.name, claim);
    }
    if (statusChanged) {
      await this.client.patch(
        resourcePath(PODS, { namespace: ns, name: pod.metadata.name, subresource: 'status' }),
        { status: { resourceClaimStatuses: statuses } },
        'merge',
      );
    }
    return out;
  }

  private findTemplateClaim(pod: Pod, podClaimName: string): ResourceClaim | undefined {
    return this.claims
      .list()
      .find(
        (c) =>
          c.metadata.namespace === pod.metadata.namespace &&
          c.metadata.annotations?.[POD_CLAIM_NAME_ANNOTATION] === podClaimName &&
          c.metadata.ownerReferences?.some((o) => o.kind === 'Pod' && o.uid === pod.metadata.uid),
      );
  }

  private async createClaimFromTemplate(
    pod: Pod,
    podClaimName: string,
    template: ResourceClaimTemplate,
  ): Promise<ResourceClaim> {
    const ns = pod.metadata.namespace ?? 'default';
    const body: ResourceClaim = {
      apiVersion: 'resource.k8s.io/v1',
      kind: 'ResourceClaim',
      metadata: {
        generateName: `${pod.metadata.name}-${podClaimName}-`.slice(0, 57),
        namespace: ns,
        labels: template.spec.metadata?.labels,
        annotations: { ...template.spec.metadata?.annotations, [POD_CLAIM_NAME_ANNOTATION]: podClaimName },
        ownerReferences: [
          {
            apiVersion: 'v1',
            kind: 'Pod',
            name: pod.metadata.name ?? '',
            uid: pod.metadata.uid ?? '',
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: structuredClone(template.spec.spec),
    };
    const created = await this.client.create<ResourceClaim>(resourcePath(RESOURCE_CLAIMS, { namespace: ns }), body);
    this.claims.remember(created);
    this.stats.claimsCreated++;
    return created;
  }

  private nodeOfAllocation(claim: ResourceClaim): string | undefined {
    const term = claim.status?.allocation?.nodeSelector?.nodeSelectorTerms?.[0];
    const field = term?.matchFields?.find((m) => m.key === 'metadata.name');
    return field?.values?.[0];
  }

  private async schedule(pod: Pod): Promise<void> {
    const wanted = pod.spec.resourceClaims ?? [];
    if (wanted.length === 0) {
      if (this.options.bindPodsWithoutClaims === false) return;
      const node = this.pickNode(pod);
      if (!node) return this.fail(pod, 'no schedulable Node in the API');
      await this.bind(pod, node);
      return;
    }
    const claimsOrWhy = await this.podClaims(pod);
    if (typeof claimsOrWhy === 'string') return this.fail(pod, claimsOrWhy);
    const claims = [...claimsOrWhy.values()];
    const fixedNodes = new Set(claims.map((c) => this.nodeOfAllocation(c)).filter((n): n is string => !!n));
    if (fixedNodes.size > 1)
      return this.fail(pod, `claims are allocated on different nodes: ${[...fixedNodes].join(', ')}`);
    const { byNode, ignored } = collectPools(this.slices.list());
    const classes = new Map(this.classes.list().map((c) => [c.metadata.name ?? '', c]));
    const pending = claims.filter((c) => !c.status?.allocation);
    const candidates = fixedNodes.size ? [...fixedNodes] : [...byNode.keys()].sort();
    let why = byNode.size === 0 ? `no complete device pools${ignored.length ? ` (${ignored.join('; ')})` : ''}` : '';
    for (const node of candidates) {
      if (!this.nodeSchedulable(node, pod)) {
        why ||= `node ${node} is not schedulable`;
        continue;
      }
      const inUse = devicesInUse(this.claims.list());
      const plan = new Map<ResourceClaim, DeviceRequestResults>();
      let failed: string | undefined;
      for (const claim of pending) {
        const outcome = allocateOnNode(claim, byNode.get(node) ?? [], classes, inUse);
        if (!outcome.ok) {
          failed = `claim ${claim.metadata.name}: ${outcome.reason}`;
          break;
        }
        for (const r of outcome.results) inUse.add(`${r.driver}/${r.pool}/${r.device}`);
        plan.set(claim, outcome.results);
      }
      if (failed) {
        why = `node ${node}: ${failed}`;
        continue;
      }
      for (const claim of claims) await this.writeAllocation(claim, plan.get(claim), node, pod);
      await this.bind(pod, node);
      return;
    }
    await this.fail(pod, why || 'no node fits');
  }

  private nodeSchedulable(name: string, pod: Pod): boolean {
    const node = this.nodes.get(name);
    if (!node) return true; // pools without a Node object (simulated agents) are taken at their word
    if (node.spec?.unschedulable) return false;
    const selector = (pod.spec.nodeSelector ?? {}) as Record<string, string>;
    return Object.entries(selector).every(([k, v]) => node.metadata.labels?.[k] === v);
  }

  private pickNode(pod: Pod): string | undefined {
    const nodes = this.nodes
      .list()
      .map((n) => n.metadata.name ?? '')
      .filter((n) => n && this.nodeSchedulable(n, pod))
      .sort();
    if (nodes.length === 0) return undefined;
    return nodes[this.roundRobin++ % nodes.length];
  }

  private async writeAllocation(
    claim: ResourceClaim,
    results: DeviceRequestResults | undefined,
    node: string,
    pod: Pod,
  ): Promise<void> {
    const reservedFor = [...(claim.status?.reservedFor ?? [])];
    if (!reservedFor.some((r) => r.uid === pod.metadata.uid)) {
      reservedFor.push({ resource: 'pods', name: pod.metadata.name ?? '', uid: pod.metadata.uid ?? '' });
    }
    const status = {
      ...claim.status,
      ...(results
        ? {
            allocation: {
              devices: { results },
              nodeSelector: {
                nodeSelectorTerms: [{ matchFields: [{ key: 'metadata.name', operator: 'In', values: [node] }] }],
              },
            },
          }
        : {}),
      reservedFor,
    };
    const body: ResourceClaim = { ...claim, status };
    const written = await this.client.replace<ResourceClaim>(
      resourcePath(RESOURCE_CLAIMS, {
        namespace: claim.metadata.namespace,
        name: claim.metadata.name,
        subresource: 'status',
      }),
      body,
    );
    this.claims.remember(written);
    if (results) this.stats.claimsAllocated++;
  }

  private async bind(pod: Pod, node: string): Promise<void> {
    const ns = pod.metadata.namespace ?? 'default';
    try {
      await this.client.create(resourcePath(PODS, { namespace: ns, name: pod.metadata.name, subresource: 'binding' }), {
        apiVersion: 'v1',
        kind: 'Binding',
        metadata: { name: pod.metadata.name, namespace: ns },
        target: { apiVersion: 'v1', kind: 'Node', name: node },
      });
    } catch (err) {
      if (!isConflict(err)) throw err; // already bound: someone else won, nothing to do
    }
    this.stats.bound++;
    this.lastEvent.delete(objectKey(pod));
    this.log.info({ pod: objectKey(pod), node }, 'bound');
  }

  private async fail(pod: Pod, message: string): Promise<void> {
    const key = objectKey(pod);
    if (this.lastEvent.get(key) === message) return;
    this.lastEvent.set(key, message);
    const ns = pod.metadata.namespace ?? 'default';
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    try {
      await this.client.create(resourcePath(EVENTS, { namespace: ns }), {
        apiVersion: 'v1',
        kind: 'Event',
        metadata: { generateName: `${pod.metadata.name}.`, namespace: ns },
        involvedObject: {
          apiVersion: 'v1',
          kind: 'Pod',
          name: pod.metadata.name,
          namespace: ns,
          uid: pod.metadata.uid,
        },
        reason: 'FailedScheduling',
        message,
        type: 'Warning',
        source: { component: SCHEDULER_NAME },
        reportingComponent: 'scheduler-lite',
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      });
    } catch (err) {
      if (!isAlreadyExists(err)) this.log.warn({ err: (err as Error).message }, 'cannot write Event');
    }
  }

  /** Drops reservations of pods that are gone; deletes their template claims and deallocates the rest. */
  private async releaseGonePods(): Promise<void> {
    const livePods = new Set(this.pods.list().map((p) => p.metadata.uid));
    for (const claim of this.claims.list()) {
      const reserved = claim.status?.reservedFor ?? [];
      const owner = claim.metadata.ownerReferences?.find((o) => o.kind === 'Pod' && o.controller);
      if (owner && !livePods.has(owner.uid)) {
        try {
          await this.client.delete(
            resourcePath(RESOURCE_CLAIMS, { namespace: claim.metadata.namespace, name: claim.metadata.name }),
          );
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
        this.claims.forget(objectKey(claim));
        continue;
      }
      const still = reserved.filter((r) => r.resource !== 'pods' || livePods.has(r.uid));
      if (still.length === reserved.length) continue;
      const status = { ...claim.status, reservedFor: still.length ? still : undefined };
      if (still.length === 0) delete status.allocation;
      if (!status.reservedFor) delete status.reservedFor;
      try {
        const written = await this.client.replace<ResourceClaim>(
          resourcePath(RESOURCE_CLAIMS, {
            namespace: claim.metadata.namespace,
            name: claim.metadata.name,
            subresource: 'status',
          }),
          { ...claim, status },
        );
        this.claims.remember(written);
      } catch (err) {
        if (!(err instanceof ApiError && (err.status === 404 || err.status === 409))) throw err;
      }
    }
    for (const key of [...this.knownPods.keys()]) {
      if (!this.pods.get(key)) {
        this.knownPods.delete(key);
        this.lastEvent.delete(key);
      }
    }
  }
}
