import './node-compat.js';
import { type KubeConfig, Watch } from '@kubernetes/client-node';
import type { WatchKind } from './context.js';

/** Starts watches on some kinds and calls `onChange` for every change; returns a function that stops them. */
export interface ChangeSource {
  start(kinds: readonly WatchKind[], onChange: () => void): () => void;
}

export interface WatchScope {
  driver: string;
  /** undefined = all namespaces */
  namespace: string | undefined;
  /** the namespace `events` are read from when the scope is all namespaces (group NAME has one) */
  eventsNamespace?: string;
}

export function watchPath(kind: WatchKind, scope: WatchScope): { path: string; query: Record<string, string> } {
  const ns = scope.namespace;
  switch (kind) {
    case 'resourceslices':
      return {
        path: '/apis/resource.k8s.io/v1/resourceslices',
        query: { fieldSelector: `spec.driver=${scope.driver}` },
      };
    case 'nodes':
      return { path: '/api/v1/nodes', query: {} };
    case 'pods':
      return { path: ns ? `/api/v1/namespaces/${ns}/pods` : '/api/v1/pods', query: {} };
    case 'resourceclaims':
      return {
        path: ns
          ? `/apis/resource.k8s.io/v1/namespaces/${ns}/resourceclaims`
          : '/apis/resource.k8s.io/v1/resourceclaims',
        query: {},
      };
    case 'events': {
      const eventsNs = ns ?? scope.eventsNamespace;
      return { path: eventsNs ? `/api/v1/namespaces/${eventsNs}/events` : '/api/v1/events', query: {} };
    }
  }
}

/**
 * Real watches with client-node's Watch. A watch that ends, for any reason (server timeout, 410 Gone, a network
 * error), is started again after a pause: client-node would otherwise stop for good. Restarting without a
 * resourceVersion replays the current objects as ADDED, which costs one redraw and misses nothing.
 */
export function apiChangeSource(kc: KubeConfig, scope: WatchScope, retryMs = 1000): ChangeSource {
  return {
    start(kinds, onChange) {
      let stopped = false;
      const controllers = new Set<AbortController>();
      const run = (kind: WatchKind) => {
        if (stopped) return;
        const { path, query } = watchPath(kind, scope);
        const watch = new Watch(kc);
        let controller: AbortController | undefined;
        const again = () => {
          if (controller) controllers.delete(controller);
          if (!stopped) setTimeout(() => run(kind), retryMs).unref();
        };
        watch
          .watch(
            path,
            { ...query, allowWatchBookmarks: 'true' },
            (type) => {
              if (type !== 'BOOKMARK') onChange();
            },
            again,
          )
          .then((c) => {
            controller = c;
            if (stopped) c.abort();
            else controllers.add(c);
          })
          .catch(again);
      };
      for (const kind of new Set(kinds)) run(kind);
      return () => {
        stopped = true;
        for (const c of controllers) c.abort();
        controllers.clear();
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
