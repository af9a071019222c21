import './node-compat.js';
import {
  ApiException,
  CoreV1Api,
  type CoreV1Event,
  type KubeConfig,
  ResourceV1Api,
  type ResourceV1ResourceClaim,
  type V1ListMeta,
  type V1Node,
  type V1Pod,
  type V1ResourceSlice,
} from '@kubernetes/client-node';

export interface Scope {
  /** undefined = all namespaces */
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
}

/** What the plugin reads, one list per kind. A seam so the verbs can be tested on hand-made objects. */
export interface ClusterReader {
  slices(fieldSelector: string): Promise<V1ResourceSlice[]>;
  nodes(labelSelector?: string): Promise<V1Node[]>;
  pods(scope: Scope): Promise<V1Pod[]>;
  claims(scope: Scope): Promise<ResourceV1ResourceClaim[]>;
  events(scope: Scope): Promise<CoreV1Event[]>;
}

export type ApiFailure = 'unreachable' | 'unauthorized' | 'forbidden' | 'not-found' | 'server';

/** An API call that failed, with what kind of failure it was (check's exit code depends on it). */
export class ApiError extends Error {
  constructor(
    readonly failure: ApiFailure,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Large clusters: pages of this many objects (kubectl's default chunk size). */
export const PAGE_SIZE = 500;

interface Page<T> {
  items: T[];
  metadata?: V1ListMeta;
}

/** Lists every page: limit/continue, so the API server never builds one huge response. */
export async function listAll<T>(what: string, page: (cont: string | undefined) => Promise<Page<T>>): Promise<T[]> {
  const out: T[] = [];
  let cont: string | undefined;
  do {
    let result: Page<T>;
    try {
      result = await page(cont);
    } catch (err) {
      throw toApiError(err, what);
    }
    out.push(...result.items);
    cont = result.metadata?._continue || undefined;
  } while (cont);
  return out;
}

function statusMessage(body: unknown): string | undefined {
  let value: unknown = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      return body.trim() || undefined;
    }
  }
  if (value && typeof value === 'object' && 'message' in value && typeof value.message === 'string') {
    return value.message;
  }
  return undefined;
}

function rootCause(err: unknown): string {
  let e: unknown = err;
  const seen = new Set<unknown>();
  let message = err instanceof Error ? err.message : String(err);
  while (e instanceof Error && !seen.has(e)) {
    seen.add(e);
    const code = (e as Error & { code?: unknown }).code;
    if (typeof code === 'string') message = e.message || code;
    e = (e as Error & { cause?: unknown }).cause;
  }
  return message;
}

/** Turns what client-node throws into one clear line, as kubectl would say it. */
export function toApiError(err: unknown, what: string): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof ApiException) {
    const message = statusMessage(err.body) ?? `HTTP ${err.code}`;
    const failure: ApiFailure =
      err.code === 401 ? 'unauthorized' : err.code === 403 ? 'forbidden' : err.code === 404 ? 'not-found' : 'server';
    const prefix =
      failure === 'forbidden' ? 'Forbidden' : failure === 'unauthorized' ? 'Unauthorized' : `HTTP ${err.code}`;
    return new ApiError(failure, `listing ${what}: ${prefix}: ${message}`);
  }
  return new ApiError('unreachable', `cannot reach the API server listing ${what}: ${rootCause(err)}`);
}

/** The real reader: @kubernetes/client-node, paged lists, field and label selectors passed to the server. */
export function apiReader(kc: KubeConfig): ClusterReader {
  const core = kc.makeApiClient(CoreV1Api);
  const resource = kc.makeApiClient(ResourceV1Api);
  return {
    slices: (fieldSelector) =>
      listAll('resourceslices', (cont) =>
        resource.listResourceSlice({ fieldSelector, limit: PAGE_SIZE, _continue: cont }),
      ),
    nodes: (labelSelector) =>
      listAll('nodes', (cont) => core.listNode({ labelSelector, limit: PAGE_SIZE, _continue: cont })),
    pods: ({ namespace, labelSelector, fieldSelector }) =>
      listAll('pods', (cont) =>
        namespace === undefined
          ? core.listPodForAllNamespaces({ labelSelector, fieldSelector, limit: PAGE_SIZE, _continue: cont })
          : core.listNamespacedPod({ namespace, labelSelector, fieldSelector, limit: PAGE_SIZE, _continue: cont }),
      ),
    claims: ({ namespace, labelSelector, fieldSelector }) =>
      listAll('resourceclaims', (cont) =>
        namespace === undefined
          ? resource.listResourceClaimForAllNamespaces({
              labelSelector,
              fieldSelector,
              limit: PAGE_SIZE,
              _continue: cont,
            })
          : resource.listNamespacedResourceClaim({
              namespace,
              labelSelector,
              fieldSelector,
              limit: PAGE_SIZE,
              _continue: cont,
            }),
      ),
    events: ({ namespace, labelSelector, fieldSelector }) =>
      listAll('events', (cont) =>
        namespace === undefined
          ? core.listEventForAllNamespaces({ labelSelector, fieldSelector, limit: PAGE_SIZE, _continue: cont })
          : core.listNamespacedEvent({ namespace, labelSelector, fieldSelector, limit: PAGE_SIZE, _continue: cont }),
      ),
  };
}
