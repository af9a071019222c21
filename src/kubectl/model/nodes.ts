import type { Node } from '../wire.js';
import { type DeviceRecord, isAccelerator, naturalCompare, type PublishedInventory, toDate } from './devices.js';

export interface NodeRecord {
  node: string;
  accelerators: number;
  nics: number;
  healthy: number;
  unhealthy: number;
  unknown: number;
  /** devices carrying at least one taint */
  tainted: number;
  agentVersion?: string;
  publishedAt?: Date;
  /** `8x NVIDIA H100 80GB HBM3`, one entry per model */
  models: string[];
  driverVersions: string[];
  /** the Node object's own taints, `key=value:Effect` */
  nodeTaints: string[];
  created?: Date;
  /** false when the pool lists more slices than were found (an update in progress, or a lost write) */
  poolComplete: boolean;
  /** false when the slices name a node the API does not know (a node deleted, its slices not yet collected) */
  nodeFound: boolean;
}

function counted(values: readonly string[]): string[] {
  const counts = new Map<string, number>();
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1);
  return [...counts].sort(([a], [b]) => a.localeCompare(b)).map(([v, n]) => `${n}x ${v}`);
}

function nodeTaintText(t: { key: string; value?: string; effect: string }): string {
  return `${t.key}${t.value ? `=${t.value}` : ''}:${t.effect}`;
}

/**
 * One record per node the driver publishes for. `nodes` may be undefined when the caller may not list Nodes:
 * the record then says nothing about node taints and takes its age from the slices.
 */
export function buildNodes(inventory: PublishedInventory, nodes: readonly Node[] | undefined): NodeRecord[] {
  const nodeByName = new Map((nodes ?? []).map((n) => [n.metadata.name ?? '', n]));
  const devicesByNode = new Map<string, DeviceRecord[]>();
  for (const d of inventory.devices) {
    const list = devicesByNode.get(d.node);
    if (list) list.push(d);
    else devicesByNode.set(d.node, [d]);
  }
  const out: NodeRecord[] = [];
  const pools = new Map<string, PublishedInventory['pools']>();
  for (const p of inventory.pools) {
    const list = pools.get(p.node);
    if (list) list.push(p);
    else pools.set(p.node, [p]);
  }
  for (const [node, nodePools] of pools) {
    const devices = devicesByNode.get(node) ?? [];
    const apiNode = nodeByName.get(node);
    const accelerators = devices.filter(isAccelerator);
    let publishedAt: Date | undefined;
    let agentVersion: string | undefined;
    let created: Date | undefined;
    for (const p of nodePools) {
      if (p.publishedAt && (!publishedAt || p.publishedAt > publishedAt)) {
        publishedAt = p.publishedAt;
        agentVersion = p.agentVersion;
      }
      agentVersion ??= p.agentVersion;
      if (p.created && (!created || p.created < created)) created = p.created;
    }
    const record: NodeRecord = {
      node,
      accelerators: accelerators.length,
      nics: devices.filter((d) => d.type === 'nic').length,
      healthy: devices.filter((d) => d.health === 'Healthy').length,
      unhealthy: devices.filter((d) => d.health === 'Unhealthy').length,
      unknown: devices.filter((d) => d.health === 'Unknown').length,
      tainted: devices.filter((d) => d.taints.length > 0).length,
      models: counted(accelerators.map((d) => d.model ?? d.type)),
      driverVersions: [...new Set(accelerators.map((d) => d.driverVersion).filter((v): v is string => !!v))].sort(),
      nodeTaints: (apiNode?.spec?.taints ?? []).map(nodeTaintText),
      poolComplete: nodePools.every((p) => p.slices >= p.expectedSlices),
      nodeFound: nodes === undefined || apiNode !== undefined,
    };
    if (agentVersion) record.agentVersion = agentVersion;
    if (publishedAt) record.publishedAt = publishedAt;
    const nodeCreated = toDate(apiNode?.metadata.creationTimestamp) ?? created;
    if (nodeCreated) record.created = nodeCreated;
    out.push(record);
  }
  return out.sort((x, y) => naturalCompare(x.node, y.node));
}
