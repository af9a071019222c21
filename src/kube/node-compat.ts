/**
 * @kubernetes/client-node 2 ships undici 8, which needs Node ≥ 22.19: at load time it reads
 * `zlib.createZstdDecompress` and `worker_threads.markAsUncloneable`, and each request calls
 * `Promise.withResolvers`. The container image runs Node 24, where this module does nothing; development
 * machines with Node 20 get the three missing pieces so the plugin and its tests run there too. Import this module
 * before @kubernetes/client-node (a side-effect import keeps its place when imports are sorted).
 */
import * as workerThreads from 'node:worker_threads';
import * as zlib from 'node:zlib';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

const zlibModule =
  (zlib as unknown as { default?: Record<string, unknown> }).default ?? (zlib as unknown as Record<string, unknown>);
if (typeof zlibModule.createZstdDecompress !== 'function') {
  // Only used when a server answers with zstd, which the API server does not do unless asked.
  zlibModule.createZstdDecompress = () => {
    throw new Error('zstd decompression needs Node ≥ 22.15');
  };
}

const wtModule =
  (workerThreads as unknown as { default?: Record<string, unknown> }).default ??
  (workerThreads as unknown as Record<string, unknown>);
if (typeof wtModule.markAsUncloneable !== 'function') {
  // Marks an object as not transferable to workers: nothing to enforce when no worker receives it.
  wtModule.markAsUncloneable = () => {};
}

const promise = Promise as Mutable<PromiseConstructor> & { withResolvers?: unknown };
if (typeof promise.withResolvers !== 'function') {
  promise.withResolvers = function withResolvers<T>(this: PromiseConstructor) {
    let resolve!: (value: T | PromiseLike<T>) => void;
    let reject!: (reason?: unknown) => void;
    const p = new this<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise: p, resolve, reject };
  };
}
