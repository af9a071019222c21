/**
 * The NUMA layout that the list form of `resource.kubernetes.io/numaNode` describes (FACTS.md §11: with the
 * `DRAListTypeAttributes` gate a device may publish `{ints: [...]}`: its own node first, then the nodes of the same
 * socket at the minimum SLIT distance from it), read from sysfs `devices/system/node/node<N>/{distance,cpulist}` and
 * the socket of each node's first CPU (`devices/system/cpu/cpu<X>/topology/physical_package_id`).
 *
 * Threats (the sysfs root is a flag): a missing or garbled `distance` or `cpulist` (old kernels, containers that mount
 * part of sysfs): the node's list is just itself, never a guess; a node without CPUs (GPU or CXL memory) has no socket
 * and joins no other node's list; distance rows of the wrong length or with non-numbers are ignored whole.
 */
import type { SysfsReader } from './sysfs-read.js';

export interface NumaNodeInfo {
  node: number;
  /** physical package of the node's first CPU; null for a node without CPUs or when unknown */
  socket: number | null;
  /** SLIT row: distance to each node, in ascending node order; empty when unknown */
  distances: number[];
}

/** Reads every online NUMA node's socket and SLIT row; an empty list when sysfs has no node directory. */
export async function readNumaNodes(fs: SysfsReader): Promise<NumaNodeInfo[]> {
  const names = await fs.list(fs.abs('devices/system/node'));
  const nodes = names
    .map((name) => /^node(\d+)$/.exec(name)?.[1])
    .filter((id): id is string => id !== undefined)
    .map(Number)
    .sort((a, b) => a - b);
  const out: NumaNodeInfo[] = [];
  for (const node of nodes) {
    const distanceText = await fs.attr(fs.abs(`devices/system/node/node${node}/distance`));
    const row = (distanceText ?? '').split(/\s+/).filter((word) => word !== '');
    const distances = row.length === nodes.length && row.every((word) => /^\d+$/.test(word)) ? row.map(Number) : [];
    const firstCpu = /^(\d+)/.exec((await fs.attr(fs.abs(`devices/system/node/node${node}/cpulist`))) ?? '')?.[1];
    const packageText =
      firstCpu === undefined
        ? undefined
        : await fs.attr(fs.abs(`devices/system/cpu/cpu${firstCpu}/topology/physical_package_id`));
    const socket = packageText !== undefined && /^\d+$/.test(packageText) ? Number(packageText) : null;
    out.push({ node, socket, distances });
  }
  return out;
}

/**
 * Each node's list: itself, then (ascending) the other nodes of its socket at the smallest SLIT distance any of them
 * has from it. A node missing from `nodes` gets just itself (through the caller's fallback).
 */
export function numaNodeLists(nodes: readonly NumaNodeInfo[]): Map<number, number[]> {
  const order = nodes.map((info) => info.node);
  const lists = new Map<number, number[]>();
  for (const info of nodes) {
    const peers = nodes.filter(
      (other) => other.node !== info.node && info.socket !== null && other.socket === info.socket,
    );
    const distanceTo = (other: number): number | undefined => info.distances[order.indexOf(other)];
    const known = peers
      .map((peer) => ({ node: peer.node, distance: distanceTo(peer.node) }))
      .filter((peer): peer is { node: number; distance: number } => peer.distance !== undefined);
    const nearest = Math.min(...known.map((peer) => peer.distance));
    lists.set(info.node, [
      info.node,
      ...known
        .filter((peer) => peer.distance === nearest)
        .map((peer) => peer.node)
        .sort((a, b) => a - b),
    ]);
  }
  return lists;
}
