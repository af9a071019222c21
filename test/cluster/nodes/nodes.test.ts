import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuDevice, NicDevice } from '../../../agent/discovery/inventory.js';
import { numaNodeLists, readNumaNodes } from '../../../agent/discovery/numa.js';
import { parseNvidiaSmiXml } from '../../../agent/discovery/nvidia-smi.js';
import { scanInventory } from '../../../agent/discovery/scan.js';
import { SysfsReader } from '../../../agent/discovery/sysfs-read.js';
import { describeRecorded, HAS_RECORDED_FIXTURES, itRecorded } from '../../support/recorded.js';
import { h100HgxGpuIdentity } from './h100-hgx-model.js';
import { buildSimulatedNode, FIXTURES, RECORDED_NODE_KINDS, SIMULATED_NODE_KINDS } from './index.js';
import { parseLspciVvv } from './lspci.js';
import { nvidiaSmiTextToXml } from './nvidia-smi-text-to-xml.js';
import { readTar } from './tar.js';
import { unpackTtar } from './ttar.js';

const run = promisify(execFile);
const dirs: string[] = [];
const temp = async () => {
  const d = await mkdtemp(join(tmpdir(), 'simnode-'));
  dirs.push(d);
  return d;
};
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

describe('ttar unpacker', () => {
  it('writes files with and without trailing newline, empty files and relative symlinks', async () => {
    const d = await temp();
    const n = await unpackTtar(
      [
        '# Archive created by ttar',
        'Directory: sys',
        'Mode: 755',
        '# ttar - - -',
        'Path: sys/a',
        'Lines: 2',
        'one',
        'twoEOF',
        'Mode: 644',
        '# ttar - - -',
        'Path: sys/b',
        'Lines: 1',
        'x',
        'Mode: 644',
        '# ttar - - -',
        'Path: sys/empty',
        'Lines: 0',
        'Mode: 644',
        '# ttar - - -',
        'Path: sys/link',
        'SymlinkTo: ../sys/a',
        '',
      ].join('\n'),
      d,
    );
    expect(n).toBe(4);
    expect(await readFile(join(d, 'sys/a'), 'utf8')).toBe('one\ntwo');
    expect(await readFile(join(d, 'sys/b'), 'utf8')).toBe('x\n');
    expect(await readFile(join(d, 'sys/empty'), 'utf8')).toBe('');
    expect(await readlink(join(d, 'sys/link'))).toBe('../sys/a');
  });

  it('refuses paths that climb out of the destination', async () => {
    await expect(unpackTtar('Path: ../evil\nLines: 1\nx\n', await temp())).rejects.toThrow(
      'ttar: unsafe path "../evil"',
    );
  });

  itRecorded('unpacks the node_exporter fixture as the recording has it', async () => {
    const d = await temp();
    await unpackTtar(readFileSync(join(FIXTURES, 'sysfs/node_exporter__sysfs-snapshot__sys.ttar'), 'utf8'), d, {
      stripPrefix: 'sys/',
    });
    expect(await readlink(join(d, 'bus/pci/devices/0000:45:00.0'))).toBe(
      '../../../devices/pci0000:40/0000:40:01.3/0000:45:00.0',
    );
    expect(await readFile(join(d, 'devices/pci0000:40/0000:40:01.3/0000:45:00.0/current_link_speed'), 'utf8')).toBe(
      '5.0 GT/s PCIe\n',
    );
  });
});

describeRecorded('tar reader', () => {
  it('reads the infiniband tar (git archive): mlx5_0 port 1 is ACTIVE at 400 Gb/s NDR', () => {
    const entries = readTar(
      readFileSync(join(FIXTURES, 'sysfs/gpud__sys-class-infiniband__h100-node-8xcx7-ndr-plus-bf3-bond.tar')),
    );
    const get = (p: string) => entries.find((e) => e.path.endsWith(p))?.content.toString('utf8');
    // the recording's files have no trailing newline (unlike live sysfs); the reader keeps bytes as they are
    expect(get('/mlx5_0/ports/1/state')?.trim()).toBe('4: ACTIVE');
    expect(get('/mlx5_0/ports/1/rate')?.trim()).toBe('400 Gb/sec (4X NDR)');
    expect(get('/mlx5_0/hca_type')?.trim()).toBe('MT4129');
    expect(entries.filter((e) => e.type === 'dir' && /\/mlx5_[0-9]+\/$/.test(e.path))).toHaveLength(8);
  });
});

describe('lspci -vvv parser', () => {
  let fns: ReturnType<typeof parseLspciVvv> = [];
  beforeAll(() => {
    if (!HAS_RECORDED_FIXTURES) return;
    fns = parseLspciVvv(readFileSync(join(FIXTURES, 'lspci/gpud__lspci-vvv__8x-h100-hgx-pex890xx-cx7.txt'), 'utf8'));
  });
  itRecorded('reads all 517 functions of the capture with ids, class, NUMA, link and driver', () => {
    expect(fns).toHaveLength(517);
    expect(fns.find((f) => f.address === '0000:19:00.0')).toMatchObject({
      classCode: '030200',
      vendorId: '10de',
      deviceId: '2330',
      subsystemVendorId: '10de',
      subsystemDeviceId: '16c1',
      numaNode: 0,
      linkSpeed: '32.0 GT/s PCIe',
      linkWidth: 16,
      driver: 'nvidia',
      sysfsPath: 'devices/pci0000:15/0000:15:01.0/0000:16:00.0/0000:17:01.0/0000:19:00.0',
    });
    expect(fns.find((f) => f.address === '0000:16:00.0')).toMatchObject({
      portType: 'Upstream Port',
      secondaryBus: 0x17,
      subordinateBus: 0x1c,
    });
    expect(fns.filter((f) => f.vendorId === '10de' && f.classCode === '068000')).toHaveLength(4); // NVSwitch bridges
  });

  itRecorded(
    'the GPU bus ids of the lspci capture are exactly those of the nvidia-smi capture (checked, documented in README)',
    () => {
      const text = readFileSync(
        join(FIXTURES, 'nvidia-smi-text/gpud__nvidia-smi-q__8x-h100-sxm-baremetal__535.161.08.txt'),
        'utf8',
      );
      const smi = [...text.matchAll(/^GPU 0000(\S+)$/gm)].map((m) => m[1]!.toLowerCase());
      const lspci = fns.filter((f) => f.classCode === '030200').map((f) => f.address);
      expect(smi).toEqual(lspci);
    },
  );

  it('names an unknown class instead of guessing', () => {
    expect(() => parseLspciVvv('00:01.0 Weird thing: Intel Corporation Device 1234\n')).toThrow(
      'lspci: unknown class "Weird thing" at 00:01.0',
    );
  });
});

describe('nvidia-smi text → XML (derived)', () => {
  itRecorded('the derived XML parses and carries the text capture’s values', () => {
    const text = readFileSync(
      join(FIXTURES, 'nvidia-smi-text/gpud__nvidia-smi-q__8x-h100-sxm-baremetal__535.161.08.txt'),
      'utf8',
    );
    const r = parseNvidiaSmiXml(nvidiaSmiTextToXml(text));
    if (!r.ok) throw new Error(r.error);
    expect(r.report.driverVersion).toBe('535.161.08');
    expect(r.report.gpus.map((g) => [g.busId, g.minor, g.serial])).toEqual([
      ['0000:19:00.0', 0, '1650124031592'],
      ['0000:3b:00.0', 1, '1650124008135'],
      ...r.report.gpus.slice(2).map((g) => [g.busId, g.minor, g.serial]),
    ]);
    expect(r.report.gpus).toHaveLength(8);
    const g = r.report.gpus[0]!;
    expect(g).toMatchObject({
      productName: 'NVIDIA H100 80GB HBM3',
      architecture: 'Hopper',
      pciDeviceId: '2330',
      fabricState: 'Completed',
      fabricStatus: 'Success',
      migCurrent: 'Disabled',
    });
    expect(g.memoryTotalBytes).toBe(81559 * 1024 ** 2);
    expect(g.memoryErrors).toMatchObject({
      uncorrectableVolatile: 0,
      remappedRowsCorrectable: 0,
      remappedRowsPending: false,
      remappedRowsFailure: false,
    });
    expect(g.memoryErrors.retiredPagesDoubleBit).toBeUndefined(); // "Double Bit ECC : N/A"
  });
  it('refuses text without GPU sections', () => {
    expect(() => nvidiaSmiTextToXml('Driver Version : 1\n')).toThrow('no "GPU <bus id>" section');
  });
});

describe('buildSimulatedNode', () => {
  it('builds every kind whose data is here (the recorded kinds only where ../shared/fixtures exists)', async () => {
    const kinds = SIMULATED_NODE_KINDS.filter((k) => HAS_RECORDED_FIXTURES || !RECORDED_NODE_KINDS.has(k));
    expect(kinds).toContain('h100-hgx');
    for (const kind of kinds) {
      const n = await buildSimulatedNode(kind, await temp());
      expect(n.nodeName).toBe(`sim-${kind}`);
      expect(n.expected.sources.length).toBeGreaterThan(0);
    }
  });

  it('the fake nvidia-smi prints the XML and -L, fails, hangs, and refuses other arguments', async () => {
    const n = await buildSimulatedNode('h100-hgx', await temp(), { nodeName: 'a' });
    const ok = await run(n.nvidiaSmiPath, ['-q', '-x']);
    expect(ok.stdout).toBe(await n.nvidiaSmiXml());
    await n.setNvidiaSmi({ mode: 'fail' });
    await expect(run(n.nvidiaSmiPath, ['-q', '-x'])).rejects.toMatchObject({ code: 9 });
    await n.setNvidiaSmi({ mode: 'hang' });
    await expect(run(n.nvidiaSmiPath, ['-q', '-x'], { timeout: 300 })).rejects.toMatchObject({ killed: true });
    await n.setNvidiaSmi({ mode: 'ok' });
    // -L: the GPU lines of the XML's UUIDs, in its order (no MIG lines: the XML has no profile names)
    const uuids = [...(await n.nvidiaSmiXml()).matchAll(/<uuid>([^<]+)<\/uuid>/g)].map((m) => m[1]);
    expect((await run(n.nvidiaSmiPath, ['-L'])).stdout).toBe(
      uuids.map((uuid, i) => `GPU ${i}: NVIDIA GPU (UUID: ${uuid})\n`).join(''),
    );
    await n.setNvidiaSmi({ xml: '<nvidia_smi_log/>' });
    expect((await run(n.nvidiaSmiPath, ['-q', '-x'])).stdout).toBe('<nvidia_smi_log/>');
    await expect(run(n.nvidiaSmiPath, ['topo', '-m'])).rejects.toMatchObject({ code: 2 });
  });

  it('appends kernel-log records in /dev/kmsg format with increasing sequence numbers', async () => {
    const n = await buildSimulatedNode('cpu-vm', await temp());
    await n.appendKernelLog('NVRM: Xid (PCI:0000:00:0d): 79, pid=0, GPU has fallen off the bus.');
    await n.appendKernelLog('line one\nline two', { prio: 4 });
    const lines = (await readFile(n.kmsgPath, 'utf8')).split('\n').filter(Boolean);
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^3,0,\d+,-;NVRM: Xid \(PCI:0000:00:0d\): 79, pid=0, GPU has fallen off the bus\.$/);
    expect(lines[1]).toMatch(/^4,1,\d+,-;line one$/);
    expect(lines[2]).toMatch(/^4,2,\d+,-;line two$/);
    const usec = lines.map((l) => Number(l.split(',')[2]));
    expect(usec[2]).toBeGreaterThanOrEqual(usec[0]!);
  });

  it('removePciDevice removes the device, its bus link and the class links into it', async () => {
    const n = await buildSimulatedNode('cpu-vm', await temp());
    await n.removePciDevice('0000:00:03.0');
    await expect(readlink(join(n.sysfsRoot, 'bus/pci/devices/0000:00:03.0'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(readlink(join(n.sysfsRoot, 'class/net/eth0'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('the authored 8x H100 HGX model (h100-hgx)', () => {
  const scanNode = async (kind: 'h100-hgx' | 'h100-hgx-recorded') => {
    const n = await buildSimulatedNode(kind, await temp(), { nodeName: 'model' });
    return scanInventory({
      sysfsRoot: n.sysfsRoot,
      devRoot: n.devRoot,
      nvidiaSmi: n.nvidiaSmiPath,
      nvidiaSmiTimeoutMs: 10_000,
      nodeName: 'model',
    });
  };

  it('has the GPUs, switches, NUMA nodes and NICs the recordings describe (hand-checked literals)', async () => {
    const inv = await scanNode('h100-hgx');
    expect(inv.problems).toEqual([]);
    const gpus = inv.devices.filter((d): d is GpuDevice => d.kind === 'gpu');
    expect(gpus.map((g) => [g.pci.address, g.pci.numaNode, g.pci.pcieRoot, g.minor])).toEqual([
      ['0000:19:00.0', 0, 'pci0000:15', 0],
      ['0000:3b:00.0', 0, 'pci0000:37', 1],
      ['0000:4c:00.0', 0, 'pci0000:48', 2],
      ['0000:5d:00.0', 0, 'pci0000:59', 3],
      ['0000:9b:00.0', 1, 'pci0000:97', 4],
      ['0000:bb:00.0', 1, 'pci0000:b7', 5],
      ['0000:cb:00.0', 1, 'pci0000:c7', 6],
      ['0000:db:00.0', 1, 'pci0000:d7', 7],
    ]);
    expect(gpus[0]).toMatchObject({
      model: 'NVIDIA H100 80GB HBM3',
      uuid: h100HgxGpuIdentity(0).uuid,
      memoryBytes: 81559 * 1024 ** 2,
      health: { state: 'healthy' },
    });
    expect(new Set(gpus.map((g) => g.uuid)).size).toBe(8);
    const nics = inv.devices.filter((d): d is NicDevice => d.kind === 'nic');
    expect(nics).toHaveLength(14);
    // each GPU's ConnectX-7 hangs off the same PEX switch (upstream port <root+1>:00.0)
    const nic1a = nics.find((n) => n.pciAddress === '0000:1a:00.0');
    expect(nic1a).toMatchObject({ ifName: 'enp26s0np0', rdma: [{ device: 'mlx5_0', port: 1, state: 'ACTIVE' }] });
    expect(nic1a?.pci?.pcieSwitch).toBe(gpus[0]!.pci.pcieSwitch);
    expect(nics.find((n) => n.pciAddress === '0000:01:00.1')).toMatchObject({ operState: 'down' });
  });

  itRecorded('discovers the same inventory as the node built from the recordings, identities aside', async () => {
    // UUIDs and serials are made up in the model, and only the model has `nvidia-smi nvlink -s` (the recordings of
    // this node have no NVLink status); everything else must match what the recordings give
    const comparable = (inv: Awaited<ReturnType<typeof scanInventory>>) =>
      JSON.parse(
        JSON.stringify(inv.devices, (key, value: unknown) =>
          ['uuid', 'serial', 'deviceNodes', 'iommuGroup', 'nvlinkLinks'].includes(key) ? undefined : value,
        ),
      ) as unknown;
    const [model, recorded] = [await scanNode('h100-hgx'), await scanNode('h100-hgx-recorded')];
    expect(comparable(model)).toEqual(comparable(recorded));
    expect(model.devices.length).toBeGreaterThan(20);
  });
});

describe('the h100-hgx model’s NUMA layout', () => {
  it.each([
    // NUMA nodes per socket, each node's list (own node, then same-socket peers at the nearest SLIT distance), GPUs by node
    [1, { 0: [0], 1: [1] }, { 0: ['19', '3b', '4c', '5d'], 1: ['9b', 'bb', 'cb', 'db'] }],
    [
      2,
      { 0: [0, 1], 1: [1, 0], 2: [2, 3], 3: [3, 2] },
      { 0: ['19', '3b'], 1: ['4c', '5d'], 2: ['9b', 'bb'], 3: ['cb', 'db'] },
    ],
  ] as const)('with %i node(s) per socket', async (snc, lists, gpusByNode) => {
    const node = await buildSimulatedNode('h100-hgx', await temp(), { subNumaClusters: snc });
    const sysfs = new SysfsReader(node.sysfsRoot);
    const layout = await readNumaNodes(sysfs);
    expect(Object.fromEntries(numaNodeLists(layout))).toEqual(lists);
    expect(layout.map((n) => n.socket)).toEqual(snc === 1 ? [0, 1] : [0, 0, 1, 1]);
    const inventory = await scanInventory({
      sysfsRoot: node.sysfsRoot,
      devRoot: node.devRoot,
      nvidiaSmi: node.nvidiaSmiPath,
      nvidiaSmiTimeoutMs: 10_000,
      nodeName: 'model',
    });
    const gpus = inventory.devices.filter((d): d is GpuDevice => d.kind === 'gpu');
    const byNode: Record<number, string[]> = {};
    for (const gpu of gpus) {
      const numa = gpu.pci.numaNode ?? -1;
      byNode[numa] = [...(byNode[numa] ?? []), gpu.pci.address.slice(5, 7)];
    }
    expect(byNode).toEqual(gpusByNode);
  });

  it('is a setting of the h100-hgx model only', async () => {
    await expect(buildSimulatedNode('cpu-vm', await temp(), { subNumaClusters: 2 })).rejects.toThrow(
      'subNumaClusters is a setting of the h100-hgx model, not of cpu-vm',
    );
  });
});
