import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type NumaNodeInfo, numaNodeLists, readNumaNodes } from '../../../agent/discovery/numa.js';
import { SysfsReader } from '../../../agent/discovery/sysfs-read.js';

/**
 * The list form of resource.kubernetes.io/numaNode (FACTS.md §11): own node first, then the same-socket nodes at the
 * minimum SLIT distance. Layouts authored in the shape of Linux's node sysfs (`drivers/base/node.c`: `distance` one
 * row of the SLIT, `cpulist` a CPU range list).
 */
const node = (id: number, socket: number | null, distances: number[]): NumaNodeInfo => ({
  node: id,
  socket,
  distances,
});

describe('numaNodeLists', () => {
  it.each<[string, NumaNodeInfo[], Record<number, number[]>]>([
    ['one node', [node(0, 0, [10])], { 0: [0] }],
    ['two sockets, one node each: alone', [node(0, 0, [10, 21]), node(1, 1, [21, 10])], { 0: [0], 1: [1] }],
    [
      // AMD EPYC NPS2 on two sockets: nodes 0,1 on socket 0 (distance 12), 2,3 on socket 1
      'NPS2 on two sockets: the socket sibling',
      [
        node(0, 0, [10, 12, 32, 32]),
        node(1, 0, [12, 10, 32, 32]),
        node(2, 1, [32, 32, 10, 12]),
        node(3, 1, [32, 32, 12, 10]),
      ],
      { 0: [0, 1], 1: [1, 0], 2: [2, 3], 3: [3, 2] },
    ],
    [
      // NPS4-like: only the nearest same-socket nodes join, not the farther one
      'unequal distances within a socket: only the nearest',
      [node(0, 0, [10, 11, 12]), node(1, 0, [11, 10, 12]), node(2, 0, [12, 12, 10])],
      { 0: [0, 1], 1: [1, 0], 2: [2, 0, 1] },
    ],
    [
      'a CPU-less memory node joins nobody and lists itself',
      [node(0, 0, [10, 20]), node(1, null, [20, 10])],
      { 0: [0], 1: [1] },
    ],
    ['unknown distances: alone', [node(0, 0, []), node(1, 0, [])], { 0: [0], 1: [1] }],
  ])('%s', (_name, nodes, want) => {
    expect(Object.fromEntries(numaNodeLists(nodes))).toEqual(want);
  });
});

describe('readNumaNodes', () => {
  let root: string | undefined;
  afterEach(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  async function put(path: string, text: string): Promise<void> {
    await mkdir(join(root!, path, '..'), { recursive: true });
    await writeFile(join(root!, path), text);
  }

  it('reads the SLIT rows and each node’s socket from its first CPU', async () => {
    root = await mkdtemp(join(tmpdir(), 'numa-'));
    await put('devices/system/node/node0/distance', '10 12 32 32\n');
    await put('devices/system/node/node0/cpulist', '0-15,64-79\n');
    await put('devices/system/node/node1/distance', '12 10 32 32\n');
    await put('devices/system/node/node1/cpulist', '16-31,80-95\n');
    await put('devices/system/node/node2/distance', '32 32 10 12\n');
    await put('devices/system/node/node2/cpulist', '32-47\n');
    await put('devices/system/node/node3/distance', '32 32 garbage 10\n');
    await put('devices/system/node/node3/cpulist', '\n');
    await put('devices/system/node/possible', '0-3\n');
    for (const [cpu, pkg] of [
      [0, 0],
      [16, 0],
      [32, 1],
    ]) {
      await put(`devices/system/cpu/cpu${cpu}/topology/physical_package_id`, `${pkg}\n`);
    }
    const nodes = await readNumaNodes(new SysfsReader(root));
    expect(nodes).toEqual([
      { node: 0, socket: 0, distances: [10, 12, 32, 32] },
      { node: 1, socket: 0, distances: [12, 10, 32, 32] },
      { node: 2, socket: 1, distances: [32, 32, 10, 12] },
      // garbled row and no CPUs: nothing guessed
      { node: 3, socket: null, distances: [] },
    ]);
    expect(Object.fromEntries(numaNodeLists(nodes))).toEqual({ 0: [0, 1], 1: [1, 0], 2: [2], 3: [3] });
  });

  it('a sysfs without a node directory: no nodes', async () => {
    root = await mkdtemp(join(tmpdir(), 'numa-'));
    expect(await readNumaNodes(new SysfsReader(root))).toEqual([]);
  });
});
