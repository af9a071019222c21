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
  type ResourceType,
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
import { podAffinityAllows } from './affinity.js';
import { allocateOnNode, collectPools, type DeviceRequestResults, devicesInUse } from './allocator.js';
import { extendedResourceClaim, type RequestMapping } from './extended.js';
import { DEFAULT_GANG_TIMEOUT_MS, type GroupRef, gangDecision, groupOf, policyOf } from './gang.js';

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
 *  - when a pod goes away its reservations go, claims from its templates are deleted, and others deallocated;
 *  - pods of a gang (a PodGroup's or v1alpha1 Workload group's `gang.minCount`, where the server serves
 *    scheduling.k8s.io) are placed together once minCount of them fit, or not at all: nothing is allocated while a
 *    gang waits, and a gang that waits past the Permit timeout gets a FailedScheduling Event saying so (gang.ts).
 */

export const POD_CLAIM_NAME_ANNOTATION = 'resource.kubernetes.io/pod-claim-name';
const SCHEDULER_NAME = 'default-scheduler';

export interface SchedulerOptions {
  client: KubeClient;
  log?: Logger;
  /** pods naming another scheduler are left alone */
  schedulerName?: string;
  /** pods without claims are bound too (to a Ready, schedulable Node in the API), unless this is false */
  bindPodsWithoutClaims?: boolean;
  /** how long a gang waits for its quorum before it is reported timed out (the Permit timeout; default 5 min) */
  gangTimeoutMs?: number;
  /**
   * kube-scheduler's DRAListTypeAttributes gate (allocator.ts): list-valued attributes in CEL and matchAttribute.
   * Off by default, as in 1.36 and 1.37; give it the API server's setting (`api.gates.DRAListTypeAttributes`).
   */
  listTypeAttributes?: boolean;
}

interface Placement {
  node: string;
  claims: ResourceClaim[];
  plan: Map<ResourceClaim, DeviceRequestResults>;
  /** the claim for the pod's extended resources backed by DRA, created at commit (extended.ts) */
  extended?: { claim: ResourceClaim; mappings: RequestMapping[] };
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
  /** PodGroups (v1alpha2+) or Workloads (v1alpha1) where the server serves scheduling.k8s.io; found at start */
  private groupObjects:
    | { resource: 'podgroups' | 'workloads'; type: ResourceType; informer: Informer<KubeObject> }
    | undefined;
  private readonly gangWaitingSince = new Map<string, number>();
  private readonly gangTimers = new Map<string, NodeJS.Timeout>();
  private readonly groupStatusWritten = new Map<string, string>();
  private running = false;
  private timer: NodeJS.Timeout | undefined;
  private busy: Promise<void> | undefined;
  private dirty = false;
  private readonly lastEvent = new Map<string, string>();
  private readonly knownPods = new Map<string, Pod>();
  private roundRobin = 0;
  /** pods bound in this process, by uid, until the informer shows their nodeName (the scheduler's assumed pods) */
  private readonly assumed = new Map<string, string>();
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
    const groupType = await this.discoverGroupType();
    if (groupType) {
      const informer = new Informer<KubeObject>(this.client, {
        type: groupType,
        log: this.log,
        backoff: { initialMs: 50, maxMs: 2000 },
      });
      this.groupObjects = { resource: groupType.resource as 'podgroups' | 'workloads', type: groupType, informer };
      this.informers.push(informer);
    }
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
    for (const t of this.gangTimers.values()) clearTimeout(t);
    this.gangTimers.clear();
    await this.busy;
    await Promise.all(this.informers.map((i) => i.stop()));
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Resolves after a pass that found nothing more to do. For tests. */
  whenIdle(): Promise<void> {
    if (!this.busy && !this.timer && !this.dirty) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * The scheduling.k8s.io version serving PodGroups (else Workloads, the 1.35 shape), from discovery; undefined where
   * the group is not served (GenericWorkload off): then group fields are gone from pods anyway.
   */
  private async discoverGroupType(): Promise<ResourceType | undefined> {
    let versions: { version: string }[];
    try {
      const group = await this.client.get<{ versions?: { version: string }[] }>('/apis/scheduling.k8s.io');
      versions = group.versions ?? [];
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) return undefined;
      throw err;
    }
    let workloads: ResourceType | undefined;
    for (const { version } of versions) {
      const list = await this.client.get<{ resources?: { name: string }[] }>(`/apis/scheduling.k8s.io/${version}`);
      const names = new Set((list.resources ?? []).map((r) => r.name));
      const type = (resource: string, kind: string): ResourceType => ({
        group: 'scheduling.k8s.io',
        version,
        resource,
        kind,
        namespaced: true,
      });
      if (names.has('podgroups')) return type('podgroups', 'PodGroup');
      if (names.has('workloads')) workloads ??= type('workloads', 'Workload');
    }
    return workloads;
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
        const gangs = new Map<string, { ref: GroupRef; pods: Pod[] }>();
        for (const pod of this.pods.list()) {
          if (!this.running) return;
          if (pod.spec.nodeName || pod.metadata.deletionTimestamp) continue;
          if ((pod.spec.schedulerName ?? SCHEDULER_NAME) !== (this.options.schedulerName ?? SCHEDULER_NAME)) continue;
          if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue;
          const ref = groupOf(pod);
          if (ref) {
            const gang = gangs.get(ref.key) ?? { ref, pods: [] };
            gang.pods.push(pod);
            gangs.set(ref.key, gang);
            continue;
          }
          await this.schedule(pod);
        }
        for (const { ref, pods } of gangs.values()) {
          if (!this.running) return;
          await this.scheduleGroup(ref, pods);
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
    if ((pod.spec.resourceClaims ?? []).length === 0 && this.options.bindPodsWithoutClaims === false) return;
    const placement = await this.place(pod, devicesInUse(this.claims.list()));
    if (typeof placement === 'string') return this.fail(pod, placement);
    await this.commit(pod, placement);
  }

  /**
   * Where the pod fits, with the devices for its claims (created from templates on the way), or why it fits nowhere.
   * `inUse` holds the devices taken (by claims, and by pods placed earlier in the same gang); the devices chosen are
   * added to it. Nothing is written besides the claims' creation.
   */
  private async place(pod: Pod, inUse: Set<string>): Promise<Placement | string> {
    const wanted = pod.spec.resourceClaims ?? [];
    const extended =
      pod.status?.extendedResourceClaimStatus === undefined
        ? extendedResourceClaim(pod, this.classes.list())
        : undefined;
    if (wanted.length === 0 && !extended) {
      if (this.options.bindPodsWithoutClaims === false) return 'pods without claims are not bound here';
      const node = this.pickNode(pod);
      if (!node) return 'no schedulable Node in the API';
      return { node, claims: [], plan: new Map() };
    }
    const claimsOrWhy = wanted.length > 0 ? await this.podClaims(pod) : new Map<string, ResourceClaim>();
    if (typeof claimsOrWhy === 'string') return claimsOrWhy;
    const claims = [...claimsOrWhy.values(), ...(extended ? [extended.claim] : [])];
    const fixedNodes = new Set(claims.map((c) => this.nodeOfAllocation(c)).filter((n): n is string => !!n));
    if (fixedNodes.size > 1) return `claims are allocated on different nodes: ${[...fixedNodes].join(', ')}`;
    const gates = { listTypeAttributes: this.options.listTypeAttributes ?? false };
    const { byNode, ignored } = collectPools(this.slices.list(), gates);
    const classes = new Map(this.classes.list().map((c) => [c.metadata.name ?? '', c]));
    const pending = claims.filter((c) => !c.status?.allocation);
    const candidates = fixedNodes.size ? [...fixedNodes] : [...byNode.keys()].sort();
    let why = byNode.size === 0 ? `no complete device pools${ignored.length ? ` (${ignored.join('; ')})` : ''}` : '';
    for (const node of candidates) {
      if (!this.nodeSchedulable(node, pod)) {
        why ||= `node ${node} is not schedulable`;
        continue;
      }
      const trial = new Set(inUse);
      const plan = new Map<ResourceClaim, DeviceRequestResults>();
      let failed: string | undefined;
      for (const claim of pending) {
        const outcome = allocateOnNode(claim, byNode.get(node) ?? [], classes, trial, gates);
        if (!outcome.ok) {
          failed = `claim ${claim.metadata.name}: ${outcome.reason}`;
          break;
        }
        for (const r of outcome.results) trial.add(`${r.driver}/${r.pool}/${r.device}`);
        plan.set(claim, outcome.results);
      }
      if (failed) {
        why = `node ${node}: ${failed}`;
        continue;
      }
      for (const device of trial) inUse.add(device);
      return { node, claims, plan, ...(extended ? { extended } : {}) };
    }
    return why || 'no node fits';
  }

  private async commit(pod: Pod, placement: Placement): Promise<void> {
    for (const claim of placement.claims) {
      if (claim === placement.extended?.claim) continue;
      await this.writeAllocation(claim, placement.plan.get(claim), placement.node, pod);
    }
    if (placement.extended) {
      // created only now, as PreBind does: a pod that was never placed leaves no claim behind
      const ns = pod.metadata.namespace ?? 'default';
      const created = await this.client.create<ResourceClaim>(
        resourcePath(RESOURCE_CLAIMS, { namespace: ns }),
        placement.extended.claim,
      );
      this.claims.remember(created);
      this.stats.claimsCreated++;
      await this.writeAllocation(created, placement.plan.get(placement.extended.claim), placement.node, pod);
      await this.client.patch(
        resourcePath(PODS, { namespace: ns, name: pod.metadata.name, subresource: 'status' }),
        {
          status: {
            extendedResourceClaimStatus: {
              requestMappings: placement.extended.mappings,
              resourceClaimName: created.metadata.name,
            },
          },
        },
        'merge',
      );
    }
    await this.bind(pod, placement.node);
  }

  /**
   * The pending pods of one group. A gang is placed whole (every pending pod that fits, once scheduled + fitting
   * reaches minCount) or not at all; while it waits nothing is allocated, so it never holds part of its devices.
   */
  private async scheduleGroup(ref: GroupRef, pending: Pod[]): Promise<void> {
    const object =
      this.groupObjects?.resource === ref.object.resource
        ? this.groupObjects.informer.get(`${ref.object.namespace}/${ref.object.name}`)
        : undefined;
    const policy = policyOf(ref, object);
    if ('missing' in policy) {
      for (const pod of pending) await this.fail(pod, policy.missing);
      return;
    }
    if ('basic' in policy) {
      for (const pod of pending) await this.schedule(pod);
      return;
    }
    const minCount = policy.gang;
    const scheduled = this.pods
      .list()
      .filter(
        (p) =>
          p.spec.nodeName &&
          !p.metadata.deletionTimestamp &&
          p.status?.phase !== 'Succeeded' &&
          p.status?.phase !== 'Failed' &&
          groupOf(p)?.key === ref.key,
      ).length;
    let decision = gangDecision(minCount, scheduled, pending.length, pending.length);
    if (decision.place) {
      const inUse = devicesInUse(this.claims.list());
      const placements: [Pod, Placement][] = [];
      let firstWhy: string | undefined;
      for (const pod of [...pending].sort((a, b) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? ''))) {
        const placement = await this.place(pod, inUse);
        if (typeof placement === 'string') firstWhy ??= `pod ${pod.metadata.name}: ${placement}`;
        else placements.push([pod, placement]);
      }
      decision = gangDecision(minCount, scheduled, placements.length, pending.length);
      if (decision.place) {
        for (const [pod, placement] of placements) await this.commit(pod, placement);
        this.gangWaitingSince.delete(ref.key);
        clearTimeout(this.gangTimers.get(ref.key));
        this.gangTimers.delete(ref.key);
        await this.writeGroupStatus(ref, 'True', 'Scheduled', `${scheduled + placements.length} pods scheduled`);
        return;
      }
      if (firstWhy) decision.why = `${decision.why} (${firstWhy})`;
    }
    const now = Date.now();
    const timeout = this.options.gangTimeoutMs ?? DEFAULT_GANG_TIMEOUT_MS;
    const since = this.gangWaitingSince.get(ref.key) ?? now;
    let message = `${ref.label}: ${decision.why}`;
    if (now - since >= timeout) {
      message = `${ref.label}: gang rejected after waiting ${Math.round((now - since) / 1000)}s (Permit timeout): ${decision.why}`;
      this.gangWaitingSince.set(ref.key, now);
    } else {
      this.gangWaitingSince.set(ref.key, since);
      if (!this.gangTimers.has(ref.key)) {
        const timer = setTimeout(
          () => {
            this.gangTimers.delete(ref.key);
            this.trigger();
          },
          since + timeout - now,
        );
        timer.unref();
        this.gangTimers.set(ref.key, timer);
      }
    }
    await this.writeGroupStatus(ref, 'False', 'Unschedulable', message);
    for (const pod of pending) await this.fail(pod, message);
  }

  /** PodGroup status condition PodGroupScheduled, written when it changes (PodGroups only: v1alpha1 has none). */
  private async writeGroupStatus(ref: GroupRef, status: 'True' | 'False', reason: string, message: string) {
    if (ref.object.resource !== 'podgroups' || this.groupObjects?.resource !== 'podgroups') return;
    const state = `${status}/${reason}`;
    if (this.groupStatusWritten.get(ref.key) === state) return;
    const path = resourcePath(this.groupObjects.type, {
      namespace: ref.object.namespace,
      name: ref.object.name,
      subresource: 'status',
    });
    try {
      await this.client.patch(
        path,
        {
          status: {
            conditions: [
              {
                type: 'PodGroupScheduled',
                status,
                reason,
                message,
                lastTransitionTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
              },
            ],
          },
        },
        'merge',
      );
      this.groupStatusWritten.set(ref.key, state);
    } catch (err) {
      if (!isNotFound(err)) this.log.warn({ err: (err as Error).message }, 'cannot write PodGroup status');
    }
  }

  private nodeSchedulable(name: string, pod: Pod): boolean {
    const node = this.nodes.get(name);
    if (!node) return true; // pools without a Node object (simulated agents) are taken at their word
    if (node.spec?.unschedulable) return false;
    const selector = (pod.spec.nodeSelector ?? {}) as Record<string, string>;
    if (!Object.entries(selector).every(([k, v]) => node.metadata.labels?.[k] === v)) return false;
    return podAffinityAllows(pod, node, this.placedPods());
  }

  /** Every live pod with the node it is bound to, or that this scheduler bound it to (its informer may lag). */
  private placedPods(): { pod: Pod; node: Node | undefined }[] {
    return this.pods
      .list()
      .filter((p) => !p.metadata.deletionTimestamp)
      .map((p) => {
        const nodeName = p.spec.nodeName ?? this.assumed.get(p.metadata.uid ?? '');
        return { pod: p, node: nodeName ? this.nodes.get(nodeName) : undefined };
      });
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
    if (pod.metadata.uid) this.assumed.set(pod.metadata.uid, node);
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
