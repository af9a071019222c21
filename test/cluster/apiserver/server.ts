/**
 * The HTTP face of the API server double: authentication, request counting, fault injection, authorization, then
 * routing to discovery, OpenAPI, or the registry. Watches are chunked streams of newline-delimited JSON events.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parse as parseYaml } from 'yaml';
import { accessReview, impersonate } from './access-review.js';
import {
  AGGREGATED_CONTENT_TYPE,
  aggregatedDiscovery,
  apiGroupDoc,
  apiGroupList,
  apiResourceList,
  legacyApiVersions,
  wantsAggregated,
} from './discovery.js';
import { badRequest, conflict, forbidden, STALE_OBJECT, StatusError, unauthorized } from './errors.js';
import type { Faults, RequestCounters } from './faults.js';
import { apiVersionOf, type KindRegistry, type KindSpec } from './kinds.js';
import { managerFromUserAgent } from './managed-fields.js';
import type { OpenApi } from './openapi.js';
import { decodeEnvelope, decodeReview } from './protobuf.js';
import { decodeKindBody, ProtobufDecodeError, protobufKindSupported } from './protobuf-kinds.js';
import { checkListOptions, listQuery, queryBool } from './query.js';
import { Rbac, type ResourceAttributes } from './rbac.js';
import type { DeleteOptions, PatchType, Registry, WriteOptions } from './registry.js';
import type { Authenticator } from './serviceaccounts.js';
import { tableOf, wantsTable } from './tables.js';
import { isRecord, type KubeObject, type UserInfo } from './types.js';
import { serveWatch } from './watch-stream.js';

export interface ServerDeps {
  kinds: KindRegistry;
  registry: Registry;
  faults: Faults;
  counters: RequestCounters;
  rbac: Rbac;
  auth: Authenticator;
  openapi: OpenApi;
  bookmarkIntervalMs: number;
  serverAddress: () => string;
  version: { major: string; minor: string; gitVersion: string };
  maxBodyBytes?: number;
}

interface ResourceRequest {
  spec: KindSpec;
  namespace?: string;
  name?: string;
  subresource?: string;
}

const JSON_TYPE = 'application/json';

function sendJson(
  res: ServerResponse,
  code: number,
  body: unknown,
  headers: Record<string, string | string[]> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'Content-Type': JSON_TYPE, 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function sendError(res: ServerResponse, err: StatusError): void {
  const headers: Record<string, string> = { ...err.headers };
  if (err.details?.retryAfterSeconds !== undefined) headers['Retry-After'] = String(err.details.retryAfterSeconds);
  sendJson(res, err.code, err.status(), headers);
}

/**
 * /version as a real server answers it (k8s.io/apimachinery/pkg/version.Info): every field filled, since clients such
 * as python-kubernetes' VersionApi refuse an answer that lacks one. The platform is the one release builds ship
 * for, not this machine's.
 */
function versionInfo(v: ServerDeps['version']): Record<string, string> {
  return {
    major: v.major,
    minor: v.minor,
    emulationMajor: v.major,
    emulationMinor: v.minor,
    minCompatibilityMajor: v.major,
    minCompatibilityMinor: String(Number(v.minor) - 1),
    gitVersion: v.gitVersion,
    gitCommit: '0000000000000000000000000000000000000000',
    gitTreeState: 'clean',
    buildDate: '2025-08-27T00:00:00Z',
    goVersion: 'go1.24.6',
    compiler: 'gc',
    platform: 'linux/amd64',
  };
}

function warningHeaders(warnings: string[]): Record<string, string[]> {
  if (warnings.length === 0) return {};
  return { Warning: warnings.map((w) => `299 - ${JSON.stringify(w)}`) };
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > limit) throw new StatusError(413, 'RequestEntityTooLarge', 'Request entity too large: limit is 3145728');
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

const UNSUPPORTED_MEDIA =
  'the body of the request was in an unknown format - accepted media types include: application/json, application/yaml';

function parseBody(bytes: Buffer, contentType: string, spec: KindSpec): unknown {
  if (bytes.length === 0) return undefined;
  if (contentType.includes('protobuf')) {
    // kubectl's typed clients send protobuf: the review kinds and the kinds `kubectl create <kind>` makes are read.
    const envelope = decodeEnvelope(bytes);
    if (!envelope) throw new StatusError(415, 'UnsupportedMediaType', UNSUPPORTED_MEDIA);
    if (spec.virtual && spec.kind !== 'TokenReview') return decodeReview(spec.kind, envelope.raw);
    if (!protobufKindSupported(envelope.kind)) throw new StatusError(415, 'UnsupportedMediaType', UNSUPPORTED_MEDIA);
    try {
      return decodeKindBody(envelope.apiVersion, envelope.kind, envelope.raw);
    } catch (err) {
      if (!(err instanceof ProtobufDecodeError)) throw err;
      if (err.status === 400) throw badRequest(`the body of the request could not be decoded: ${err.message}`);
      throw new StatusError(415, 'UnsupportedMediaType', err.message);
    }
  }
  const text = bytes.toString('utf8');
  if (text.trim() === '') return undefined;
  if (!/json|yaml/.test(contentType)) throw new StatusError(415, 'UnsupportedMediaType', UNSUPPORTED_MEDIA);
  try {
    if (contentType.includes('yaml')) return parseYaml(text);
    return JSON.parse(text);
  } catch (err) {
    throw badRequest(`the body of the request could not be decoded: ${(err as Error).message}`);
  }
}

function patchTypeOf(contentType: string): PatchType {
  const ct = contentType.split(';')[0].trim();
  switch (ct) {
    case 'application/json-patch+json':
      return 'json';
    case 'application/merge-patch+json':
      return 'merge';
    case 'application/strategic-merge-patch+json':
      return 'strategic';
    case 'application/apply-patch+yaml':
    case 'application/apply-patch+cbor':
      return 'apply';
    default:
      throw new StatusError(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
      );
  }
}

function patchIsApply(method: string, contentType: string): boolean {
  return method === 'PATCH' && contentType.startsWith('application/apply-patch');
}

function rbacVerb(method: string, r: ResourceRequest, query: URLSearchParams): string {
  switch (method) {
    case 'GET':
    case 'HEAD':
      if (r.name) return 'get';
      return queryBool(query, 'watch') ? 'watch' : 'list';
    case 'POST':
      return 'create';
    case 'PUT':
      return 'update';
    case 'PATCH':
      return 'patch';
    case 'DELETE':
      return r.name ? 'delete' : 'deletecollection';
    default:
      return method.toLowerCase();
  }
}

/** The name a list or watch is narrowed to by `fieldSelector=metadata.name=x`, which RBAC resourceNames may grant. */
function selectedName(query: URLSearchParams): string | undefined {
  const fs = query.get('fieldSelector');
  const m = fs ? /^metadata\.name(?:==|=)([^,]+)$/.exec(fs.trim()) : null;
  return m ? m[1] : undefined;
}

function fieldValidation(query: URLSearchParams): WriteOptions['fieldValidation'] {
  const v = query.get('fieldValidation');
  if (v === null || v === '') return 'Warn';
  if (v === 'Strict' || v === 'Warn' || v === 'Ignore') return v;
  throw badRequest(`fieldValidation parameter unsupported: ${v}`);
}

export class ApiHandler {
  private readonly openWatches = new Set<ServerResponse>();

  constructor(private readonly d: ServerDeps) {
    d.faults.dropWatchesHook = () => this.dropWatches();
  }

  dropWatches(): number {
    const n = this.openWatches.size;
    for (const res of [...this.openWatches]) res.end();
    this.openWatches.clear();
    return n;
  }

  get watchCount(): number {
    return this.openWatches.size;
  }

  handle = (req: IncomingMessage, res: ServerResponse): void => {
    this.serve(req, res).catch((err: unknown) => {
      const apiErr =
        err instanceof StatusError
          ? err
          : new StatusError(500, 'InternalError', `Internal error occurred: ${String(err)}`);
      if (!res.headersSent) sendError(res, apiErr);
      else res.end();
    });
  };

  private authenticate(req: IncomingMessage): UserInfo {
    const header = req.headers.authorization;
    const m = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!m) throw unauthorized();
    const result = this.d.auth.authenticate(m[1]);
    if (typeof result === 'string') throw unauthorized();
    return result.user;
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const segments = url.pathname.split('/').filter((s) => s !== '');
    const user = impersonate(this.d.rbac, req, this.authenticate(req));
    const resource = this.parseResource(segments);
    if (!resource) {
      const path = url.pathname;
      this.d.counters.record(method.toLowerCase(), path, user.username);
      if (!this.d.rbac.allowedPath(user, { verb: method === 'GET' ? 'get' : method.toLowerCase(), path })) {
        throw new StatusError(
          403,
          'Forbidden',
          `forbidden: User "${user.username}" cannot ${method.toLowerCase()} path "${path}"`,
        );
      }
      return this.serveNonResource(req, res, segments, url);
    }
    const verb = rbacVerb(method, resource, url.searchParams);
    this.d.counters.record(verb, resource.spec.plural, user.username);
    const facts = { verb, resource: resource.spec.plural, user: user.username };
    const delay = this.d.faults.latencyFor(facts);
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    const injected = this.d.faults.errorFor(facts);
    if (injected) {
      if (injected.code === 429)
        throw new StatusError(
          429,
          'TooManyRequests',
          'Too many requests, please try again later.',
          { retryAfterSeconds: injected.retryAfterSeconds ?? 1 },
          { 'Retry-After': String(injected.retryAfterSeconds ?? 1) },
        );
      throw new StatusError(
        injected.code,
        injected.code === 503 ? 'ServiceUnavailable' : 'InternalError',
        injected.code === 503
          ? 'The server is currently unable to handle the request'
          : 'Internal error occurred: injected fault',
      );
    }
    const attrs: ResourceAttributes = {
      verb,
      apiGroup: resource.spec.group,
      resource: resource.spec.plural,
      subresource: resource.subresource,
      name: resource.name ?? (verb === 'list' || verb === 'watch' ? selectedName(url.searchParams) : undefined),
      namespace: resource.namespace,
    };
    if (!this.d.rbac.allowed(user, attrs))
      throw forbidden(Rbac.forbiddenMessage(user, attrs), resource.spec.group, resource.spec.plural, resource.name);
    return this.serveResource(req, res, method, verb, resource, url.searchParams, user);
  }

  private parseResource(segments: string[]): ResourceRequest | undefined {
    let group: string;
    let version: string;
    let rest: string[];
    if (segments[0] === 'api' && segments.length >= 3) {
      group = '';
      version = segments[1];
      rest = segments.slice(2);
    } else if (segments[0] === 'apis' && segments.length >= 4) {
      group = segments[1];
      version = segments[2];
      rest = segments.slice(3);
    } else {
      return undefined;
    }
    let namespace: string | undefined;
    if (rest[0] === 'namespaces' && rest.length >= 3 && rest[2] !== 'status' && rest[2] !== 'finalize') {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const spec = this.d.kinds.lookup(group, version, rest[0]);
    if (!spec) throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
    if (namespace !== undefined && !spec.namespaced)
      throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
    const name = rest[1];
    const subresource = rest[2];
    if (rest.length > 3) throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
    if (subresource && !(spec.subresources ?? []).includes(subresource as 'status'))
      throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
    return { spec, namespace, name, subresource };
  }

  private serveNonResource(req: IncomingMessage, res: ServerResponse, segments: string[], url: URL) {
    const accept = req.headers.accept;
    const path = `/${segments.join('/')}`;
    if (req.method !== 'GET' && req.method !== 'HEAD')
      throw new StatusError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
    if (path === '/version') return sendJson(res, 200, versionInfo(this.d.version));
    if (path === '/healthz' || path === '/livez' || path === '/readyz') {
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.end('ok');
      return;
    }
    if (path === '/api' || path === '/apis') {
      const aggregated = wantsAggregated(accept);
      if (aggregated) {
        const contentType =
          aggregated === 'v2' ? AGGREGATED_CONTENT_TYPE : AGGREGATED_CONTENT_TYPE.replace('v=v2', 'v=v2beta1');
        return sendJson(res, 200, aggregatedDiscovery(this.d.kinds, path === '/api', aggregated), {
          'Content-Type': contentType,
          Vary: 'Accept',
        });
      }
      return sendJson(
        res,
        200,
        path === '/api' ? legacyApiVersions(this.d.serverAddress()) : apiGroupList(this.d.kinds),
        { Vary: 'Accept' },
      );
    }
    if (segments[0] === 'api' && segments.length === 2 && segments[1] === 'v1')
      return sendJson(res, 200, apiResourceList(this.d.kinds, '', 'v1'));
    if (segments[0] === 'apis' && segments.length === 2) {
      const doc = apiGroupDoc(this.d.kinds, segments[1]);
      if (doc) return sendJson(res, 200, doc);
    }
    if (segments[0] === 'apis' && segments.length === 3) {
      if (this.d.kinds.groupVersions().some((gv) => gv.group === segments[1] && gv.version === segments[2]))
        return sendJson(res, 200, apiResourceList(this.d.kinds, segments[1], segments[2]));
    }
    if (path === '/openapi/v2') {
      const { body, contentType } = this.d.openapi.v2(accept);
      res.writeHead(200, { 'Content-Type': contentType, 'Content-Length': body.length, Vary: 'Accept' });
      res.end(body);
      return;
    }
    if (segments[0] === 'openapi') {
      const doc = this.d.openapi.serve(segments.slice(1), url.searchParams);
      if (doc !== undefined) return sendJson(res, 200, doc, { 'Cache-Control': 'no-cache, private' });
    }
    throw new StatusError(404, 'NotFound', 'the server could not find the requested resource');
  }

  private async serveResource(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    verb: string,
    r: ResourceRequest,
    query: URLSearchParams,
    user: UserInfo,
  ): Promise<void> {
    const { registry } = this.d;
    const spec = r.spec;
    const accept = req.headers.accept;
    const dryRun = query.get('dryRun') === 'All';
    const contentType = req.headers['content-type'] ?? JSON_TYPE;
    const needsBody = method === 'POST' || method === 'PUT' || method === 'PATCH' || method === 'DELETE';
    const body = needsBody
      ? parseBody(await readBody(req, this.d.maxBodyBytes ?? 3 * 1024 * 1024), contentType, spec)
      : undefined;
    if (spec.verbs && !spec.verbs.includes(verb as 'create'))
      throw new StatusError(
        405,
        'MethodNotAllowed',
        `the server does not allow this method on the requested resource`,
        {
          kind: spec.plural,
          group: spec.group || undefined,
        },
      );
    const writeOpts: WriteOptions = {
      user,
      dryRun,
      fieldValidation: fieldValidation(query),
      subresource: r.subresource,
      fieldManager:
        query.get('fieldManager') ||
        (patchIsApply(method, contentType) ? undefined : managerFromUserAgent(req.headers['user-agent'])),
    };

    switch (verb) {
      case 'get': {
        const obj = registry.get(spec, r.namespace, r.name ?? '');
        if (wantsTable(accept) && !r.subresource)
          return sendJson(
            res,
            200,
            tableOf(
              spec,
              [obj],
              { resourceVersion: obj.metadata.resourceVersion },
              query.get('includeObject') ?? undefined,
            ),
          );
        return sendJson(res, 200, obj);
      }
      case 'list': {
        const options = listQuery(query);
        checkListOptions(options);
        const list = registry.list(spec, r.namespace, {
          resourceVersion: options.resourceVersion,
          resourceVersionMatch: options.resourceVersionMatch,
          labelSelector: query.get('labelSelector') ?? undefined,
          fieldSelector: query.get('fieldSelector') ?? undefined,
          limit: query.get('limit') ? Number(query.get('limit')) : undefined,
          continue: query.get('continue') ?? undefined,
        });
        const meta = {
          resourceVersion: list.resourceVersion,
          ...(list.continue ? { continue: list.continue } : {}),
          ...(list.remainingItemCount !== undefined ? { remainingItemCount: list.remainingItemCount } : {}),
        };
        if (wantsTable(accept))
          return sendJson(res, 200, tableOf(spec, list.items, meta, query.get('includeObject') ?? undefined));
        // Typed lists carry kind/apiVersion once, not per item; custom resources keep them per item.
        const items = spec.custom ? list.items : list.items.map(({ kind: _k, apiVersion: _a, ...rest }) => rest);
        return sendJson(res, 200, { kind: `${spec.kind}List`, apiVersion: apiVersionOf(spec), metadata: meta, items });
      }
      case 'watch':
        checkListOptions(listQuery(query));
        return serveWatch({ ...this.d, openWatches: this.openWatches }, req, res, spec, r.namespace, query);
      case 'create': {
        if (r.subresource === 'token') {
          const tr = this.d.auth.tokenRequest(r.namespace ?? '', r.name ?? '', body);
          return sendJson(res, 201, tr);
        }
        if (r.subresource === 'binding') return this.bind(res, spec, r, body, writeOpts);
        if (spec.kind === 'TokenReview') return sendJson(res, 201, this.d.auth.tokenReview(body));
        if (spec.virtual) return sendJson(res, 201, accessReview(this.d.rbac, spec, body, user));
        if (r.name)
          throw new StatusError(
            405,
            'MethodNotAllowed',
            'the server does not allow this method on the requested resource',
          );
        const { object, warnings } = registry.create(spec, r.namespace, body, writeOpts);
        return sendJson(res, 201, object, warningHeaders(warnings));
      }
      case 'update': {
        if (this.d.faults.takeConflict()) throw conflict(spec.group, spec.plural, r.name ?? '', STALE_OBJECT);
        const { object, warnings } = registry.update(spec, r.namespace, r.name ?? '', body, writeOpts);
        return sendJson(res, 200, object, warningHeaders(warnings));
      }
      case 'patch': {
        if (this.d.faults.takeConflict()) throw conflict(spec.group, spec.plural, r.name ?? '', STALE_OBJECT);
        const type = patchTypeOf(contentType);
        const { object, warnings } = registry.patch(spec, r.namespace, r.name ?? '', type, body, {
          ...writeOpts,
          force: queryBool(query, 'force'),
        });
        return sendJson(res, type === 'apply' && !object ? 201 : 200, object, warningHeaders(warnings));
      }
      case 'delete': {
        const opts = this.deleteOptions(body, query, writeOpts);
        const { object, deleted } = registry.delete(spec, r.namespace, r.name ?? '', opts);
        return sendJson(res, deleted ? 200 : 202, object);
      }
      case 'deletecollection': {
        const opts = this.deleteOptions(body, query, writeOpts);
        const items = registry.deleteCollection(
          spec,
          r.namespace,
          {
            labelSelector: query.get('labelSelector') ?? undefined,
            fieldSelector: query.get('fieldSelector') ?? undefined,
          },
          opts,
        );
        return sendJson(res, 200, {
          kind: `${spec.kind}List`,
          apiVersion: apiVersionOf(spec),
          metadata: { resourceVersion: String(registry.store.resourceVersion) },
          items,
        });
      }
      default:
        throw new StatusError(
          405,
          'MethodNotAllowed',
          'the server does not allow this method on the requested resource',
        );
    }
  }

  private deleteOptions(body: unknown, query: URLSearchParams, base: WriteOptions): DeleteOptions {
    const b = isRecord(body) ? body : {};
    const policy = (b.propagationPolicy ??
      query.get('propagationPolicy') ??
      undefined) as DeleteOptions['propagationPolicy'];
    if (policy !== undefined && !['Orphan', 'Background', 'Foreground'].includes(policy))
      throw badRequest(`propagationPolicy: Unsupported value: "${String(policy)}"`);
    const grace = b.gracePeriodSeconds ?? query.get('gracePeriodSeconds') ?? undefined;
    const orphan = b.orphanDependents === true || queryBool(query, 'orphanDependents') === true;
    return {
      ...base,
      dryRun: base.dryRun || (Array.isArray(b.dryRun) && b.dryRun.includes('All')),
      propagationPolicy: orphan ? 'Orphan' : policy,
      preconditions: isRecord(b.preconditions) ? (b.preconditions as DeleteOptions['preconditions']) : undefined,
      gracePeriodSeconds: grace === undefined ? undefined : Number(grace),
    };
  }

  /** pods/<name>/binding: what the scheduler posts to place a pod on a node. */
  private bind(res: ServerResponse, spec: KindSpec, r: ResourceRequest, body: unknown, opts: WriteOptions): void {
    const target = isRecord(body) && isRecord(body.target) ? body.target : undefined;
    const nodeName = target && typeof target.name === 'string' ? target.name : '';
    if (!nodeName) throw badRequest('Binding target.name is required');
    const pod = this.d.registry.get(spec, r.namespace, r.name ?? '');
    const podSpec = isRecord(pod.spec) ? pod.spec : {};
    if (pod.metadata.deletionTimestamp)
      throw conflict('', 'pods', r.name ?? '', 'pod is being deleted, cannot be assigned to a host');
    if (typeof podSpec.nodeName === 'string' && podSpec.nodeName !== '')
      throw conflict('', 'pods', r.name ?? '', `pod ${r.name} is already assigned to node "${podSpec.nodeName}"`);
    const status = isRecord(pod.status) ? pod.status : {};
    const conditions = (Array.isArray(status.conditions) ? status.conditions : []).filter(
      (c) => !(isRecord(c) && c.type === 'PodScheduled'),
    );
    conditions.push({
      type: 'PodScheduled',
      status: 'True',
      lastProbeTime: null,
      lastTransitionTime: `${new Date().toISOString().slice(0, 19)}Z`,
    });
    const bound: KubeObject = { ...pod, spec: { ...podSpec, nodeName }, status: { ...status, conditions } };
    // Binding writes spec and status together, which neither the main resource nor /status may do.
    this.d.registry.store.put('pods', bound);
    void opts;
    sendJson(res, 201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 });
  }
}
