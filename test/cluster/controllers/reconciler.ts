/**
 * The loop every controller-lite here shares (the shape of a controller-runtime reconciler): informers on the API,
 * a set of dirty keys (`namespace/name` of the parent object), one sync at a time, a retry after a failed sync.
 * Children map back to their parent through their controller ownerReference of the parent's kind.
 */
import type { Logger } from 'pino';
import { isAlreadyExists, isNotFound, type KubeClient } from '../../../src/kube/client.js';
import { Informer } from '../../../src/kube/informer.js';
import { type ResourceType, resourcePath } from '../../../src/kube/resources.js';
import type { KubeObject } from '../../../src/kube/types.js';

export interface OwnerRef {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller: true;
  blockOwnerDeletion: true;
}

/** The controller ownerReference an object of `apiVersion`/`kind` puts on what it creates. */
export function controllerRef(owner: KubeObject, apiVersion: string, kind: string): OwnerRef {
  return {
    apiVersion,
    kind,
    name: owner.metadata.name ?? '',
    uid: owner.metadata.uid ?? '',
    controller: true,
    blockOwnerDeletion: true,
  };
}

function keyOf(object: KubeObject): string {
  return `${object.metadata.namespace ?? ''}/${object.metadata.name ?? ''}`;
}

export abstract class Reconciler<Parent extends KubeObject> {
  protected readonly parents: Informer<Parent>;
  private readonly children: { informer: Informer<KubeObject>; ownerKind: string }[] = [];
  private readonly dirty = new Set<string>();
  private worker: Promise<void> | undefined;
  private running = false;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    protected readonly client: KubeClient,
    parentType: ResourceType,
    protected readonly log: Logger,
  ) {
    this.parents = new Informer<Parent>(client, { type: parentType, log });
  }

  /** Watches a child type; a change to a child owned (as controller) by a `ownerKind` marks that owner dirty. */
  protected watchChildren<T extends KubeObject>(type: ResourceType, ownerKind: string): Informer<T> {
    const informer = new Informer<T>(this.client, { type, log: this.log });
    this.children.push({ informer: informer as unknown as Informer<KubeObject>, ownerKind });
    return informer;
  }

  /** Maps a child to the parent key it belongs to (default: its controller owner of the watched kind). */
  protected parentKeyOf(child: KubeObject, ownerKind: string): string | undefined {
    const owner = (child.metadata.ownerReferences ?? []).find((o) => o.controller && o.kind === ownerKind);
    return owner ? `${child.metadata.namespace ?? ''}/${owner.name}` : undefined;
  }

  async start(): Promise<void> {
    this.running = true;
    this.parents.on((_type, parent) => this.markDirty(keyOf(parent)));
    for (const { informer, ownerKind } of this.children) {
      informer.on((_type, child) => {
        const key = this.parentKeyOf(child, ownerKind);
        if (key) this.markDirty(key);
      });
    }
    this.parents.start();
    for (const { informer } of this.children) informer.start();
    await Promise.all([this.parents.synced(), ...this.children.map((c) => c.informer.synced())]);
    for (const parent of this.parents.list()) this.markDirty(keyOf(parent));
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.retry);
    await Promise.all([this.parents.stop(), ...this.children.map((c) => c.informer.stop())]);
    await this.worker;
  }

  markDirty(key: string): void {
    if (!this.running) return;
    this.dirty.add(key);
    if (!this.worker) this.worker = this.work().finally(() => (this.worker = undefined));
  }

  private async work(): Promise<void> {
    while (this.dirty.size > 0 && this.running) {
      const [key] = this.dirty;
      if (key === undefined) break;
      this.dirty.delete(key);
      try {
        const parent = this.parents.get(key);
        if (parent && !parent.metadata.deletionTimestamp) await this.sync(parent);
      } catch (error) {
        this.log.warn({ key, error: String(error) }, 'sync failed; will retry');
        clearTimeout(this.retry);
        this.retry = setTimeout(() => this.markDirty(key), 500);
      }
    }
  }

  protected abstract sync(parent: Parent): Promise<void>;

  /** Creates an object; an AlreadyExists (a stale cache) is no error. */
  protected async create<T extends KubeObject>(type: ResourceType, object: T): Promise<T | undefined> {
    try {
      return await this.client.create<T>(resourcePath(type, { namespace: object.metadata.namespace }), object);
    } catch (error) {
      if (isAlreadyExists(error)) return undefined;
      throw error;
    }
  }

  /** Deletes an object (this uid only); background propagation, as controllers do. */
  protected async remove(type: ResourceType, object: KubeObject): Promise<void> {
    try {
      await this.client.delete(
        resourcePath(type, { namespace: object.metadata.namespace, name: object.metadata.name }),
        undefined,
        {
          apiVersion: 'v1',
          kind: 'DeleteOptions',
          propagationPolicy: 'Background',
          preconditions: { uid: object.metadata.uid },
        },
      );
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  /** Merge-patches the parent's status when it changed. */
  protected async writeStatus(type: ResourceType, parent: Parent, status: Record<string, unknown>): Promise<void> {
    const before = (parent as { status?: Record<string, unknown> }).status ?? {};
    if (Object.entries(status).every(([k, v]) => JSON.stringify(before[k]) === JSON.stringify(v))) return;
    try {
      await this.client.patch(
        resourcePath(type, { namespace: parent.metadata.namespace, name: parent.metadata.name, subresource: 'status' }),
        { status },
        'merge',
      );
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }
}
