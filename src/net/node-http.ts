/**
 * `node:http` loaded through CommonJS require, for every program that speaks HTTP.
 *
 * Node's ESM view of a built-in reads every export once to fill the namespace, and `node:http`'s exports include
 * lazy getters (WebSocket, CloseEvent, MessageEvent) that load the whole bundled undici. An `import … from 'node:http'`
 * therefore parses and keeps undici in every process, although nothing here uses fetch or WebSocket: measured on
 * Node 24, 2.7 MB of the agent's resident memory (1.6 MB anonymous heap, 1.1 MB of the binary's pages). require()
 * hands over the exports object without reading the getters. Types still come from `node:http` (type-only imports
 * load nothing).
 */
import { createRequire } from 'node:module';

/**
 * The `node:http` module, without undici. `process.getBuiltinModule` (Node ≥ 20.16) works in every form lockstep
 * ships, the single executable included, where a CommonJS bundle has no `import.meta.url` to make a require from; the
 * require is for an older Node, which must still reach the entry's one-line floor error.
 */
export const http: typeof import('node:http') =
  process.getBuiltinModule?.('node:http') ?? createRequire(import.meta.url)('node:http');
