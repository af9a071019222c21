import type { CoordinatorOptions } from '../../../leader/coordinator/coordinator.js';
import { silentLogger } from '../../../src/log.js';

/**
 * Options for an in-process coordinator of group `g` (two members, namespace `ns`) on a free loopback port, logging
 * nothing; `overrides` adds to them or replaces them.
 */
export function coordinatorOptions(overrides: Partial<CoordinatorOptions> = {}): CoordinatorOptions {
  return {
    group: 'g',
    namespace: 'ns',
    size: 2,
    masterPort: 29500,
    listen: '127.0.0.1:0',
    log: silentLogger(),
    heartbeatIntervalMs: 500,
    ...overrides,
  };
}
