import { errorMessage } from '../../src/errors.js';
import { ApiError, isNotFound, type KubeClient } from '../../src/kube/client.js';
import { Informer, objectKey } from '../../src/kube/informer.js';
import { type PodCondition, sameCondition } from '../../src/kube/pod-condition.js';
import { EVENTS, PODS, RESOURCE_CLAIMS, resourcePath } from '../../src/kube/resources.js';
import type { Pod, ResourceClaim } from '../../src/kube/types.js';
import type { Logger } from '../../src/log.js';
import { silentLogger } from '../../src/log.js';
import type { BoardEntry, DeviceHealthBoard } from './board.js';
import { claimNamesOfPod, currentCondition, desiredCondition } from './pod-conditions.js';

export interface PodReporterOptions {
  client: KubeClient;
  board: DeviceHealthBoard;
  nodeName: string;
  /** DRA driver name (allocation results of other drivers are not ours) */
  driverName: string;
  /** the pool this agent publishes (the node name) */
  poolName?: string;
  /** an API call failed (for /metrics) */
  onApiError?: (verb: string, resource: string, status: number) => void;
  log?: Logger;
  now?: () => Date;
  /** retry delay after a failed write; doubles up to 30 s */
  retryMs?: number;
}

interface PodState {
  devices: string[];
  /** claims not yet allocated or not found: looked up again on the next pod update or retry */
  unresolved: boolean;
  chain: Promise<void>;
  retries: number;
  retryTimer?: NodeJS.Timeout;
}

const COMPONENT = 'lockstep-agent';
/** The field manager of the agent's server-side applies (what managedFields names as the condition's owner). */
const FIELD_MANAGER = 'lockstep-agent';

/**
 * Tells the pods on this node about the health of the devices they hold: the `lockstep.dev/DevicesHealthy` pod
 * condition (False with reason and message; True again on recovery) and a Warning (or Normal, on recovery) Event on
 * the pod; and an Event on the Node for every device that changes. One watch: pods with spec.nodeName=<node>; claims
 * are read once per pod (an allocation does not change while a pod holds it).
 */
export class PodHealthReporter {
  private readonly log: Logger;
  private readonly pool: string;
  private readonly informer: Informer<Pod>;
  private readonly pods = new Map<string, PodState>();
  private readonly claims = new Map<string, { uid: string; devices: string[] }>();
  private unsubscribe: (() => void)[] = [];
  private stopped = true;
  private eventSeq = 0;

  constructor(private readonly options: PodReporterOptions) {
    this.log = options.log ?? silentLogger();
    this.pool = options.poolName ?? options.nodeName;
    this.informer = new Informer<Pod>(options.client, {
      type: PODS,
      fieldSelector: `spec.nodeName=${options.nodeName}`,
      log: this.log,
    });
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.unsubscribe.push(
      this.informer.on((type, pod) => {
        if (type === 'delete') this.forget(objectKey(pod));
        else this.onPod(pod);
      }),
      this.options.board.subscribe((entry, previous) => this.onHealth(entry, previous)),
    );
    this.informer.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const u of this.unsubscribe.splice(0)) u();
    for (const s of this.pods.values()) if (s.retryTimer) clearTimeout(s.retryTimer);
    await this.informer.stop();
    await Promise.all([...this.pods.values()].map((s) => s.chain));
  }

  /** readiness: the first pod list has arrived */
  get ready(): boolean {
    return this.informer.isSynced;
  }

  synced(): Promise<void> {
    return this.informer.synced();
  }

  /** Waits until every write queued so far has finished (tests, shutdown). */
  async idle(): Promise<void> {
    await Promise.all([...this.pods.values()].map((s) => s.chain));
  }

  /** devices of this node held by a pod (`namespace/name`), as resolved so far */
  devicesOf(podKey: string): readonly string[] {
    return this.pods.get(podKey)?.devices ?? [];
  }

  private onPod(pod: Pod): void {
    if (this.stopped) return;
    const key = objectKey(pod);
    let state = this.pods.get(key);
    if (!state) {
      state = { devices: [], unresolved: true, chain: Promise.resolve(), retries: 0 };
      this.pods.set(key, state);
    }
    if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') return;
    this.enqueue(key, async () => {
      if (state.unresolved) await this.resolve(key, state);
      await this.reconcile(key, state);
    });
  }

  private forget(key: string): void {
    const state = this.pods.get(key);
    if (state?.retryTimer) clearTimeout(state.retryTimer);
    this.pods.delete(key);
  }

  private onHealth(entry: BoardEntry, previous: BoardEntry | undefined): void {
    if (this.stopped) return;
    // every real change gets a Node event, except a device's first appearance as healthy (agent start, new device)
    if (previous || entry.state !== 'healthy') void this.nodeEvent(entry, previous);
    for (const [key, state] of this.pods) {
      if (state.devices.includes(entry.device)) this.enqueue(key, () => this.reconcile(key, state));
    }
  }

  /** Per-pod queue: writes for one pod never race each other. */
  private enqueue(key: string, work: () => Promise<void>): void {
    const state = this.pods.get(key);
    if (!state) return;
    state.chain = state.chain.then(work).catch((err: unknown) => {
      this.log.warn({ err: errorMessage(err), pod: key }, 'pod health update failed; retrying');
      this.retry(key, state);
    });
  }

  private retry(key: string, state: PodState): void {
    if (this.stopped || state.retryTimer) return;
    const delay = Math.min(30_000, (this.options.retryMs ?? 500) * 2 ** state.retries++);
    state.retryTimer = setTimeout(() => {
      state.retryTimer = undefined;
      const pod = this.informer.get(key);
      if (pod && this.pods.get(key) === state) this.onPod(pod);
    }, delay);
    state.retryTimer.unref();
  }

  private async resolve(key: string, state: PodState): Promise<void> {
    const pod = this.informer.get(key);
    if (!pod) return;
    const namespace = pod.metadata.namespace ?? 'default';
    const devices = new Set<string>();
    let unresolved = false;
    for (const name of claimNamesOfPod(pod)) {
      const cacheKey = `${namespace}/${name}`;
      let cached = this.claims.get(cacheKey);
      if (!cached) {
        let claim: ResourceClaim;
        try {
          claim = await this.options.client.get<ResourceClaim>(resourcePath(RESOURCE_CLAIMS, { namespace, name }));
        } catch (err) {
          if (!isNotFound(err)) this.apiError('get', 'resourceclaims', err);
          unresolved = true;
          continue;
        }
        const results = claim.status?.allocation?.devices?.results;
        if (!results) {
          unresolved = true; // not allocated yet: look again on the next pod update
          continue;
        }
        cached = {
          uid: claim.metadata.uid ?? '',
          devices: results
            .filter((r) => r.driver === this.options.driverName && r.pool === this.pool)
            .map((r) => r.device),
        };
        this.claims.set(cacheKey, cached);
      }
      for (const d of cached.devices) devices.add(d);
    }
    state.devices = [...devices];
    state.unresolved = unresolved;
    if (unresolved) this.retry(key, state);
    else state.retries = 0;
  }

  private async reconcile(key: string, state: PodState): Promise<void> {
    const pod = this.informer.get(key);
    if (!pod || state.devices.length === 0 || this.stopped) return;
    const current = currentCondition(pod);
    const desired = desiredCondition(state.devices, (d) => this.options.board.get(d), current);
    if (!desired || sameCondition(current, desired)) return;
    const now = (this.options.now ?? (() => new Date()))().toISOString();
    const transition = current?.status !== desired.status;
    const existing = pod.status?.conditions?.find((c) => c.type === desired.type) as
      | { lastTransitionTime?: string }
      | undefined;
    const condition: PodCondition = {
      ...desired,
      lastTransitionTime: transition ? now : (existing?.lastTransitionTime ?? now),
    };
    const namespace = pod.metadata.namespace ?? 'default';
    const name = pod.metadata.name ?? '';
    let updated: Pod;
    try {
      // Server-side apply: the agent owns exactly its one condition (conditions are a list keyed by type), so
      // the kubelet's own conditions are never rewritten and managedFields shows who set DevicesHealthy. Forced,
      // because the agent is the authority on that condition even when someone else set it by hand.
      updated = await this.options.client.patch<Pod>(
        resourcePath(PODS, { namespace, name, subresource: 'status' }),
        { apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace }, status: { conditions: [condition] } },
        'apply',
        { fieldManager: FIELD_MANAGER, force: true },
      );
    } catch (err) {
      if (isNotFound(err)) return; // the pod is gone
      this.apiError('patch', 'pods/status', err);
      throw err;
    }
    this.informer.remember(updated);
    state.retries = 0;
    this.log.info(
      { pod: key, status: desired.status, message: desired.message },
      'pod device-health condition updated',
    );
    if (transition && (desired.status !== 'True' || current !== undefined)) {
      void this.createEvent(
        { kind: 'Pod', namespace, name, uid: pod.metadata.uid ?? '' },
        desired.status === 'True' ? 'Normal' : 'Warning',
        desired.status === 'True'
          ? 'DevicesRecovered'
          : desired.status === 'False'
            ? 'DeviceUnhealthy'
            : 'DeviceHealthUnknown',
        desired.message,
      );
    }
  }

  private async nodeEvent(entry: BoardEntry, previous: BoardEntry | undefined): Promise<void> {
    const healthy = entry.state === 'healthy';
    const message = healthy
      ? `device ${entry.device} is healthy again${previous?.reason ? ` (was: ${previous.reason})` : ''}`
      : `device ${entry.device} is ${entry.state}: ${entry.reason ?? ''}${entry.message ? ` (${entry.message})` : ''}`;
    await this.createEvent(
      { kind: 'Node', namespace: 'default', name: this.options.nodeName, uid: this.options.nodeName },
      healthy ? 'Normal' : 'Warning',
      healthy ? 'DeviceRecovered' : entry.state === 'unhealthy' ? 'DeviceUnhealthy' : 'DeviceHealthUnknown',
      message,
    );
  }

  private async createEvent(
    target: { kind: 'Pod' | 'Node'; namespace: string; name: string; uid: string },
    type: 'Normal' | 'Warning',
    reason: string,
    message: string,
  ): Promise<void> {
    const now = (this.options.now ?? (() => new Date()))();
    // the kubelet's naming: <object>.<unix nanos in hex>; the counter keeps two events of one millisecond apart
    const nanos = BigInt(now.getTime()) * 1_000_000n + BigInt(this.eventSeq++ % 1_000_000);
    const event = {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: `${target.name}.${nanos.toString(16)}`, namespace: target.namespace },
      involvedObject: {
        apiVersion: 'v1',
        kind: target.kind,
        name: target.name,
        uid: target.uid,
        ...(target.kind === 'Pod' ? { namespace: target.namespace } : {}),
      },
      reason,
      message: message.slice(0, 1024),
      type,
      source: { component: COMPONENT, host: this.options.nodeName },
      reportingComponent: `${this.options.driverName}/agent`,
      reportingInstance: this.options.nodeName,
      firstTimestamp: now.toISOString(),
      lastTimestamp: now.toISOString(),
      count: 1,
    };
    try {
      await this.options.client.create(resourcePath(EVENTS, { namespace: target.namespace }), event);
    } catch (err) {
      // an Event is best effort: the condition (and the node's slice) carry the state
      this.apiError('create', 'events', err);
      this.log.warn({ err: errorMessage(err), target: target.name }, 'cannot create event');
    }
  }

  private apiError(verb: string, resource: string, err: unknown): void {
    this.options.onApiError?.(verb, resource, err instanceof ApiError ? err.status : 0);
  }
}
