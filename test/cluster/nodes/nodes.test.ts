import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parseNvidiaSmiXml } from '../../../agent/discovery/nvidia-smi.js';
import { buildSimulatedNode, FIXTURES, SIMULATED_NODE_KINDS } from './index.js';
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

  it('unpacks the node_exporter fixture as the recording has it', async () => {
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

describe('tar reader', () => {
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
  const fns = parseLspciVvv(
    readFileSync(join(FIXTURES, 'lspci/gpud__lspci-vvv__8x-h100-hgx-pex890xx-cx7.txt'), 'utf8'),
  );
  it('reads all 517 functions of the capture with ids, class, NUMA, link and driver', () => {
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

  it('the GPU bus ids of the lspci capture are exactly those of the nvidia-smi capture (checked, documented in README)', () => {
    const text = readFileSync(
      join(FIXTURES, 'nvidia-smi-text/gpud__nvidia-smi-q__8x-h100-sxm-baremetal__535.161.08.txt'),
      'utf8',
    );
    const smi = [...text.matchAll(/^GPU 0000(\S+)$/gm)].map((m) => m[1]!.toLowerCase());
    const lspci = fns.filter((f) => f.classCode === '030200').map((f) => f.address);
    expect(smi).toEqual(lspci);
  });

  it('names an unknown class instead of guessing', () => {
    expect(() => parseLspciVvv('00:01.0 Weird thing: Intel Corporation Device 1234\n')).toThrow(
      'lspci: unknown class "Weird thing" at 00:01.0',
    );
  });
});

describe('nvidia-smi text → XML (derived)', () => {
  const text = readFileSync(
    join(FIXTURES, 'nvidia-smi-text/gpud__nvidia-smi-q__8x-h100-sxm-baremetal__535.161.08.txt'),
    'utf8',
  );
  it('the derived XML parses and carries the text capture’s values', () => {
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
  it('builds every kind', async () => {
    for (const kind of SIMULATED_NODE_KINDS) {
      const n = await buildSimulatedNode(kind, await temp());
      expect(n.nodeName).toBe(`sim-${kind}`);
      expect(n.expected.sources.length).toBeGreaterThan(0);
    }
  });

  it('the fake nvidia-smi prints the XML, fails, hangs, and refuses other arguments', async () => {
    const n = await buildSimulatedNode('a100-mig', await temp(), { nodeName: 'a' });
    const ok = await run(n.nvidiaSmiPath, ['-q', '-x']);
    expect(ok.stdout).toBe(await n.nvidiaSmiXml());
    await n.setNvidiaSmi({ mode: 'fail' });
    await expect(run(n.nvidiaSmiPath, ['-q', '-x'])).rejects.toMatchObject({ code: 9 });
    await n.setNvidiaSmi({ mode: 'hang' });
    await expect(run(n.nvidiaSmiPath, ['-q', '-x'], { timeout: 300 })).rejects.toMatchObject({ killed: true });
    await n.setNvidiaSmi({ xml: '<nvidia_smi_log/>' });
    expect((await run(n.nvidiaSmiPath, ['-q', '-x'])).stdout).toBe('<nvidia_smi_log/>');
    await expect(run(n.nvidiaSmiPath, ['-L'])).rejects.toMatchObject({ code: 2 });
  });

  it('appends kernel-log records in /dev/kmsg format with increasing sequence numbers', async () => {
    const n = await buildSimulatedNode('v100s-vm', await temp());
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
    const n = await buildSimulatedNode('v100s-vm', await temp());
    await n.removePciDevice('0000:00:03.0');
    await expect(readlink(join(n.sysfsRoot, 'bus/pci/devices/0000:00:03.0'))).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(readlink(join(n.sysfsRoot, 'class/net/eth0'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
