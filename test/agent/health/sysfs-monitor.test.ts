import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DiscoveredDevice, NicDevice, PciFunction, TpuDevice } from '../../../agent/discovery/inventory.js';
import { DeviceHealthBoard } from '../../../agent/health/board.js';
import { SysfsHealthMonitor } from '../../../agent/health/sysfs-monitor.js';
import { HealthVerdicts } from '../../../agent/health/verdicts.js';
import { describeRecorded } from '../../support/recorded.js';
import { ibstatPorts } from './ibstat.js';
import { FIXTURES } from './support.js';

let root: string;
let sys: string;
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'sysfs-monitor-'));
  sys = join(root, 'sys');
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

const pci = (address: string): PciFunction => ({
  address,
  vendorId: '15b3',
  deviceId: '1021',
  classCode: '020700',
  numaNode: 0,
  sysfsPath: `devices/pci0000:00/${address}`,
  pcieRoot: 'pci0000:00',
});

async function put(path: string, text: string): Promise<void> {
  await mkdir(join(path, '..'), { recursive: true });
  await writeFile(path, `${text}\n`);
}

const aerFatal = (n: number) => `Undefined 0\nDLP ${n}\nTOTAL_ERR_FATAL ${n}`;
const aerNonFatal = (n: number) => `Undefined 0\nMalfTLP ${n}\nTOTAL_ERR_NONFATAL ${n}`;

/** A sysfs tree holding the RDMA ports of the recorded ibstat output, one PCI function per HCA. */
async function ibstatNode(): Promise<NicDevice[]> {
  const ports = ibstatPorts(
    readFileSync(join(FIXTURES, 'infiniband', 'gpud__ibstat__h100-node__some-ports-down.txt'), 'utf8'),
  );
  const nics: NicDevice[] = [];
  for (const [i, p] of ports.entries()) {
    const address = `0000:${(0x10 + i).toString(16)}:00.0`;
    await put(join(sys, 'class', 'infiniband', p.device, 'ports', String(p.port), 'state'), p.state);
    await put(join(sys, 'class', 'infiniband', p.device, 'ports', String(p.port), 'phys_state'), p.physState);
    await put(join(sys, 'bus', 'pci', 'devices', address, 'aer_dev_fatal'), aerFatal(0));
    await put(join(sys, 'bus', 'pci', 'devices', address, 'aer_dev_nonfatal'), aerNonFatal(0));
    nics.push({
      kind: 'nic',
      name: `nic-${address.replace(/[:.]/g, '-')}`,
      ifName: '',
      operState: 'unknown',
      pci: pci(address),
      virtual: false,
      sriovVf: false,
      rdma: [{ device: p.device, port: p.port, state: p.state, physState: p.physState, linkLayer: p.linkLayer }],
      deviceNodes: [],
      health: { state: 'healthy' },
    });
  }
  return nics;
}

function setup(devices: DiscoveredDevice[], stableMs = 10_000) {
  let now = 0;
  const board = new DeviceHealthBoard(() => now);
  const verdicts = new HealthVerdicts(board);
  const monitor = new SysfsHealthMonitor({
    verdicts,
    sysfsRoot: sys,
    linkStableMs: stableMs,
    aerQuietMs: 5000,
    now: () => now,
  });
  monitor.setDevices(devices);
  const byRdma = (rdma: string) => devices.find((d) => d.kind === 'nic' && d.rdma[0]?.device === rdma)?.name ?? '';
  return {
    board,
    monitor,
    byRdma,
    at: async (t: number) => {
      now = t;
      await monitor.poll();
    },
  };
}

describeRecorded('SysfsHealthMonitor on a sysfs tree built from the recorded ibstat "some ports down"', () => {
  it('ports Down/Disabled since the first look are no fault (uncabled), and all 12 NICs are healthy', async () => {
    const nics = await ibstatNode();
    const { board, at } = setup(nics);
    await at(0);
    await at(10_000);
    expect(board.all().filter((e) => e.state !== 'healthy')).toEqual([]);
    expect(board.all()).toHaveLength(12);
  });

  it('reports a flapping port once, and recovery only after it was up for the stable time', async () => {
    const nics = await ibstatNode();
    const { board, at, byRdma } = setup(nics, 10_000);
    const nic = byRdma('mlx5_0');
    const changes: string[] = [];
    board.subscribe((e) => {
      if (e.device === nic) changes.push(`${e.state}@${e.since}`);
    });
    const portDir = join(sys, 'class', 'infiniband', 'mlx5_0', 'ports', '1');
    const setPort = async (up: boolean) => {
      await put(join(portDir, 'state'), up ? '4: ACTIVE' : '1: DOWN');
      await put(join(portDir, 'phys_state'), up ? '5: LinkUp' : '2: Polling');
    };
    await at(0);
    for (const [t, up] of [
      [1000, false],
      [2000, true],
      [3000, false],
      [4000, true],
      [9000, true],
      [13_999, true],
      [14_000, true],
    ] as const) {
      await setPort(up);
      await at(t);
    }
    expect(changes).toEqual(['healthy@0', 'unhealthy@1000', 'healthy@14000']);
  });

  it('AER: a fatal rise is sticky until reset; a non-fatal rise clears after the quiet time', async () => {
    const nics = await ibstatNode();
    const { board, at, monitor } = setup(nics);
    const [a, b] = nics;
    if (!a?.pci || !b?.pci) throw new Error('fixture');
    await at(0);
    await put(join(sys, 'bus', 'pci', 'devices', a.pci.address, 'aer_dev_fatal'), aerFatal(1));
    await put(join(sys, 'bus', 'pci', 'devices', b.pci.address, 'aer_dev_nonfatal'), aerNonFatal(2));
    await at(1000);
    expect(board.get(a.name)).toMatchObject({ state: 'unhealthy', reason: 'aer-fatal', source: 'aer' });
    expect(board.get(a.name)?.message).toContain('DLP=1');
    expect(board.get(b.name)).toMatchObject({ state: 'unhealthy', reason: 'aer-nonfatal' });
    await at(6000);
    expect(board.get(b.name)?.state).toBe('healthy');
    expect(board.get(a.name)?.state).toBe('unhealthy');
    monitor.resetAer([a.name]);
    await at(7000);
    expect(board.get(a.name)?.state).toBe('healthy');
  });

  it('a device whose PCI function vanishes is unhealthy: pci-gone', async () => {
    const nics = await ibstatNode();
    const { board, at } = setup(nics);
    const a = nics[0];
    if (!a?.pci) throw new Error('fixture');
    await at(0);
    await rm(join(sys, 'bus', 'pci', 'devices', a.pci.address), { recursive: true });
    await at(1000);
    expect(board.get(a.name)).toMatchObject({ state: 'unhealthy', reason: 'pci-gone', source: 'pci' });
  });
});

describe('SysfsHealthMonitor on netdevs and TPUs', () => {
  it('reads operstate and carrier of a NIC netdev', async () => {
    const address = '0000:1a:00.0';
    await mkdir(join(sys, 'bus', 'pci', 'devices', address), { recursive: true });
    await put(join(sys, 'class', 'net', 'enp26s0np0', 'operstate'), 'up');
    await put(join(sys, 'class', 'net', 'enp26s0np0', 'carrier'), '1');
    const nic: NicDevice = {
      kind: 'nic',
      name: 'nic-0000-1a-00-0',
      ifName: 'enp26s0np0',
      operState: 'up',
      pci: pci(address),
      virtual: false,
      sriovVf: false,
      rdma: [],
      deviceNodes: [],
      health: { state: 'healthy' },
    };
    const { board, at } = setup([nic]);
    await at(0);
    expect(board.get(nic.name)?.state).toBe('healthy');
    await put(join(sys, 'class', 'net', 'enp26s0np0', 'operstate'), 'down');
    await at(1000);
    expect(board.get(nic.name)).toMatchObject({ state: 'unhealthy', reason: 'netdev-down' });
  });

  it('marks a TPU whose device node disappeared unhealthy', async () => {
    const address = '0000:00:04.0';
    await mkdir(join(sys, 'bus', 'pci', 'devices', address), { recursive: true });
    const node = join(root, 'dev', 'vfio', '0');
    await put(node, '');
    const tpu: TpuDevice = {
      kind: 'tpu',
      name: 'tpu-0',
      index: 0,
      generation: 'v6e',
      pci: { ...pci(address), vendorId: '1ae0', deviceId: '006f', classCode: '120000' },
      deviceNodes: [node],
      health: { state: 'healthy' },
    };
    const { board, at } = setup([tpu]);
    await at(0);
    expect(board.get('tpu-0')?.state).toBe('healthy');
    await rm(node);
    await at(1000);
    expect(board.get('tpu-0')).toMatchObject({ state: 'unhealthy', reason: 'device-node-missing', source: 'tpu' });
  });
});
