import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GpuDevice, Inventory } from '../../../agent/discovery/inventory.js';
import { parseNvidiaSmiList, parseNvlinkStatus } from '../../../agent/discovery/nvidia-smi.js';
import { scanInventory } from '../../../agent/discovery/scan.js';
import { buildDevices } from '../../../agent/slices/builder.js';
import { parseQuantity } from '../../../src/kube/quantity.js';
import { buildSimulatedNode, type SimulatedNode } from '../../cluster/nodes/index.js';

/**
 * MIG on an H200 (143771 MiB): an authored `nvidia-smi -q -x` + `nvidia-smi -L` pair. The XML has the element names
 * and nesting of the recorded MIG XML (`nvidia-smi-xml/telegraf__…a100-sxm4-80gb-mig__535.54.03.xml`: `mig_device` with
 * `index`, `gpu_instance_id`, `compute_instance_id`, `device_attributes/shared/multiprocessor_count`,
 * `fb_memory_usage/total`), the `-L` lines the layout of the recorded H100 MIG capture
 * (`nvidia-smi-text/nvidia_gpu_exporter__capture__h100-mig-vm__…txt`: `  MIG 3g.40gb     Device  0: (UUID: MIG-…)`),
 * where the shared FB memory of a GPU instance is reported on each of its compute instances. Values are made up:
 * GPU instance 1 (3g.71gb) split into two compute instances (1c.3g.71gb, 2c.3g.71gb) that both report its 71936 MiB,
 * GPU instance 5 (2g.35gb) and GPU instance 13 (1g.18gb). Naively summed that is 194560 MiB (190 GiB) on a 140 GiB GPU.
 */
const MIGS = [
  { index: 0, gi: 1, ci: 0, sm: 20, mib: 71936, profile: '1c.3g.71gb' },
  { index: 1, gi: 1, ci: 1, sm: 40, mib: 71936, profile: '2c.3g.71gb' },
  { index: 2, gi: 5, ci: 0, sm: 32, mib: 33792, profile: '2g.35gb' },
  { index: 3, gi: 13, ci: 0, sm: 16, mib: 16896, profile: '1g.18gb' },
];
const GPU_UUID = 'GPU-00000000-1111-2222-3333-444444444440';
const migUuid = (i: number) => `MIG-0000000${i}-aaaa-bbbb-cccc-dddddddddd0${i}`;

function migXml(): string {
  const devices = MIGS.map(
    (m) => `\t\t\t<mig_device>
\t\t\t\t<index>${m.index}</index>
\t\t\t\t<gpu_instance_id>${m.gi}</gpu_instance_id>
\t\t\t\t<compute_instance_id>${m.ci}</compute_instance_id>
\t\t\t\t<device_attributes>
\t\t\t\t\t<shared>
\t\t\t\t\t\t<multiprocessor_count>${m.sm}</multiprocessor_count>
\t\t\t\t\t\t<copy_engine_count>1</copy_engine_count>
\t\t\t\t\t</shared>
\t\t\t\t</device_attributes>
\t\t\t\t<ecc_error_count>
\t\t\t\t\t<volatile_count>
\t\t\t\t\t\t<sram_uncorrectable>0</sram_uncorrectable>
\t\t\t\t\t</volatile_count>
\t\t\t\t</ecc_error_count>
\t\t\t\t<fb_memory_usage>
\t\t\t\t\t<total>${m.mib} MiB</total>
\t\t\t\t\t<reserved>0 MiB</reserved>
\t\t\t\t\t<used>12 MiB</used>
\t\t\t\t\t<free>${m.mib - 12} MiB</free>
\t\t\t\t</fb_memory_usage>
\t\t\t</mig_device>`,
  );
  return `\t\t<mig_mode>
\t\t\t<current_mig>Enabled</current_mig>
\t\t\t<pending_mig>Enabled</pending_mig>
\t\t</mig_mode>
\t\t<mig_devices>
${devices.join('\n')}
\t\t</mig_devices>`;
}

/** `nvidia-smi -L` of the node: GPU 0 with its MIG devices, the other GPUs plain. */
function listText(gpuUuids: readonly string[]): string {
  return gpuUuids
    .map((uuid, i) =>
      [
        `GPU ${i}: NVIDIA H200 (UUID: ${uuid})`,
        ...(i === 0
          ? MIGS.map((m) => `  MIG ${m.profile.padEnd(12)}Device  ${m.index}: (UUID: ${migUuid(m.index)})`)
          : []),
      ].join('\n'),
    )
    .join('\n');
}

let dir: string;
let node: SimulatedNode;
let xml: string;
let uuids: string[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'mig-'));
  node = await buildSimulatedNode('h100-hgx', dir, { nodeName: 'mig-node' });
  const base = await node.nvidiaSmiXml();
  uuids = [...base.matchAll(/<uuid>(GPU-[^<]+)<\/uuid>/g)].map((m) => m[1]!);
  // the first GPU becomes a MIG-partitioned H200
  const first = base.indexOf('<gpu id=');
  const end = base.indexOf('</gpu>', first);
  // the GPU's own fields first, then its MIG devices (which carry fb_memory_usage of their own)
  const gpu0 = base
    .slice(first, end)
    .replace(/<product_name>[^<]*</, '<product_name>NVIDIA H200<')
    .replace(/<fb_memory_usage>\s*<total>\d+ MiB/, '<fb_memory_usage>\n\t\t\t<total>143771 MiB')
    .replace(/<uuid>[^<]*</, `<uuid>${GPU_UUID}<`)
    .replace(/<mig_mode>[\s\S]*?<\/mig_devices>/, migXml().trimStart());
  uuids[0] = GPU_UUID;
  xml = base.slice(0, first) + gpu0 + base.slice(end);
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

function scan(list: { ok: true; text: string } | { ok: false }): Promise<Inventory> {
  return scanInventory({
    sysfsRoot: node.sysfsRoot,
    devRoot: node.devRoot,
    nvidiaSmi: node.nvidiaSmiPath,
    nvidiaSmiTimeoutMs: 10_000,
    runNvidiaSmi: async () => ({ ok: true, xml }),
    runNvidiaSmiWith: async (_smi, args) => {
      if (args.join(' ') === 'nvlink -s') return { ok: true, xml: '' };
      expect(args).toEqual(['-L']);
      return list.ok
        ? { ok: true, xml: list.text }
        : { ok: false, missing: false, error: 'nvidia-smi -L exited with code 2' };
    },
  });
}

const GIB = 2 ** 30;

describe('MIG devices', () => {
  it('carry the profile name and MIG UUID from nvidia-smi -L and the SM count from -q -x', async () => {
    const inventory = await scan({ ok: true, text: listText(uuids) });
    const gpu = inventory.devices.find((d): d is GpuDevice => d.kind === 'gpu' && d.uuid === GPU_UUID)!;
    expect(gpu.migEnabled).toBe(true);
    expect(
      gpu.migDevices.map((m) => [m.name, m.profile, m.uuid, m.multiprocessorCount, m.memoryBytes! / 2 ** 20]),
    ).toEqual(MIGS.map((m) => [`${gpu.name}-mig-${m.gi}-${m.ci}`, m.profile, migUuid(m.index), m.sm, m.mib]));
  });

  it('publish each GPU instance’s memory once, never more than the GPU has, in natural order', async () => {
    const inventory = await scan({ ok: true, text: listText(uuids) });
    const gpu = inventory.devices.find((d): d is GpuDevice => d.kind === 'gpu' && d.uuid === GPU_UUID)!;
    const { devices } = buildDevices(inventory);
    const migs = devices.filter((d) => d.attributes?.type?.string === 'mig');
    // natural order: GPU instance 13 after 5 (a plain string sort puts mig-13-0 before mig-5-0)
    expect(migs.map((d) => d.name)).toEqual([
      `${gpu.name}-mig-1-0`,
      `${gpu.name}-mig-1-1`,
      `${gpu.name}-mig-5-0`,
      `${gpu.name}-mig-13-0`,
    ]);
    // thousandths of nano units → bytes
    const memory = migs.map((d) =>
      Number(((d.capacity?.memory ? parseQuantity(d.capacity.memory.value) : 0n) ?? 0n) / 1_000_000_000_000n),
    );
    // the second compute instance of GPU instance 1 shares its memory: published once, on compute instance 0
    expect(memory.map((bytes) => bytes / 2 ** 20)).toEqual([71936, 0, 33792, 16896]);
    const total = memory.reduce((a, b) => a + b, 0);
    expect(total).toBeLessThanOrEqual(gpu.memoryBytes!);
    expect(total / GIB).toBeLessThan(143771 / 1024);
    expect(migs[1]!.attributes).toMatchObject({
      profile: { string: '2c.3g.71gb' },
      uuid: { string: migUuid(1) },
      gpuInstance: { int: 1 },
      computeInstance: { int: 1 },
      multiprocessors: { int: 40 },
      parentUUID: { string: GPU_UUID },
    });
    expect(devices.some((d) => d.name === gpu.name)).toBe(false); // the GPU itself is handed out as its MIG devices
  });

  it('without nvidia-smi -L: still published, with a problem and no made-up profile or UUID', async () => {
    const inventory = await scan({ ok: false });
    const gpu = inventory.devices.find((d): d is GpuDevice => d.kind === 'gpu' && d.uuid === GPU_UUID)!;
    expect(gpu.migDevices).toHaveLength(4);
    expect(gpu.migDevices.every((m) => m.profile === undefined && m.uuid === undefined)).toBe(true);
    expect(inventory.problems.map((p) => p.message)).toContain(
      'nvidia-smi -L exited with code 2; MIG devices have no profile name or UUID',
    );
  });

  it('a GPU instance reporting more memory than the GPU has publishes none', async () => {
    const inventory = await scan({ ok: true, text: listText(uuids) });
    const gpu = inventory.devices.find((d): d is GpuDevice => d.kind === 'gpu' && d.uuid === GPU_UUID)!;
    gpu.migDevices[2]!.memoryBytes = 200 * GIB;
    const { devices, problems } = buildDevices(inventory);
    expect(devices.find((d) => d.name === `${gpu.name}-mig-5-0`)?.capacity).toBeUndefined();
    expect(problems.map((p) => p.message)).toContain(
      `GPU instance 5 reports more memory than ${gpu.name} has left; no memory published`,
    );
  });
});

describe('parseNvidiaSmiList', () => {
  it('reads the recorded layout: GPU lines, then their MIG devices', () => {
    const parsed = parseNvidiaSmiList(listText([GPU_UUID, 'GPU-ffffffff-1111-2222-3333-444444444441']));
    expect(parsed.get(GPU_UUID)).toEqual(
      MIGS.map((m) => ({ index: m.index, profile: m.profile, uuid: migUuid(m.index) })),
    );
    expect(parsed.get('GPU-ffffffff-1111-2222-3333-444444444441')).toEqual([]);
  });

  it.each([
    ['a MIG line before any GPU line', `  MIG 1g.10gb     Device  0: (UUID: ${migUuid(0)})`],
    ['a profile that is not one', `GPU 0: X (UUID: ${GPU_UUID})\n  MIG <script>     Device  0: (UUID: ${migUuid(0)})`],
    ['a UUID that is not one', `GPU 0: X (UUID: ${GPU_UUID})\n  MIG 1g.10gb     Device  0: (UUID: GPU-1234)`],
  ])('skips %s', (_case, text) => {
    expect([...parseNvidiaSmiList(text).values()].flat()).toEqual([]);
  });

  it('never throws and only returns well-formed entries, whatever the text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 400 }), (text) => {
        for (const migs of parseNvidiaSmiList(text).values()) {
          for (const m of migs) {
            expect(m.uuid).toMatch(/^MIG-/);
            expect(Number.isSafeInteger(m.index)).toBe(true);
          }
        }
      }),
    );
  });
});

describe('parseNvlinkStatus', () => {
  it('counts the active links per GPU (the recorded layout: tab-indented Link lines, <inactive> for idle ones)', () => {
    const text = [
      `GPU 0: NVIDIA H100 80GB HBM3 (UUID: ${GPU_UUID})`,
      ...Array.from({ length: 18 }, (_, link) => `\t Link ${link}: 26.562 GB/s`),
      'GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-ffffffff-1111-2222-3333-444444444441)',
      '\t Link 0: 26.562 GB/s',
      '\t Link 1: <inactive>',
      '\t Link 0: 26.562 GB/s',
    ].join('\n');
    expect(Object.fromEntries(parseNvlinkStatus(text))).toEqual({
      [GPU_UUID]: 18,
      'GPU-ffffffff-1111-2222-3333-444444444441': 1,
    });
  });

  it('never throws and counts only links, whatever the text', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 400 }), (text) => {
        for (const count of parseNvlinkStatus(text).values()) expect(Number.isSafeInteger(count)).toBe(true);
      }),
    );
  });
});

describe('NVLink on the authored HGX model', () => {
  it('every H100 is in the node’s NVSwitch domain with its 18 active links, published on its slice entry', async () => {
    const hgx = await buildSimulatedNode('h100-hgx', join(dir, 'hgx'), { nodeName: 'hgx' });
    const inventory = await scanInventory({
      sysfsRoot: hgx.sysfsRoot,
      devRoot: hgx.devRoot,
      nvidiaSmi: hgx.nvidiaSmiPath,
      nvidiaSmiTimeoutMs: 10_000,
    });
    const gpus = inventory.devices.filter((d): d is GpuDevice => d.kind === 'gpu');
    expect(gpus.map((g) => [g.nvlinkDomain, g.nvlinkLinks])).toEqual(Array(8).fill(['nvswitch', 18]));
    const published = buildDevices(inventory).devices.filter((d) => d.attributes?.type?.string === 'gpu');
    expect(published.map((d) => [d.attributes?.nvlinkDomain, d.attributes?.nvlinkLinks])).toEqual(
      Array(8).fill([{ string: 'nvswitch' }, { int: 18 }]),
    );
  });

  it('a GPU outside the fabric (registration not completed) gets neither', async () => {
    const hgx = await buildSimulatedNode('h100-hgx', join(dir, 'hgx2'), { nodeName: 'hgx' });
    const xml = (await hgx.nvidiaSmiXml()).replace('<state>Completed</state>', '<state>In Progress</state>');
    await hgx.setNvidiaSmi({ xml });
    const inventory = await scanInventory({
      sysfsRoot: hgx.sysfsRoot,
      devRoot: hgx.devRoot,
      nvidiaSmi: hgx.nvidiaSmiPath,
      nvidiaSmiTimeoutMs: 10_000,
    });
    const gpus = inventory.devices.filter((d): d is GpuDevice => d.kind === 'gpu');
    expect(gpus[0]).not.toHaveProperty('nvlinkDomain');
    expect(gpus[0]).not.toHaveProperty('nvlinkLinks');
    expect(gpus.slice(1).every((g) => g.nvlinkLinks === 18)).toBe(true);
  });
});
