/**
 * sysfs reads never block: a FIFO, a socket or a device node where an attribute file should be is skipped with a
 * problem line (a plain read of a FIFO once hung discovery for good). Real special files in a temp tree: mkfifo, a
 * listening Unix socket, and links to /dev/zero.
 */
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, symlink, unlink } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { scanInventory } from '../../../agent/discovery/scan.js';
import { SysfsReader } from '../../../agent/discovery/sysfs-read.js';
import { writePciFunction } from '../../cluster/nodes/sysfs-writer.js';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sysfs-special-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function mkfifo(path: string): void {
  expect(spawnSync('mkfifo', [path]).status).toBe(0);
}

async function unixSocket(path: string): Promise<void> {
  const server: Server = createServer();
  await new Promise<void>((done) => server.listen(path, done));
  cleanups.push(() => new Promise((done) => server.close(done)));
}

describe('SysfsReader on special files', () => {
  it.each([
    ['a FIFO', (p: string) => Promise.resolve(mkfifo(p)), /^ENOTREG: .*attr is a FIFO, not a regular file: skipped$/],
    ['a socket', unixSocket, /^ENOTREG: .*attr is a socket, not a regular file: skipped$/],
    [
      'a character device (/dev/zero)',
      (p: string) => symlink('/dev/zero', p),
      /is a character device, not a regular file/,
    ],
  ])('%s: no value, one problem line, no wait', async (_name, make, message) => {
    const dir = await tempDir();
    const path = join(dir, 'attr');
    await make(path);
    const reader = new SysfsReader(dir);
    expect(await reader.attr(path)).toBeUndefined();
    const [, text] = await reader.linkAndAttr(join(dir, 'nolink'), path);
    expect(text).toBeUndefined();
    expect(reader.problems).toHaveLength(2);
    for (const p of reader.problems) expect(p.message).toMatch(message);
  });

  it('still reads regular attributes and treats a missing one as absent', async () => {
    const dir = await tempDir();
    await writePciFunction(dir, {
      address: '0000:00:07.0',
      sysfsPath: 'devices/pci0000:00/0000:00:07.0',
      vendorId: '1002',
      deviceId: '74a1',
      classCode: '120000',
      numaNode: 1,
    });
    const reader = new SysfsReader(dir);
    expect(await reader.attr(join(dir, 'devices/pci0000:00/0000:00:07.0/numa_node'))).toBe('1');
    expect(await reader.attr(join(dir, 'devices/pci0000:00/0000:00:07.0/missing'))).toBeUndefined();
    expect(reader.problems).toEqual([]);
  });
});

describe('discovery over a tree with special files', () => {
  it('finds the devices, skips the special attributes and lists each as a problem', async () => {
    const sys = await tempDir();
    const fn = (address: string, iommuGroup: number) =>
      writePciFunction(sys, {
        address,
        sysfsPath: `devices/pci0000:00/${address}`,
        vendorId: '1002',
        deviceId: '74a1',
        classCode: '120000',
        numaNode: 0,
        iommuGroup,
        subsystemVendorId: '1002',
        subsystemDeviceId: '0c34',
      });
    await fn('0000:00:07.0', 9);
    await fn('0000:00:08.0', 10);
    await fn('0000:00:09.0', 11);
    const at = (address: string, name: string) => join(sys, 'devices/pci0000:00', address, name);
    await unlink(at('0000:00:07.0', 'numa_node'));
    mkfifo(at('0000:00:07.0', 'numa_node'));
    await unlink(at('0000:00:08.0', 'numa_node'));
    await unixSocket(at('0000:00:08.0', 'numa_node'));
    await unlink(at('0000:00:09.0', 'numa_node'));
    await symlink('/dev/zero', at('0000:00:09.0', 'numa_node'));
    const inv = await scanInventory({
      sysfsRoot: sys,
      devRoot: sys,
      nvidiaSmi: 'nvidia-smi',
      nvidiaSmiTimeoutMs: 1000,
    });
    expect(inv.devices.map((d) => d.name)).toEqual(['accel-0000-00-07-0', 'accel-0000-00-08-0', 'accel-0000-00-09-0']);
    const special = inv.problems.filter((p) => p.message.startsWith('ENOTREG'));
    // problems come in the order the reads finish; which order is not part of the contract
    expect(special.map((p) => p.message.replace(sys, 'SYS')).sort()).toEqual([
      expect.stringMatching(/0000:00:07\.0\/numa_node is a FIFO, not a regular file: skipped$/),
      expect.stringMatching(/0000:00:08\.0\/numa_node is a socket, not a regular file: skipped$/),
      expect.stringMatching(/0000:00:09\.0\/numa_node is a character device, not a regular file: skipped$/),
    ]);
  });
});
