/** `lockstep discover` as a real process (the bundle in dist/), on this machine and on simulated nodes. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { GpuDevice, Inventory, NicDevice } from '../../../agent/discovery/inventory.js';
import { h100HgxGpuIdentity } from '../../cluster/nodes/h100-hgx-model.js';
import { buildSimulatedNode, type SimulatedNode } from '../../cluster/nodes/index.js';
import { runBundle } from '../../support/cli.js';

let dir: string;
let h100: SimulatedNode;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'discover-cli-'));
  h100 = await buildSimulatedNode('h100-hgx', join(dir, 'h100'), { nodeName: 'gpu-node-1' });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const nodeArgs = (n: SimulatedNode) => [
  '--sysfs-root',
  n.sysfsRoot,
  '--dev-root',
  n.devRoot,
  '--nvidia-smi',
  n.nvidiaSmiPath,
];

describe('lockstep discover', () => {
  it('on this machine: exits 0, finds the PCI NICs, reports no GPUs and no nvidia-smi error', () => {
    const r = runBundle('lockstep', ['discover', '-o', 'json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const inv = JSON.parse(r.stdout) as Inventory;
    expect(inv.devices.filter((d) => d.kind === 'gpu')).toEqual([]);
    expect(inv.problems.filter((p) => p.source === 'nvidia-smi')).toEqual([]);
    const nics = inv.devices.filter((d): d is NicDevice => d.kind === 'nic');
    expect(nics.length).toBeGreaterThan(0);
    for (const n of nics) expect(n.pci?.pcieRoot).toMatch(/^pci[0-9a-f]{4}:[0-9a-f]{2}$/);
    expect(inv.excludedInterfaces).toEqual([]); // only with --all
  });

  it('prints tables of devices, topology and health for the recorded H100 node', () => {
    const r = runBundle('lockstep', ['discover', ...nodeArgs(h100), '--node-name', 'gpu-node-1']);
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^NODE: gpu-node-1 {3}SCANNED: \d{4}-/);
    expect(lines).toContain('GPUS');
    expect(lines).toContain('NICS');
    expect(lines).toContain('TOPOLOGY (GPU → NICs, nearest first)');
    const gpu0 = lines.find((l) => l.startsWith('gpu-0000-19-00-0 '))!;
    expect(gpu0.split(/\s{3,}/)).toEqual([
      'gpu-0000-19-00-0',
      'NVIDIA H100 80GB HBM3',
      '0000:19:00.0',
      '0',
      'pci0000:15',
      '0000:16:00.0',
      '80Gi',
      '9.0',
      'off',
      h100HgxGpuIdentity(0).uuid,
      'healthy',
    ]);
    const topo = lines.slice(lines.indexOf('TOPOLOGY (GPU → NICs, nearest first)'));
    expect(
      topo
        .find((l) => l.startsWith('gpu-0000-3b-00-0 '))!
        .split(/\s{3,}/)
        .slice(0, 3),
    ).toEqual(['gpu-0000-3b-00-0', 'nic-0000-3c-00-0', 'PIX']);
    expect(r.stdout).not.toContain('EXCLUDED INTERFACES');
    expect(r.stdout).not.toContain('PROBLEMS');
  });

  it('-o yaml and -o json print the same inventory; --all adds the virtual interfaces', () => {
    const json = JSON.parse(
      runBundle('lockstep', ['discover', ...nodeArgs(h100), '-o', 'json', '--all']).stdout,
    ) as Inventory;
    const yaml = parse(
      runBundle('lockstep', ['discover', ...nodeArgs(h100), '-o', 'yaml', '--all']).stdout,
    ) as Inventory;
    expect({ ...yaml, scannedAt: '' }).toEqual({ ...json, scannedAt: '' });
    expect(json.excludedInterfaces.map((e) => e.ifName)).toEqual(['docker0', 'lo', 'veth3f2a1b0']);
    expect(json.devices.filter((d): d is GpuDevice => d.kind === 'gpu')).toHaveLength(8);
    const table = runBundle('lockstep', ['discover', ...nodeArgs(h100), '--all']).stdout;
    expect(table).toContain('EXCLUDED INTERFACES');
    expect(table).toMatch(/\ndocker0\s+virtual \(bridge\)\n/);
  });

  it('reads every flag from its LOCKSTEP_ twin', () => {
    const r = runBundle('lockstep', ['discover'], {
      LOCKSTEP_SYSFS_ROOT: h100.sysfsRoot,
      LOCKSTEP_DEV_ROOT: h100.devRoot,
      LOCKSTEP_NVIDIA_SMI: h100.nvidiaSmiPath,
      LOCKSTEP_OUTPUT: 'json',
      NODE_NAME: 'from-downward-api',
    });
    expect(r.status).toBe(0);
    const inv = JSON.parse(r.stdout) as Inventory;
    expect(inv.node).toBe('from-downward-api');
    expect(inv.devices.filter((d) => d.kind === 'gpu')).toHaveLength(8);
  });

  it('keeps going when nvidia-smi fails, and says so under PROBLEMS', async () => {
    const n = await buildSimulatedNode('h100-hgx', join(dir, 'smi-fails'), {});
    await n.setNvidiaSmi({ mode: 'fail' });
    const r = runBundle('lockstep', ['discover', ...nodeArgs(n)]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('PROBLEMS');
    expect(r.stdout).toMatch(/nvidia-smi\s+.*exited with code 9: NVIDIA-SMI has failed/);
    expect(r.stdout.split('\n').find((l) => l.startsWith('gpu-0000-19-00-0 '))).toMatch(
      /unknown \(nvidia-smi-failed\)$/,
    );
  });

  it('--slices prints the ResourceSlices the agent would publish', () => {
    const r = runBundle('lockstep', [
      'discover',
      ...nodeArgs(h100),
      '--slices',
      '-o',
      'json',
      '--node-name',
      'gpu-node-1',
    ]);
    expect(r.status).toBe(0);
    const list = JSON.parse(r.stdout) as {
      kind: string;
      items: { kind: string; spec: { driver: string; nodeName: string; devices: { name: string }[] } }[];
    };
    expect(list.kind).toBe('List');
    expect(list.items.length).toBeGreaterThan(0);
    for (const s of list.items) {
      expect(s.kind).toBe('ResourceSlice');
      expect(s.spec.driver).toBe('lockstep.dev');
      expect(s.spec.nodeName).toBe('gpu-node-1');
    }
    const names = list.items.flatMap((s) => s.spec.devices.map((d) => d.name));
    expect(names.filter((x) => x.startsWith('gpu-'))).toEqual([
      'gpu-0000-19-00-0',
      'gpu-0000-3b-00-0',
      'gpu-0000-4c-00-0',
      'gpu-0000-5d-00-0',
      'gpu-0000-9b-00-0',
      'gpu-0000-bb-00-0',
      'gpu-0000-cb-00-0',
      'gpu-0000-db-00-0',
    ]);
    expect(names).toContain('nic-0000-1a-00-0');
  });

  it.each([
    [
      'v100s-hyperv-vm',
      ['gpu-1a05-00-00-0', 'gpu-3b9f-00-00-0', 'gpu-9d14-00-00-0', 'gpu-c2e7-00-00-0', 'nic-e4b1-00-02-0'],
    ],
    [
      'a100-mig',
      [
        'gpu-0000-41-00-0',
        'gpu-0000-01-00-0-mig-3-0',
        'gpu-0000-01-00-0-mig-4-0',
        'gpu-0000-01-00-0-mig-5-0',
        'gpu-0000-01-00-0-mig-6-0',
        'nic-0000-02-00-0',
      ],
    ],
  ] as const)('--slices on the authored %s model: exit 0, no problems, these devices', async (kind, want) => {
    const n = await buildSimulatedNode(kind, join(dir, kind), {});
    const r = runBundle('lockstep', ['discover', ...nodeArgs(n), '--strict', '--slices', '-o', 'json']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const list = JSON.parse(r.stdout) as { items: { spec: { devices: { name: string }[] } }[] };
    const names = list.items.flatMap((s) => s.spec.devices.map((d) => d.name));
    expect(names.filter((x) => !x.startsWith('nic-eth0-'))).toEqual(want);
  });

  it('usage errors exit 2 with one error line', () => {
    const bad = runBundle('lockstep', ['discover', '-o', 'xml']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^error: option '-o, --output <format>' argument 'xml' is invalid/);
    const zero = runBundle('lockstep', ['discover', '--nvidia-smi-timeout', '0']);
    expect(zero.status).toBe(2);
    expect(zero.stderr).toMatch(
      /^error: option '--nvidia-smi-timeout <duration>' argument '0' is invalid\. "0" is not a duration: give a unit/,
    );
    expect(zero.stderr.trim().split('\n')).toHaveLength(1);
  });
});
