import { mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  buildClaimSpec,
  CdiDirectory,
  claimUidOfSpecFile,
  envName,
  renderSpec,
  specFileName,
} from '../../../agent/kubelet/cdi.js';
import type { PlannedDevice } from '../../../agent/kubelet/claims.js';
import { servedDevices } from '../../../agent/kubelet/plugin.js';
import { parseCdiId, validateCdiSpec } from '../../cluster/kubelet/cdi-rules.js';
import { h100Inventory } from './fixtures.js';

const UID = '0b7e3c0e-6d1e-4a57-9d3c-2f1a1c1e0001';
const claim = { uid: UID, namespace: 'ml', name: 'train-0' };

function planned(...names: string[]): PlannedDevice[] {
  const devices = servedDevices(h100Inventory());
  return names.map((name) => ({
    device: devices.get(name) as PlannedDevice['device'],
    allocatedName: name,
    requestNames: ['r'],
  }));
}

describe('buildClaimSpec', () => {
  it('names exactly the claimed devices with device nodes and topology env, valid under the CDI rules', () => {
    const built = buildClaimSpec(claim, planned('gpu-0', 'gpu-1', 'nic-0000-1a-00-0'));
    expect(validateCdiSpec(built.spec)).toEqual([]);
    expect(built.fileName).toBe(`k8s.lockstep.dev-claim_${UID}.json`);
    expect(built.cdiIds).toEqual([
      `k8s.lockstep.dev/claim=${UID}-gpu-0`,
      `k8s.lockstep.dev/claim=${UID}-gpu-1`,
      `k8s.lockstep.dev/claim=${UID}-nic-0000-1a-00-0`,
    ]);
    for (const id of built.cdiIds) expect(typeof parseCdiId(id)).toBe('object');
    expect(built.spec.devices.map((device) => device.containerEdits.deviceNodes)).toEqual([
      [{ path: '/dev/nvidia0' }, { path: '/dev/nvidiactl' }, { path: '/dev/nvidia-uvm' }],
      [{ path: '/dev/nvidia1' }, { path: '/dev/nvidiactl' }, { path: '/dev/nvidia-uvm' }],
      [{ path: '/dev/infiniband/uverbs0' }],
    ]);
    expect(built.spec.devices[2]?.containerEdits.env).toEqual([
      'LOCKSTEP_DEVICE_NIC_0000_1A_00_0=kind=nic;pci=0000:1a:00.0;numa=0;pcieRoot=pci0000:16;pcieSwitch=0000:17:00.0;ifName=enp26s0np0;rdma=mlx5_0',
    ]);
    expect(built.spec.containerEdits?.env).toEqual([
      'LOCKSTEP_CLAIM=ml/train-0',
      `LOCKSTEP_CLAIM_UID=${UID}`,
      'LOCKSTEP_DEVICES=gpu-0,gpu-1,nic-0000-1a-00-0',
      'NVIDIA_VISIBLE_DEVICES=GPU-00000000-0000-0000-0000-000000000000,GPU-00000000-0000-0000-0000-000000000001',
      'LOCKSTEP_GPUS=gpu-0,gpu-1',
      'LOCKSTEP_GPU_UUIDS=GPU-00000000-0000-0000-0000-000000000000,GPU-00000000-0000-0000-0000-000000000001',
      'LOCKSTEP_GPU_PCI_BUS_IDS=0000:19:00.0,0000:3b:00.0',
      'LOCKSTEP_NICS=nic-0000-1a-00-0',
      'LOCKSTEP_NIC_INTERFACES=enp26s0np0',
      'LOCKSTEP_RDMA_DEVICES=mlx5_0',
      'LOCKSTEP_NUMA_NODES=0',
      'LOCKSTEP_PCIE_ROOTS=pci0000:16,pci0000:38',
    ]);
  });

  it('maps a fake /dev root to the container’s /dev with hostPath', () => {
    const inventory = h100Inventory();
    const gpu = servedDevices(inventory).get('gpu-3') as PlannedDevice['device'];
    if (gpu.kind === 'gpu') gpu.deviceNodes = ['/tmp/node/dev/nvidia3'];
    const built = buildClaimSpec(claim, [{ device: gpu, allocatedName: 'gpu-3', requestNames: [] }], {
      devRoot: '/tmp/node/dev/',
    });
    expect(built.spec.devices[0]?.containerEdits.deviceNodes).toEqual([
      { path: '/dev/nvidia3', hostPath: '/tmp/node/dev/nvidia3' },
    ]);
    expect(validateCdiSpec(built.spec)).toEqual([]);
  });

  it('is deterministic: the same claim renders byte-equal files', () => {
    const a = renderSpec(buildClaimSpec(claim, planned('gpu-5', 'gpu-6')).spec);
    const b = renderSpec(buildClaimSpec(claim, planned('gpu-5', 'gpu-6')).spec);
    expect(a).toBe(b);
  });

  it('env names are valid for any DNS-label device name', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/), (name) => {
        expect(envName(name)).toMatch(/^[A-Z0-9_]+$/);
      }),
    );
  });
});

describe('validateCdiSpec (the rules the tests judge with)', () => {
  it.each([
    [{ cdiVersion: '0.6.0', kind: 'k8s.lockstep.dev/claim', devices: [] }, /no devices/],
    [
      { cdiVersion: '9.9.9', kind: 'k8s.lockstep.dev/claim', devices: [{ name: 'a', containerEdits: {} }] },
      /unknown cdiVersion/,
    ],
    [{ cdiVersion: '0.6.0', kind: 'lockstep/claim', devices: [{ name: 'a', containerEdits: {} }] }, /not a DNS domain/],
    [
      { cdiVersion: '0.6.0', kind: 'a.b/c', devices: [{ name: 'a', containerEdits: {} }], extra: 1 },
      /unknown field "extra"/,
    ],
    [{ cdiVersion: '0.3.0', kind: 'a.b/c', devices: [{ name: '0a', containerEdits: {} }] }, /uses 0.5.0 features/],
    [{ cdiVersion: '0.6.0', kind: 'a.b/c', devices: [{ name: 'a', containerEdits: { env: ['NOVALUE'] } }] }, /not K=V/],
  ])('flags %j', (spec, problem) => {
    expect(validateCdiSpec(spec).join('\n')).toMatch(problem);
  });

  it('rejects a class with dots in a CDI id, as the kubelet does', () => {
    expect(parseCdiId('k8s.lockstep.dev/gpu.x=a')).toMatch(/contains a dot/);
  });
});

describe('CdiDirectory', () => {
  it('lists only its own spec files and its temp files, and writes atomically', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cdi-'));
    const cdi = new CdiDirectory(dir);
    await cdi.write(specFileName('u1'), '{}\n');
    await writeFile(join(dir, 'nvidia.yaml'), 'x');
    await writeFile(join(dir, `.${specFileName('u2')}.1.ab.tmp`), 'half');
    const listing = await cdi.list();
    expect([...listing.specs]).toEqual([['u1', specFileName('u1')]]);
    expect(listing.temps).toEqual([`.${specFileName('u2')}.1.ab.tmp`]);
    expect((await readdir(dir)).filter((name) => name.endsWith('.tmp'))).toHaveLength(1);
    expect(claimUidOfSpecFile('nvidia.yaml')).toBeUndefined();
  });
});
