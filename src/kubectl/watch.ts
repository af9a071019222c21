import type { KubeClient } from '../kube/client.js';
import { Informer } from '../kube/informer.js';
import type { ClusterReader, KindMap, ReadKind, Scope } from './cluster.js';
import { RESOURCE_TYPES } from './cluster.js';
import type { KubeObject } from './wire.js';

/** One list a verb made: the same call is then served from a watch cache. */
export interface ReadCall {
  kind: ReadKind;
  scope: Scope;
  /**
   * what the list failed with (a kind the server does not serve, a list the user may not make): -w does not watch it
   * and answers the same failure again, so the verb takes the fallback it took the first time
   */
  error?: unknown;
}

function callKey(kind: ReadKind, scope: Scope): string {
  return JSON.stringify([kind, scope.namespace ?? '', scope.labelSelector ?? '', scope.fieldSelector ?? '']);
}

/** Passes lists through and remembers which were made, so -w can watch exactly those. */
export function recordingReader(inner: ClusterReader, calls: ReadCall[]): ClusterReader {
  return {
    list(kind, scope) {
      let call = calls.find((c) => callKey(c.kind, c.scope) === callKey(kind, scope));
      if (!call) {
        call = { kind, scope };
        calls.push(call);
      }
      const recorded = call;
      return inner.list(kind, scope).catch((err: unknown) => {
        recorded.error = err;
        throw err;
      });
    },
  };
}

/** Keeps the lists of a verb current and says when any changed. */
export interface ChangeSource {
  /** resolves once every cache holds a first full list; `reader` then answers from the caches */
  start(
    calls: readonly ReadCall[],
    onChange: () => void,
  ): Promise<{ reader: ClusterReader; stop: () => Promise<void> }>;
}

/**
 * -w with src/kube's Informer per list the verb made (same selectors): a list, then a watch that resumes after
 * every error or timeout, so a redraw costs no request at all.
 */
export function informerChangeSource(client: KubeClient): ChangeSource {
  return {
    async start(calls, onChange) {
      const informers = new Map<string, Informer<KubeObject>>();
      for (const call of calls) {
        if (call.error !== undefined) continue;
        const informer = new Informer<KubeObject>(client, {
          type: RESOURCE_TYPES[call.kind],
          ...(call.scope.namespace ? { namespace: call.scope.namespace } : {}),
          ...(call.scope.fieldSelector ? { fieldSelector: call.scope.fieldSelector } : {}),
          ...(call.scope.labelSelector ? { labelSelector: call.scope.labelSelector } : {}),
        });
        informer.on(() => onChange());
        informer.start();
        informers.set(callKey(call.kind, call.scope), informer);
      }
      await Promise.all([...informers.values()].map((i) => i.synced()));
      const reader: ClusterReader = {
        async list<K extends ReadKind>(kind: K, scope: Scope): Promise<KindMap[K][]> {
          const failed = calls.find((c) => c.error !== undefined && callKey(c.kind, c.scope) === callKey(kind, scope));
          if (failed) throw failed.error;
          const informer = informers.get(callKey(kind, scope));
          if (!informer) throw new Error(`no watch for ${kind}`);
          return informer.list() as KindMap[K][];
        },
      };
      return {
        reader,
        stop: async () => {
          await Promise.all([...informers.values()].map((i) => i.stop()));
        },
      };
    },
  };
}

/** Calls `fn` once `ms` after the last of a burst of calls. */
export function debounce(fn: () => void, ms: number): () => void {
  let timer: NodeJS.Timeout | undefined;
  return () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      fn();
    }, ms);
  };
}
