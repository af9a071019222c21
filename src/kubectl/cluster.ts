import { KubeConfig } from '@kubernetes/client-node';
import { ApiError as KubeApiError, KubeClient } from '../kube/client.js';
import { loadKubeConfig } from '../kube/config.js';
import {
  DEVICE_TAINT_RULES,
  EVENTS,
  NODES,
  PODS,
  RESOURCE_CLAIMS,
  RESOURCE_SLICES,
  type ResourceType,
  resourcePath,
} from '../kube/resources.js';
import type { KubeList } from '../kube/types.js';
import { VERSION } from '../version.js';
import type { DeviceTaintRule, Event, Node, PodWithStatus, ResourceClaim, ResourceSlice } from './wire.js';

export interface Scope {
  /** undefined = all namespaces */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

export type ReadKind = 'resourceslices' | 'nodes' | 'pods' | 'resourceclaims' | 'events' | 'devicetaintrules';

export const RESOURCE_TYPES: Record<ReadKind, ResourceType> = {
  resourceslices: RESOURCE_SLICES,
  nodes: NODES,
  pods: PODS,
  resourceclaims: RESOURCE_CLAIMS,
  events: EVENTS,
  devicetaintrules: DEVICE_TAINT_RULES,
};

export interface KindMap {
  resourceslices: ResourceSlice;
  nodes: Node;
  pods: PodWithStatus;
  resourceclaims: ResourceClaim;
  events: Event;
  devicetaintrules: DeviceTaintRule;
}

/** What the plugin reads: one list per kind, whatever the cluster's size. A seam for tests and for -w. */
export interface ClusterReader {
  list<K extends ReadKind>(kind: K, scope: Scope): Promise<KindMap[K][]>;
}

/**
 * Runs a verb's reads at once and, when any fails, throws the first failure in the order they are given, not the
 * first to arrive: `devices` as someone who may read neither slices nor claims says the same error line every time
 * (Promise.all would report whichever request the API server answered first).
 */
export async function readAll<T extends readonly unknown[] | []>(
  reads: T,
): Promise<{ -readonly [P in keyof T]: Awaited<T[P]> }> {
  const settled = await Promise.allSettled(reads);
  for (const s of settled) if (s.status === 'rejected') throw s.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as {
    -readonly [P in keyof T]: Awaited<T[P]>;
  };
}

export type ApiFailure = 'unreachable' | 'unauthorized' | 'forbidden' | 'not-found' | 'server';

/** An API call that failed, with what kind of failure it was (check's exit code depends on it). */
export class ClusterReadError extends Error {
  constructor(
    readonly failure: ApiFailure,
    message: string,
  ) {
    super(message);
    this.name = 'ClusterReadError';
  }
}

/** Large clusters: pages of this many objects (kubectl's default chunk size). */
const PAGE_SIZE = 500;

function rootCause(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown; errors?: unknown };
  // Node reports a refused dual-stack connect as an AggregateError with an empty message
  if (Array.isArray(e.errors) && e.errors.length > 0) return rootCause(e.errors[0]);
  const message = typeof e.message === 'string' ? e.message : String(err);
  return message || (typeof e.code === 'string' ? e.code : 'unknown error');
}

/** Turns what the client throws into one clear line, as kubectl would say it. */
function toClusterReadError(err: unknown, kind: string): ClusterReadError {
  if (err instanceof ClusterReadError) return err;
  if (err instanceof KubeApiError) {
    const message = err.statusBody?.message ?? `HTTP ${err.status}`;
    const failure: ApiFailure =
      err.status === 401
        ? 'unauthorized'
        : err.status === 403
          ? 'forbidden'
          : err.status === 404
            ? 'not-found'
            : 'server';
    const label =
      failure === 'forbidden' ? 'Forbidden' : failure === 'unauthorized' ? 'Unauthorized' : `HTTP ${err.status}`;
    return new ClusterReadError(failure, `listing ${kind}: ${label}: ${message}`);
  }
  return new ClusterReadError('unreachable', `cannot reach the API server (listing ${kind}): ${rootCause(err)}`);
}

/** The real reader: paged lists (limit/continue), field and label selectors evaluated by the server. */
export function apiReader(client: KubeClient): ClusterReader {
  const list = async <K extends ReadKind>(kind: K, scope: Scope): Promise<KindMap[K][]> => {
    const path = resourcePath(RESOURCE_TYPES[kind], scope.namespace ? { namespace: scope.namespace } : {});
    const out: KindMap[K][] = [];
    let cont: string | undefined;
    do {
      let page: KubeList<KindMap[K]>;
      try {
        page = await client.get<KubeList<KindMap[K]>>(path, {
          limit: PAGE_SIZE,
          continue: cont,
          fieldSelector: scope.fieldSelector,
          labelSelector: scope.labelSelector,
        });
      } catch (err) {
        throw toClusterReadError(err, kind);
      }
      out.push(...page.items);
      cont = page.metadata?.continue || undefined;
    } while (cont);
    return out;
  };
  return { list };
}

export interface ClusterConnection {
  kc: KubeConfig;
  client: KubeClient;
  /** the context's namespace, else `default` (kubectl's rule) */
  namespace: string;
}

/** kubectl's connection flags: which kubeconfig and context, and what overrides them. */
export interface ConnectOptions {
  kubeconfig?: string;
  context?: string;
  /** --server: the API server's address instead of the context's cluster's */
  server?: string;
  /** --token: a bearer token instead of the context's user's credentials */
  token?: string;
  /** --as / --as-group: impersonate (the server checks the caller may) */
  as?: string;
  asGroups?: readonly string[];
  /** --request-timeout in ms; 0 waits for ever (kubectl's default) */
  requestTimeoutMs?: number;
}

/**
 * The kubeconfig with --server and --token applied as kubectl's clientcmd overrides do: --server replaces the
 * current cluster's address (keeping its CA), --token replaces the current user's credentials. With --server and no
 * kubeconfig at all, the flags alone make the configuration.
 */
function applyOverrides(load: () => KubeConfig, options: ConnectOptions): KubeConfig {
  let kc: KubeConfig;
  try {
    kc = load();
  } catch (err) {
    if (!options.server) throw err;
    kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'flags', server: options.server, skipTLSVerify: false }],
      users: [{ name: 'flags' }],
      contexts: [{ name: 'flags', cluster: 'flags', user: 'flags' }],
      currentContext: 'flags',
    });
  }
  if (!options.server && !options.token) return kc;
  const context = kc.getContextObject(kc.getCurrentContext());
  const cluster = kc.getCurrentCluster();
  const user = kc.getCurrentUser();
  if (!context || !cluster) return kc;
  const out = new KubeConfig();
  out.loadFromOptions({
    clusters: [{ ...cluster, ...(options.server ? { server: options.server } : {}) }],
    users: [options.token ? { name: user?.name ?? 'flags', token: options.token } : (user ?? { name: 'flags' })],
    contexts: [{ ...context, cluster: cluster.name, user: user?.name ?? 'flags' }],
    currentContext: context.name,
  });
  return out;
}

/** kubeconfig as kubectl finds it (src/kube/config.ts), the flags over it, then a client for it. */
export function connect(options: ConnectOptions): ClusterConnection {
  const kc = applyOverrides(
    () =>
      loadKubeConfig({
        ...(options.kubeconfig ? { kubeconfig: options.kubeconfig } : {}),
        ...(options.context ? { context: options.context } : {}),
      }),
    options,
  );
  const namespace = kc.getContextObject(kc.getCurrentContext())?.namespace || 'default';
  const extraHeaders: Record<string, string | string[]> = {};
  if (options.as) extraHeaders['impersonate-user'] = options.as;
  if (options.asGroups?.length) extraHeaders['impersonate-group'] = [...options.asGroups];
  return {
    kc,
    client: new KubeClient(kc, {
      userAgent: `kubectl-lockstep/${VERSION}`,
      extraHeaders,
      ...(options.requestTimeoutMs !== undefined ? { timeoutMs: options.requestTimeoutMs } : {}),
    }),
    namespace,
  };
}
