/**
 * Golden tests of one discovery scan over the simulated nodes (test/cluster/nodes/), whose trees come from real
 * recordings. Expected values are literals read off the recordings by hand — not computed by the code under test:
 *
 * h100-hgx (lspci/gpud__lspci-vvv__8x-h100-hgx-pex890xx-cx7.txt):
 * - GPU 19:00.0 (line 1477) sits on bus 19, the secondary bus of 17:01.0 (line 1070, "Downstream Port"); bus 17 is
 *   the secondary of 16:00.0 (line 905, PEX890xx "Upstream Port"), whose primary bus 15 is a root bus (root port
 *   15:01.0) → pcieRoot pci0000:15, switch 16:00.0, NUMA node 0. ConnectX-7 1a:00.0 (line 1568) hangs below 17:02.0
 *   and the ConnectX-6 Dx 1b:00.0/1b:00.1 below 17:03.0 — the same switch → PIX to GPU 19:00.0.
 * - GPU 9b:00.0 (NUMA 1): 99:01.0 → 98:00.0 ("Upstream Port", line 9439, primary 97) → pci0000:97; ConnectX-7
 *   9c:00.0 below 99:02.0 and ConnectX-6 Dx 9d:00.0/1 below 99:03.0 → PIX.
 * - the other six GPUs each share a PEX890xx with exactly one ConnectX-7: 3b↔3c, 4c↔4d, 5d↔5e, bb↔bc, cb↔cc, db↔dc.
 * - GPUs on other root complexes of the same socket are NODE, across sockets SYS — the pattern `nvidia-smi topo -m`
 *   prints on HGX H100 (topo-matrix/EXCERPT__topo-m__8xh100-sxm-8x-mlx5-pix…: one PIX NIC per GPU, NODE to the 3
 *   others on its socket, SYS across).
 * - UUIDs / serials / minors from nvidia-smi-text/gpud__nvidia-smi-q__8x-h100-sxm-baremetal__535.161.08.txt
 *   (GPU 00000000:19:00.0: serial 1650124031592, uuid GPU-ee7954ec-…, minor 0; FB total 81559 MiB).
 */

import { readdirSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, realpath, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuDevice, Inventory, NicDevice } from '../../../agent/discovery/inventory.js';
import { isDnsLabel } from '../../../agent/discovery/names.js';
import { type ScanOptions, scanInventory } from '../../../agent/discovery/scan.js';
import { buildSimulatedNode, type SimulatedNode, type SimulatedNodeKind } from '../../cluster/nodes/index.js';
import { writeNetdev, writePciFunction, writeRdma } from '../../cluster/nodes/sysfs-writer.js';
import { describeRecorded, itRecorded } from '../../support/recorded.js';

const dirs: string[] = [];
async function node(kind: SimulatedNodeKind): Promise<SimulatedNode> {
  const dir = await mkdtemp(join(tmpdir(), `discovery-${kind}-`));
  dirs.push(dir);
  return buildSimulatedNode(kind, dir, { nodeName: `node-${kind}` });
}
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

function scan(n: SimulatedNode, extra: Partial<ScanOptions> = {}): Promise<Inventory> {
  return scanInventory({
    sysfsRoot: n.sysfsRoot,
    devRoot: n.devRoot,
    nvidiaSmi: n.nvidiaSmiPath,
    nvidiaSmiTimeoutMs: 10_000,
    nodeName: n.nodeName,
    ...extra,
  });
}

const gpus = (inv: Inventory) => inv.devices.filter((d): d is GpuDevice => d.kind === 'gpu');
const nics = (inv: Inventory) => inv.devices.filter((d): d is NicDevice => d.kind === 'nic');
const nicByBus = (inv: Inventory, bdf: string) => nics(inv).find((n) => n.pciAddress === bdf);

describeRecorded('h100-hgx: 8x H100 + ConnectX-7 (lspci -vvv capture + nvidia-smi 535.161.08)', () => {
  let n: SimulatedNode;
  let inv: Inventory;
  beforeAll(async () => {
    n = await node('h100-hgx-recorded');
    inv = await scan(n);
  });

  it('finds exactly the 8 GPUs (not the 4 NVSwitch bridges 10de:22a3) with bus id, NUMA, root and switch', () => {
    expect(
      gpus(inv).map((g) => [g.name, g.pci.address, g.pci.numaNode, g.pci.pcieRoot, g.pci.pcieSwitch, g.minor]),
    ).toEqual([
      ['gpu-0000-19-00-0', '0000:19:00.0', 0, 'pci0000:15', '0000:16:00.0', 0],
      ['gpu-0000-3b-00-0', '0000:3b:00.0', 0, 'pci0000:37', '0000:38:00.0', 1],
      ['gpu-0000-4c-00-0', '0000:4c:00.0', 0, 'pci0000:48', '0000:49:00.0', 2],
      ['gpu-0000-5d-00-0', '0000:5d:00.0', 0, 'pci0000:59', '0000:5a:00.0', 3],
      ['gpu-0000-9b-00-0', '0000:9b:00.0', 1, 'pci0000:97', '0000:98:00.0', 4],
      ['gpu-0000-bb-00-0', '0000:bb:00.0', 1, 'pci0000:b7', '0000:b8:00.0', 5],
      ['gpu-0000-cb-00-0', '0000:cb:00.0', 1, 'pci0000:c7', '0000:c8:00.0', 6],
      ['gpu-0000-db-00-0', '0000:db:00.0', 1, 'pci0000:d7', '0000:d8:00.0', 7],
    ]);
    expect(inv.devices.some((d) => d.kind === 'accelerator')).toBe(false);
    expect(inv.problems).toEqual([]);
  });

  it('joins nvidia-smi identities by bus id', () => {
    const g0 = gpus(inv)[0]!;
    expect(g0).toMatchObject({
      model: 'NVIDIA H100 80GB HBM3',
      uuid: 'GPU-ee7954ec-da95-fd7a-ddfd-c6b32cc2f8aa',
      serial: '1650124031592',
      architecture: 'Hopper',
      memoryBytes: 81559 * 1024 ** 2,
      driverVersion: '535.161.08',
      cudaVersion: '12.2',
      computeCapability: '9.0',
      migEnabled: false,
      fabricState: 'Completed',
      fabricStatus: 'Success',
      health: { state: 'healthy' },
    });
    expect(g0.pci).toMatchObject({
      vendorId: '10de',
      deviceId: '2330',
      classCode: '030200',
      linkSpeed: '32.0 GT/s PCIe',
      linkWidth: 16,
      driver: 'nvidia',
    });
    expect(g0.memoryErrors).toMatchObject({
      uncorrectableVolatile: 0,
      remappedRowsPending: false,
      remappedRowsFailure: false,
    });
    expect(g0.deviceNodes).toEqual([join(n.devRoot, 'nvidia0')]);
    expect(gpus(inv)[1]!.uuid).toBe('GPU-47daa2ad-a218-6286-252b-af45f0dfaf00');
    // all 8 registered with the NVSwitch fabric (Fabric State Completed / Status Success) → NVLink peers
    expect(g0.nvlinkPeers).toEqual([
      'gpu-0000-3b-00-0',
      'gpu-0000-4c-00-0',
      'gpu-0000-5d-00-0',
      'gpu-0000-9b-00-0',
      'gpu-0000-bb-00-0',
      'gpu-0000-cb-00-0',
      'gpu-0000-db-00-0',
    ]);
  });

  it('pairs each GPU with the NIC(s) under its own PCIe switch (PIX), then NODE on its socket, SYS across', () => {
    const pix = Object.fromEntries(
      inv.affinity.map((a) => [a.gpu, a.nics.filter((x) => x.distance === 'PIX').map((x) => x.nic)]),
    );
    expect(pix).toEqual({
      'gpu-0000-19-00-0': ['nic-0000-1a-00-0', 'nic-0000-1b-00-0', 'nic-0000-1b-00-1'],
      'gpu-0000-3b-00-0': ['nic-0000-3c-00-0'],
      'gpu-0000-4c-00-0': ['nic-0000-4d-00-0'],
      'gpu-0000-5d-00-0': ['nic-0000-5e-00-0'],
      'gpu-0000-9b-00-0': ['nic-0000-9c-00-0', 'nic-0000-9d-00-0', 'nic-0000-9d-00-1'],
      'gpu-0000-bb-00-0': ['nic-0000-bc-00-0'],
      'gpu-0000-cb-00-0': ['nic-0000-cc-00-0'],
      'gpu-0000-db-00-0': ['nic-0000-dc-00-0'],
    });
    const d0 = Object.fromEntries(inv.affinity[0]!.nics.map((x) => [x.nic, x.distance]));
    expect(d0['nic-0000-3c-00-0']).toBe('NODE'); // GPU 19 (pci0000:15) vs NIC 3c (pci0000:37), both NUMA 0
    expect(d0['nic-0000-01-00-0']).toBe('NODE'); // on-board BCM5720 on pci0000:00, NUMA 0
    expect(d0['nic-0000-9c-00-0']).toBe('SYS'); // NUMA 1
    // nearest first: the 400G ConnectX-7 before the 100G ConnectX-6 Dx ports at the same distance
    expect(inv.affinity[0]!.nics[0]).toEqual({ nic: 'nic-0000-1a-00-0', distance: 'PIX' });
    expect(inv.affinity[0]!.nics).toHaveLength(14);
  });

  it('lists the 14 Ethernet functions as NICs with their RDMA ports, and leaves out lo, docker0 and the veth', () => {
    expect(nics(inv).map((x) => x.name)).toHaveLength(14);
    expect(nicByBus(inv, '0000:1a:00.0')).toMatchObject({
      name: 'nic-0000-1a-00-0',
      ifName: 'enp26s0np0',
      mtu: 9000,
      speedMbps: 400000,
      operState: 'up',
      virtual: false,
      sriovVf: false,
      rdma: [{ device: 'mlx5_0', port: 1, state: 'ACTIVE', physState: 'LinkUp', linkLayer: 'Ethernet', rateGbps: 400 }],
      deviceNodes: [join(n.devRoot, 'infiniband/uverbs0')],
      health: { state: 'healthy' },
    });
    expect(nicByBus(inv, '0000:1a:00.0')!.pci).toMatchObject({
      vendorId: '15b3',
      deviceId: '1021',
      pcieSwitch: '0000:16:00.0',
    });
    expect(nicByBus(inv, '0000:1b:00.1')!.rdma.map((p) => [p.device, p.rateGbps])).toEqual([['mlx5_3', 100]]);
    expect(
      nics(inv)
        .filter((x) => x.rdma.length > 0)
        .map((x) => x.rdma[0]!.device)
        .sort(),
    ).toEqual([
      'mlx5_0',
      'mlx5_1',
      'mlx5_10',
      'mlx5_11',
      'mlx5_2',
      'mlx5_3',
      'mlx5_4',
      'mlx5_5',
      'mlx5_6',
      'mlx5_7',
      'mlx5_8',
      'mlx5_9',
    ]);
    // the uncabled on-board port: down, speed -1 in sysfs → no speed; down since first seen is no fault
    expect(nicByBus(inv, '0000:01:00.1')).toMatchObject({
      operState: 'down',
      carrier: false,
      health: { state: 'healthy', message: 'link down since first seen' },
    });
    expect(nicByBus(inv, '0000:01:00.1')!.speedMbps).toBeUndefined();
    expect(inv.excludedInterfaces).toEqual([
      { ifName: 'docker0', reason: 'virtual (bridge)' },
      { ifName: 'lo', reason: 'loopback' },
      { ifName: 'veth3f2a1b0', reason: 'virtual' },
    ]);
  });

  it('gives valid, stable Kubernetes device names: a second scan and a scan without nvidia-smi name the same', async () => {
    const again = await scan(n);
    expect(again.devices.map((d) => d.name)).toEqual(inv.devices.map((d) => d.name));
    for (const d of inv.devices) expect(isDnsLabel(d.name), d.name).toBe(true);
    const noSmi = await scan(n, { nvidiaSmi: join(n.dir, 'no-such-nvidia-smi') });
    expect(noSmi.devices.map((d) => d.name)).toEqual(inv.devices.map((d) => d.name));
  });

  it('calls nvidia-smi exactly once per scan', async () => {
    let calls = 0;
    await scan(n, {
      runNvidiaSmi: async () => {
        calls++;
        return { ok: true, xml: await n.nvidiaSmiXml() };
      },
    });
    expect(calls).toBe(1);
  });
});

describeRecorded('the other recorded nodes', () => {
  it('v100s-vm: 8 GPUs on a flat QEMU bus, NUMA unknown, the virtio NIC is PHB to every GPU', async () => {
    const n = await node('v100s-vm');
    const inv = await scan(n);
    expect(gpus(inv).map((g) => [g.pci.address, g.pci.numaNode, g.pci.pcieRoot, g.pci.pcieSwitch, g.minor])).toEqual(
      ['0d', '0e', '0f', '10', '11', '12', '13', '14'].map((d, i) => [
        `0000:00:${d}.0`,
        null,
        'pci0000:00',
        undefined,
        i,
      ]),
    );
    expect(gpus(inv)[0]).toMatchObject({
      model: 'Tesla V100S-PCIE-32GB',
      computeCapability: '7.0',
      driverVersion: '460.73.01',
    });
    expect(gpus(inv)[0]!.nvlinkPeers).toEqual([]); // no fabric, no clique reported
    expect(nics(inv)).toHaveLength(1);
    expect(nics(inv)[0]).toMatchObject({
      name: 'nic-0000-00-03-0',
      ifName: 'eth0',
      virtual: true,
      pciAddress: '0000:00:03.0',
    });
    expect(inv.affinity.every((a) => a.nics.length === 1 && a.nics[0]!.distance === 'PHB')).toBe(true);
  });

  it('a100-mig: MIG on, four MIG devices named after GPU and instance ids', async () => {
    const n = await node('a100-mig-recorded');
    const inv = await scan(n);
    const [g] = gpus(inv);
    expect(g).toMatchObject({ name: 'gpu-0000-01-00-0', minor: 1, migEnabled: true, computeCapability: '8.0' });
    expect(g!.migDevices).toEqual([
      {
        name: 'gpu-0000-01-00-0-mig-3-0',
        gpuInstanceId: 3,
        computeInstanceId: 0,
        memoryBytes: 19968 * 1024 ** 2,
        multiprocessorCount: 14,
      },
      {
        name: 'gpu-0000-01-00-0-mig-4-0',
        gpuInstanceId: 4,
        computeInstanceId: 0,
        memoryBytes: 19968 * 1024 ** 2,
        multiprocessorCount: 14,
      },
      {
        name: 'gpu-0000-01-00-0-mig-5-0',
        gpuInstanceId: 5,
        computeInstanceId: 0,
        memoryBytes: 19968 * 1024 ** 2,
        multiprocessorCount: 14,
      },
      {
        name: 'gpu-0000-01-00-0-mig-6-0',
        gpuInstanceId: 6,
        computeInstanceId: 0,
        memoryBytes: 19968 * 1024 ** 2,
        multiprocessorCount: 14,
      },
    ]);
    expect(g!.deviceNodes).toEqual([join(n.devRoot, 'nvidia1')]);
    // GPU under root port 00:01.0, NIC under 00:02.0: their common ancestor is the host bridge
    expect(inv.affinity).toEqual([{ gpu: 'gpu-0000-01-00-0', nics: [{ nic: 'nic-0000-02-00-0', distance: 'PHB' }] }]);
  });

  it('node_exporter snapshot: no GPUs, eth0 from its device link, bonds and bridges left out, no crash on missing files', async () => {
    const n = await node('node-exporter');
    const inv = await scan(n);
    expect(gpus(inv)).toEqual([]);
    // sys/class/net/eth0 -> ../../devices/pci0000:00/0000:00:03.0/0000:03:00.0/net/eth0/ (a target not in the archive)
    expect(nics(inv).map((x) => [x.name, x.ifName, x.pciAddress])).toEqual([
      ['nic-0000-03-00-0', 'eth0', '0000:03:00.0'],
    ]);
    expect(inv.excludedInterfaces.map((e) => e.ifName)).toEqual(['bond0', 'dmz', 'int']);
    // mlx4_0 / i40iw0 have no device link in the snapshot: reported, not guessed
    expect(inv.problems.map((p) => p.message)).toEqual([
      'RDMA device i40iw0 has no PCI device link; left out',
      'RDMA device mlx4_0 has no PCI device link; left out',
    ]);
  });

  it('procfs snapshot: eth0 through its device link to 0000:00:1f.6', async () => {
    const n = await node('procfs');
    const inv = await scan(n);
    expect(nics(inv).map((x) => [x.name, x.ifName, x.pciAddress])).toEqual([
      ['nic-0000-00-1f-6', 'eth0', '0000:00:1f.6'],
    ]);
  });
});

describe('robustness', () => {
  itRecorded('nvidia-smi failing (exit 9): GPUs kept from the PCI tree, the error named, health unknown', async () => {
    const n = await node('v100s-vm');
    await n.setNvidiaSmi({ mode: 'fail' });
    const inv = await scan(n);
    expect(gpus(inv)).toHaveLength(8);
    expect(gpus(inv)[0]).toMatchObject({
      name: 'gpu-0000-00-0d-0',
      model: 'NVIDIA 1df6',
      health: { state: 'unknown', reason: 'nvidia-smi-failed' },
    });
    expect(inv.problems).toEqual([
      {
        source: 'nvidia-smi',
        message: `${n.nvidiaSmiPath} -q -x exited with code 9: NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.; GPUs are listed from the PCI bus only`,
      },
    ]);
  });

  itRecorded('nvidia-smi hanging: killed at the timeout', async () => {
    const n = await node('v100s-vm');
    await n.setNvidiaSmi({ mode: 'hang' });
    const inv = await scan(n, { nvidiaSmiTimeoutMs: 300 });
    expect(gpus(inv)).toHaveLength(8);
    expect(inv.problems[0]!.message).toBe(
      `${n.nvidiaSmiPath} -q -x timed out after 300 ms; GPUs are listed from the PCI bus only`,
    );
  });

  itRecorded('nvidia-smi printing truncated XML: the parse error is reported, PCI view kept', async () => {
    const n = await node('a100-mig-recorded');
    const xml = await n.nvidiaSmiXml();
    await n.setNvidiaSmi({ xml: xml.slice(0, 3000) });
    const inv = await scan(n);
    expect(gpus(inv)).toHaveLength(1);
    expect(inv.problems[0]!.message).toMatch(
      /^nvidia-smi -q -x output is not valid XML: output ends inside <nvidia_smi_log\/gpu\/.*truncated; GPUs are listed from the PCI bus only$/,
    );
  });

  it('a pending row remap, an Unknown Error GPU and a GPU missing from nvidia-smi each make a first unhealthy reading', async () => {
    const n = await node('h100-hgx');
    const xml = await n.nvidiaSmiXml();
    const gpusXml = xml.split('<gpu id=');
    // GPU 3B: row remap pending; GPU 4C: product name Unknown Error; GPU DB: dropped from the output
    gpusXml[2] = gpusXml[2]!.replace(
      '<remapped_row_pending>No</remapped_row_pending>',
      '<remapped_row_pending>Yes</remapped_row_pending>',
    );
    gpusXml[3] = gpusXml[3]!.replace(
      '<product_name>NVIDIA H100 80GB HBM3</product_name>',
      '<product_name>Unknown Error</product_name>',
    );
    const last = gpusXml[8]!;
    gpusXml[8] = last.slice(last.indexOf('</gpu>') + '</gpu>'.length);
    const modified = gpusXml.slice(0, 8).join('<gpu id=') + gpusXml[8];
    await n.setNvidiaSmi({ xml: modified });
    const inv = await scan(n);
    const h = Object.fromEntries(gpus(inv).map((g) => [g.pci.address, g.health]));
    expect(h['0000:19:00.0']).toEqual({ state: 'healthy' });
    // the reasons of the nvidia-smi health monitor (one rule set, agent/discovery/gpu-verdict.ts)
    expect(h['0000:3b:00.0']).toMatchObject({ state: 'unhealthy', reason: 'row-remap-pending' });
    expect(h['0000:4c:00.0']).toMatchObject({ state: 'unhealthy', reason: 'gpu-not-answering' });
    expect(h['0000:db:00.0']).toEqual({
      state: 'unhealthy',
      reason: 'gpu-lost',
      message: 'bound to nvidia but not visible to nvidia-smi',
    });
  });

  it('a device that vanished (dangling bus link, removed netdev) is left out without error', async () => {
    const n = await node('h100-hgx');
    // the GPU's directory goes, its /sys/bus/pci/devices link stays (as during a surprise removal)
    await rm(join(n.sysfsRoot, 'devices/pci0000:97/0000:97:01.0/0000:98:00.0/0000:99:01.0/0000:9b:00.0'), {
      recursive: true,
    });
    await n.removePciDevice('0000:9c:00.0'); // and the NIC beside it, with its netdev and RDMA links
    const inv = await scan(n);
    expect(gpus(inv).map((g) => g.pci.address)).not.toContain('0000:9b:00.0');
    expect(gpus(inv)).toHaveLength(7);
    expect(nicByBus(inv, '0000:9c:00.0')).toBeUndefined();
    expect(inv.problems.filter((p) => !p.source.startsWith('nvidia-smi'))).toEqual([]);
    // nvidia-smi still reports 9B (its XML is the recording): said, not hidden
    expect(inv.problems.map((p) => p.message)).toContain(
      'nvidia-smi reports GPU 0000:9b:00.0, which is not on the PCI bus',
    );
  });

  itRecorded(
    'an interface whose class/net link dangles (deleted mid-scan) is neither a NIC nor an excluded interface',
    async () => {
      const n = await node('a100-mig-recorded');
      await rm(join(n.sysfsRoot, 'devices/pci0000:00/0000:00:02.0/0000:02:00.0/net/enp2s0f0np0'), { recursive: true });
      const inv = await scan(n);
      expect(nics(inv)).toEqual([]);
      expect(inv.excludedInterfaces).toEqual([{ ifName: 'lo', reason: 'loopback' }]);
      expect(inv.problems).toEqual([]);
    },
  );

  itRecorded('a two-port RDMA device on one PCI function (mlx4) gives each netdev its own port', async () => {
    const n = await node('a100-mig-recorded');
    const pciDir = 'devices/pci0000:00/0000:00:02.0/0000:02:00.0';
    await writeNetdev(n.sysfsRoot, {
      ifName: 'enp2s0d1',
      deviceDir: pciDir,
      mac: '02:00:00:00:00:02',
      mtu: 1500,
      speed: 40000,
      operstate: 'up',
      carrier: 1,
      devPort: 1,
    });
    const port = (state: string) => ({
      state,
      phys_state: '5: LinkUp\n',
      rate: '40 Gb/sec (4X QDR)\n',
      link_layer: 'Ethernet\n',
    });
    await writeRdma(n.sysfsRoot, {
      device: 'mlx4_0',
      pciDir,
      files: {},
      ports: [
        { port: 1, files: port('4: ACTIVE\n') },
        { port: 2, files: port('1: DOWN\n') },
      ],
      uverbs: 0,
    });
    const inv = await scan(n);
    expect(
      nics(inv).map((x) => [x.name, x.ifName, x.rdma.map((p) => `${p.device}/${p.port} ${p.state}`), x.health.state]),
    ).toEqual([
      ['nic-0000-02-00-0', 'enp2s0f0np0', ['mlx4_0/1 ACTIVE'], 'healthy'],
      ['nic-0000-02-00-0-p1', 'enp2s0d1', ['mlx4_0/2 DOWN'], 'healthy'], // down since first seen: no fault
    ]);
  });

  itRecorded('an SR-IOV virtual function (physfn link) is a NIC marked sriovVf and virtual', async () => {
    const n = await node('a100-mig-recorded');
    const vf = 'devices/pci0000:00/0000:00:02.0/0000:02:01.0';
    await writePciFunction(n.sysfsRoot, {
      address: '0000:02:01.0',
      sysfsPath: vf,
      vendorId: '8086',
      deviceId: '1889',
      classCode: '020000',
      numaNode: 0,
      driver: 'iavf',
    });
    await symlink('../0000:02:00.0', join(n.sysfsRoot, vf, 'physfn'));
    await writeNetdev(n.sysfsRoot, {
      ifName: 'enp2s1',
      deviceDir: vf,
      mac: '02:00:00:00:01:01',
      mtu: 1500,
      speed: 25000,
      operstate: 'up',
      carrier: 1,
    });
    const inv = await scan(n);
    expect(nicByBus(inv, '0000:02:01.0')).toMatchObject({
      name: 'nic-0000-02-01-0',
      sriovVf: true,
      virtual: true,
      pci: { physfn: '0000:02:00.0' },
    });
    expect(nicByBus(inv, '0000:02:00.0')).toMatchObject({ sriovVf: false, virtual: false });
  });

  itRecorded(
    'an attribute that cannot be read (EISDIR here; EACCES is not reproducible as root) is a problem, not a crash',
    async () => {
      const n = await node('a100-mig-recorded');
      const numa = join(n.sysfsRoot, 'devices/pci0000:00/0000:00:01.0/0000:01:00.0/numa_node');
      await rm(numa);
      await mkdir(numa);
      const inv = await scan(n);
      expect(gpus(inv)[0]!.pci.numaNode).toBeNull();
      expect(inv.problems).toEqual([
        {
          source: join(n.sysfsRoot, 'bus/pci/devices/0000:01:00.0/numa_node'),
          message: expect.stringMatching(/^EISDIR: /),
        },
      ]);
    },
  );

  itRecorded(
    'odd interface names (15 bytes, non-ASCII, no PCI device) still give valid, distinct device names',
    async () => {
      const n = await node('a100-mig-recorded');
      const sys = n.sysfsRoot;
      const add = async (ifName: string, deviceDir: string) => {
        const dir = join(sys, deviceDir, 'net', ifName);
        await mkdir(dir, { recursive: true });
        await writeFile(join(dir, 'operstate'), 'up\n');
        await symlink(join('..', '..', '..', deviceDir.split('/').pop()!), join(dir, 'device'));
        await symlink(join('..', '..', deviceDir, 'net', ifName), join(sys, 'class/net', ifName));
      };
      await mkdir(join(sys, 'devices/platform/soc-eth'), { recursive: true });
      await add('ethünï€ødé', 'devices/platform/soc-eth');
      await add('ETH_Very.Long15', 'devices/platform/soc-eth');
      await add('---', 'devices/platform/soc-eth');
      const inv = await scan(n);
      const odd = nics(inv).filter((x) => x.pciAddress === undefined);
      expect(odd.map((x) => x.ifName).sort()).toEqual(['---', 'ETH_Very.Long15', 'ethünï€ødé']);
      for (const x of odd) expect(isDnsLabel(x.name), x.name).toBe(true);
      expect(new Set(odd.map((x) => x.name)).size).toBe(3);
      const again = await scan(n);
      expect(nics(again).map((x) => x.name)).toEqual(nics(inv).map((x) => x.name));
    },
  );

  it('an empty sysfs root: no devices, one problem saying so', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'discovery-empty-'));
    dirs.push(dir);
    const inv = await scanInventory({
      sysfsRoot: dir,
      devRoot: dir,
      nvidiaSmi: 'nvidia-smi',
      nvidiaSmiTimeoutMs: 1000,
    });
    expect(inv.devices).toEqual([]);
    expect(inv.problems).toEqual([{ source: join(dir, 'bus/pci/devices'), message: 'no PCI devices found' }]);
  });
});

describe('TPUs and other accelerators (a hand-built tree with the ids of FACTS.md §9)', () => {
  it('tells TPUs from gVNIC by device id, finds their device nodes, and lists AMD/Habana by PCI identity', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'discovery-accel-'));
    dirs.push(dir);
    const sys = join(dir, 'sys');
    const dev = join(dir, 'dev');
    const fn = (address: string, vendorId: string, deviceId: string, classCode: string, iommuGroup: number) =>
      writePciFunction(sys, {
        address,
        sysfsPath: `devices/pci0000:00/${address}`,
        vendorId,
        deviceId,
        classCode,
        numaNode: 0,
        iommuGroup,
      });
    await fn('0000:00:04.0', '1ae0', '0042', '020000', 4); // gVNIC: Google, but not a TPU
    await fn('0000:00:05.0', '1ae0', '0063', '120000', 7); // TPU v5e → /dev/vfio/7
    await fn('0000:00:06.0', '1ae0', '005e', '120000', 8); // TPU v4 → /dev/accel0
    await fn('0000:00:07.0', '1002', '74a1', '120000', 9); // AMD Instinct (processing accelerator)
    await fn('0000:00:08.0', '1da3', '1020', '120000', 10); // Habana Gaudi
    await fn('0000:00:02.0', '8086', '46a6', '030000', 2); // Intel iGPU (VGA): not an accelerator
    await mkdir(join(dev, 'vfio'), { recursive: true });
    await writeFile(join(dev, 'vfio/7'), '');
    await writeFile(join(dev, 'accel0'), '');
    const inv = await scanInventory({
      sysfsRoot: sys,
      devRoot: dev,
      nvidiaSmi: 'nvidia-smi',
      nvidiaSmiTimeoutMs: 1000,
    });
    expect(
      inv.devices.map((d) => [
        d.kind,
        d.name,
        'generation' in d ? d.generation : 'vendor' in d ? d.vendor : '',
        'deviceNodes' in d ? d.deviceNodes : [],
      ]),
    ).toEqual([
      ['tpu', 'tpu-0000-00-05-0', 'v5e', [join(dev, 'vfio/7')]],
      ['tpu', 'tpu-0000-00-06-0', 'v4', [join(dev, 'accel0')]],
      ['accelerator', 'accel-0000-00-07-0', 'amd', []],
      ['accelerator', 'accel-0000-00-08-0', 'habana', []],
    ]);
  });
});

describe('this machine', () => {
  it('finds every PCI-backed interface of /sys/class/net with the pcieRoot the kernel path gives, and no GPU error', async () => {
    const inv = await scanInventory({
      sysfsRoot: '/sys',
      devRoot: '/dev',
      nvidiaSmi: 'nvidia-smi',
      nvidiaSmiTimeoutMs: 10_000,
    });
    const expected: [string, string][] = [];
    for (const ifName of readdirSync('/sys/class/net')) {
      const real = await realpath(join('/sys/class/net', ifName));
      if (real.startsWith('/sys/devices/virtual/')) continue;
      expected.push([ifName, real.split('/')[3]!]); // /sys/devices/<pcieRoot>/…
    }
    expect(
      nics(inv)
        .map((x) => [x.ifName, x.pci?.pcieRoot])
        .sort(),
    ).toEqual(expected.sort());
    expect(inv.problems.filter((p) => p.source === 'nvidia-smi')).toEqual([]);
    const eth0 = nics(inv).find((x) => x.ifName === 'eth0');
    if (eth0 && (await readFile('/sys/class/net/eth0/device/vendor', 'utf8').catch(() => '')).includes('0x1af4')) {
      // the development machine: a virtio NIC on the first root complex
      expect(eth0.pci?.pcieRoot).toBe('pci0000:00');
      expect(eth0.virtual).toBe(true);
    }
  });
});
