/**
 * A watch as the real API server streams it: newline-delimited JSON events over a chunked response, the current
 * state first when no resourceVersion is given, replay from the store's history otherwise (an ERROR event with a
 * 410 Status when it is gone), BOOKMARKs when allowed, Tables for `kubectl get -w`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { badRequest, gone } from './errors.js';
import type { Faults } from './faults.js';
import { apiVersionOf, type KindSpec } from './kinds.js';
import { queryBool } from './query.js';
import type { Registry } from './registry.js';
import { type EventType, ExpiredError, type StoreEvent, type Watcher } from './store.js';
import { tableOf, wantsTable } from './tables.js';
import type { KubeObject } from './types.js';

export interface WatchDeps {
  registry: Registry;
  faults: Faults;
  bookmarkIntervalMs: number;
  openWatches: Set<ServerResponse>;
}

const JSON_TYPE = 'application/json';

export function serveWatch(
  d: WatchDeps,
  req: IncomingMessage,
  res: ServerResponse,
  spec: KindSpec,
  namespace: string | undefined,
  query: URLSearchParams,
) {
  const { registry } = d;
  const sel = registry.compileSelectors(spec, {
    labelSelector: query.get('labelSelector') ?? undefined,
    fieldSelector: query.get('fieldSelector') ?? undefined,
  });
  const match = registry.matcher(spec, sel);
  const table = wantsTable(req.headers.accept);
  const includeObject = query.get('includeObject') ?? undefined;
  const rvParam = query.get('resourceVersion') ?? '';
  const sendInitial = queryBool(query, 'sendInitialEvents') === true;
  const bookmarks = queryBool(query, 'allowWatchBookmarks') === true;
  let fromRv: number | undefined;
  if (rvParam !== '' && rvParam !== '0' && !sendInitial) {
    fromRv = Number(rvParam);
    if (!Number.isInteger(fromRv) || fromRv < 0) throw badRequest(`invalid resource version: ${rvParam}`);
  }
  res.writeHead(200, {
    'Content-Type': JSON_TYPE,
    'Transfer-Encoding': 'chunked',
    'Cache-Control': 'no-cache, private',
  });
  res.flushHeaders();
  const apiVersion = apiVersionOf(spec);
  const formatKey = table ? undefined : apiVersion;
  let headersSent = false;
  const encode = (type: EventType | 'ERROR' | 'BOOKMARK', obj: unknown): string => {
    let object = obj;
    if (table && type !== 'ERROR' && type !== 'BOOKMARK') {
      object = tableOf(
        spec,
        [obj as KubeObject],
        { resourceVersion: (obj as KubeObject).metadata.resourceVersion },
        includeObject,
        !headersSent,
      );
      headersSent = true;
    }
    return `${JSON.stringify({ type, object })}\n`;
  };
  const write = (line: string) => {
    if (!res.writableEnded) res.write(line);
  };
  const expired = (message: string) => {
    write(encode('ERROR', gone(message).status()));
    res.end();
  };
  if (d.faults.takeExpiredWatch()) {
    const rv = registry.store.resourceVersion;
    return expired(`too old resource version: ${fromRv ?? rv} (${rv + 1})`);
  }
  const watcher: Watcher = {
    namespace: spec.namespaced ? namespace : undefined,
    matches: match,
    send: (type: EventType, object: KubeObject, ev: StoreEvent) => {
      if (formatKey && object === ev.object) {
        ev.encoded ??= new Map();
        let line = ev.encoded.get(formatKey);
        if (line === undefined) {
          line = encode(type, registry.present(spec, object));
          ev.encoded.set(formatKey, line);
        }
        write(line);
        return;
      }
      write(encode(type, registry.present(spec, object)));
    },
  };
  if (fromRv === undefined) {
    for (const o of registry.list(spec, namespace).items) if (match(o)) write(encode('ADDED', o));
    if (sendInitial && bookmarks)
      write(
        encode('BOOKMARK', {
          kind: spec.kind,
          apiVersion,
          metadata: {
            resourceVersion: String(registry.store.resourceVersion),
            annotations: { 'k8s.io/initial-events-end': 'true' },
          },
        }),
      );
  }
  let unregister: () => void;
  try {
    unregister = registry.watch(spec, watcher, fromRv);
  } catch (err) {
    if (err instanceof ExpiredError) return expired(err.message);
    throw err;
  }
  d.openWatches.add(res);
  const timers: NodeJS.Timeout[] = [];
  if (bookmarks && d.bookmarkIntervalMs > 0) {
    timers.push(
      setInterval(() => {
        write(
          encode('BOOKMARK', {
            kind: spec.kind,
            apiVersion,
            metadata: { resourceVersion: String(registry.store.resourceVersion) },
          }),
        );
      }, d.bookmarkIntervalMs),
    );
  }
  const timeout = Number(query.get('timeoutSeconds') ?? 0);
  if (timeout > 0) timers.push(setTimeout(() => res.end(), timeout * 1000));
  const cleanup = () => {
    unregister();
    for (const t of timers) clearTimeout(t);
    d.openWatches.delete(res);
  };
  res.on('close', cleanup);
  res.on('finish', cleanup);
  req.on('close', () => {
    if (!res.writableEnded) res.end();
  });
}
