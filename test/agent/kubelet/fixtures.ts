import type { GpuDevice, Inventory, NicDevice, PciFunction } from '../../../agent/discovery/inventory.js';
import type { ResourceClaimLike } from '../../../agent/kubelet/claims.js';
import type { ClaimReader } from '../../../agent/kubelet/preparer.js';

/**
 * A hand-written inventory shaped like the recorded 8x H100 HGX host (fixtures/lspci/gpud__lspci-vvv__8x-h100-hgx…:
 * GPUs on buses 19, 3b, 4c, 5d, 9b, bb, cb, db; GPU 19:00.0 and NIC 1a:00.0 share a switch). The plugin only reads
 * the inventory, so its unit tests need no sysfs tree; the end-to-end test uses the simulated node instead.
 */
const GPU_BUSES = ['19', '3b', '4c', '5d', '9b', 'bb', 'cb', 'db'];

function pci(
  address: string,
  root: string,
  sw: string,
  numa: number,
  classCode: string,
  vendorId: string,
): PciFunction {
  return {
    address,
    vendorId,
    deviceId: vendorId === '10de' ? '2330' : '1021',
    classCode,
    numaNode: numa,
    sysfsPath: `devices/${root}/${sw}/${address}`,
    pcieRoot: root,
    pcieSwitch: sw,
  };
}

export function h100Inventory(node = 'gpu-node-1'): Inventory {
  const gpus: GpuDevice[] = GPU_BUSES.map((bus, index) => {
    const numa = index < 4 ? 0 : 1;
    const root = `pci0000:${bus === '19' ? '16' : (Number.parseInt(bus, 16) - 3).toString(16).padStart(2, '0')}`;
    const sw = `0000:${(Number.parseInt(bus, 16) - 2).toString(16).padStart(2, '0')}:00.0`;
    return {
      kind: 'gpu',
      name: `gpu-${index}`,
      index,
      vendor: 'nvidia',
      pci: pci(`0000:${bus}:00.0`, root, sw, numa, '030200', '10de'),
      model: 'NVIDIA H100 80GB HBM3',
      uuid: `GPU-00000000-0000-0000-0000-00000000000${index}`,
      minor: index,
      migEnabled: false,
      migDevices: [],
      nvlinkPeers: [],
      deviceNodes: [`/dev/nvidia${index}`, '/dev/nvidiactl', '/dev/nvidia-uvm'],
      health: { state: 'healthy' },
    };
  });
  const nics: NicDevice[] = GPU_BUSES.map((bus, index) => {
    const gpu = gpus[index] as GpuDevice;
    const nicBus = (Number.parseInt(bus, 16) + 1).toString(16).padStart(2, '0');
    const address = `0000:${nicBus}:00.0`;
    return {
      kind: 'nic',
      name: `nic-0000-${nicBus}-00-0`,
      ifName: `enp${Number.parseInt(nicBus, 16)}s0np0`,
      operState: 'up',
      virtual: false,
      sriovVf: false,
      pci: pci(address, gpu.pci.pcieRoot, gpu.pci.pcieSwitch as string, gpu.pci.numaNode as number, '020000', '15b3'),
      rdma: [
        {
          device: `mlx5_${index}`,
          port: 1,
          state: 'ACTIVE',
          physState: 'LinkUp',
          linkLayer: 'Ethernet',
          rateGbps: 400,
        },
      ],
      deviceNodes: [`/dev/infiniband/uverbs${index}`],
      health: { state: 'healthy' },
    };
  });
  return {
    node,
    scannedAt: '2026-11-22T05:00:00Z',
    devices: [...gpus, ...nics],
    affinity: gpus.map((gpu, index) => ({
      gpu: gpu.name,
      nics: [{ nic: (nics[index] as NicDevice).name, distance: 'PIX' }],
    })),
    excludedInterfaces: [],
    problems: [],
  };
}

export interface ClaimSpecForTest {
  namespace?: string;
  name: string;
  uid: string;
  results: { request: string; device: string; pool?: string; driver?: string; shareID?: string }[];
  allocated?: boolean;
}

export function claimObject(spec: ClaimSpecForTest, node = 'gpu-node-1', driver = 'lockstep.dev'): ResourceClaimLike {
  const claim: ResourceClaimLike = {
    metadata: { name: spec.name, namespace: spec.namespace ?? 'default', uid: spec.uid },
  };
  if (spec.allocated !== false) {
    claim.status = {
      allocation: {
        devices: {
          results: spec.results.map((result) => ({
            request: result.request,
            driver: result.driver ?? driver,
            pool: result.pool ?? node,
            device: result.device,
            ...(result.shareID ? { shareID: result.shareID } : {}),
          })),
        },
      },
    };
  }
  return claim;
}

/** Claims kept in memory, as the API would return them; `failing` makes reads throw like an unreachable API. */
export class MemoryClaimReader implements ClaimReader {
  readonly claims = new Map<string, ResourceClaimLike>();
  failing = false;
  reads = 0;

  put(claim: ResourceClaimLike): void {
    this.claims.set(`${claim.metadata?.namespace}/${claim.metadata?.name}`, claim);
  }

  delete(namespace: string, name: string): void {
    this.claims.delete(`${namespace}/${name}`);
  }

  async get(namespace: string, name: string): Promise<ResourceClaimLike | undefined> {
    this.reads++;
    if (this.failing) throw new Error('connect ECONNREFUSED 127.0.0.1:6443');
    return this.claims.get(`${namespace}/${name}`);
  }
}
