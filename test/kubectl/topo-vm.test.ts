import { mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiServer, startApiServer } from '../cluster/apiserver/index.js';
import { bundlePath } from '../support/build.js';
import { node } from './fixtures.js';
import { realSlices } from './real-slices.js';

/**
 * `kubectl lockstep topo` on an Azure ND H100 v5-shaped VM (test/cluster/nodes/azure-vm-model.ts): every GPU and every
 * InfiniBand VF has its own VMBus device and PCI domain, so each is its own PCIe root (`pci0001:00`, `pci0101:00`, …,
 * not the `LNXSYSTM:00` ACPI element above them) and a GPU meets a NIC at NODE on its NUMA node, SYS across, as
 * `nvidia-smi topo -m` prints in such a VM; never PHB, which would claim one host bridge for all of them. The slices
 * come from the real discovery scan and slice builder on the simulated VM.
 */
let api: ApiServer;
let work: string;
let bin: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'kubectl-topo-vm-'));
  bin = join(work, 'bin');
  mkdirSync(bin);
  symlinkSync(bundlePath('kubectl-lockstep'), join(bin, 'kubectl-lockstep'));
  api = await startApiServer();
  api.store.create('nodes', node('azure-a'));
  for (const s of await realSlices('h100-azure-vm', 'azure-a', join(work, 'azure-a'))) {
    api.store.create('resourceslices', s);
  }
}, 120_000);

afterAll(async () => {
  await api?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

async function topoJson(): Promise<{
  devices: { label: string; name: string; pcieRoot?: string; numaNode?: number }[];
  matrix: Record<string, Record<string, string>>;
}> {
  const r = await execa('kubectl', ['lockstep', 'topo', 'azure-a', '-o', 'json', '--kubeconfig', api.kubeconfigPath], {
    env: { PATH: `${bin}:${process.env.PATH}`, HOME: work },
    extendEnv: false,
    reject: false,
    timeout: 60_000,
  });
  expect(r.stderr).toBe('');
  expect(r.exitCode).toBe(0);
  return JSON.parse(r.stdout);
}

describe('kubectl lockstep topo on a Hyper-V / Azure VM', () => {
  it('each GPU and NIC is its own PCIe root pci<domain>:00, and distances follow from roots and NUMA nodes', async () => {
    const { devices, matrix } = await topoJson();
    const gpus = devices.filter((d) => d.label.startsWith('GPU'));
    const nics = devices.filter((d) => d.label.startsWith('NIC'));
    expect(gpus.map((d) => d.pcieRoot)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8'].map((d) => `pci000${d}:00`));
    expect(nics.map((d) => d.pcieRoot)).toEqual(['1', '2', '3', '4', '5', '6', '7', '8'].map((d) => `pci010${d}:00`));
    expect(gpus.map((d) => d.numaNode)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
    for (const [g, gpu] of gpus.entries()) {
      for (const [n, nic] of nics.entries()) {
        const expected = g < 4 === n < 4 ? 'NODE' : 'SYS';
        expect(matrix[gpu.label]![nic.label], `${gpu.label}–${nic.label}`).toBe(expected);
      }
    }
    expect(Object.values(matrix).flatMap((row) => Object.values(row))).not.toContain('PHB');
  });
});
