/**
 * A simulated node's slices as the agent would publish them (the 8x H100 node's by default): the simulated node (test/cluster/nodes, built from the
 * recordings), the real discovery scan and the real slice builder (agent/slices/builder.ts).
 */
import { scanInventory } from '../../agent/discovery/scan.js';
import { buildDevices, buildSlices } from '../../agent/slices/builder.js';
import { ANNOTATION_PUBLISHED_AT, DRIVER } from '../../src/contract/names.js';
import type { ResourceSlice } from '../../src/kubectl/wire.js';
import { buildSimulatedNode, type SimulatedNodeKind } from '../cluster/nodes/index.js';

export async function realH100Slices(
  nodeName: string,
  dir: string,
  options: { unhealthy?: Record<string, string>; healthy?: string[]; publishedAt?: string } = {},
): Promise<ResourceSlice[]> {
  return realSlices('h100-hgx', nodeName, dir, options);
}

/** The slices the agent would publish for a simulated node of this kind. */
export async function realSlices(
  kind: SimulatedNodeKind,
  nodeName: string,
  dir: string,
  options: { unhealthy?: Record<string, string>; healthy?: string[]; publishedAt?: string } = {},
): Promise<ResourceSlice[]> {
  const node = await buildSimulatedNode(kind, dir, { nodeName });
  const inventory = await scanInventory({
    sysfsRoot: node.sysfsRoot,
    devRoot: node.devRoot,
    nvidiaSmi: node.nvidiaSmiPath,
    nvidiaSmiTimeoutMs: 10_000,
    nodeName,
  });
  const { devices } = buildDevices(inventory, {
    // what the health board would say now, over the first reading of the scan
    healthOf: (name) => {
      if (options.healthy?.includes(name)) return { state: 'healthy' };
      const reason = options.unhealthy?.[name];
      return reason ? { state: 'unhealthy', reason, since: Date.parse('2026-11-22T05:00:00Z') } : undefined;
    },
    taintEffect: 'NoExecute',
  });
  return buildSlices({ driver: DRIVER, nodeName, agentVersion: '0.1.0' }, devices, 1).map((s) => ({
    ...s,
    metadata: {
      ...s.metadata,
      annotations: {
        ...s.metadata.annotations,
        [ANNOTATION_PUBLISHED_AT]: options.publishedAt ?? new Date().toISOString(),
      },
    },
  }));
}
