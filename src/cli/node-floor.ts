/**
 * lockstep needs Node.js ≥ 22.19: @kubernetes/client-node 2 ships undici 8, which reads Node 22 APIs
 * (`zlib.createZstdDecompress`, `worker_threads.markAsUncloneable`) when it loads and calls `Promise.withResolvers`
 * on every request. Each entry point imports this module first (a side-effect import keeps its place when imports are
 * sorted, and ESM evaluates imports in order), so an older Node prints one line and exits 1 before client-node is
 * evaluated, instead of a stack trace from inside undici.
 */

/** The oldest Node.js lockstep runs on, as [major, minor] (package.json `engines.node`). */
export const NODE_FLOOR: readonly [number, number] = [22, 19];

/** Whether a `process.versions.node` string ("22.19.0") is at or above the floor. */
export function meetsNodeFloor(version: string): boolean {
  const [major = 0, minor = 0] = version.split('.').map((part) => Number.parseInt(part, 10));
  return major > NODE_FLOOR[0] || (major === NODE_FLOOR[0] && minor >= NODE_FLOOR[1]);
}

if (!meetsNodeFloor(process.versions.node)) {
  process.stderr.write(`error: lockstep needs Node.js >= ${NODE_FLOOR.join('.')} (this is ${process.version})\n`);
  process.exit(1);
}
