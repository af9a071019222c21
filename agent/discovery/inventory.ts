/**
 * The inventory: what discovery found on a node, as plain data. Everything downstream (slice builder, health, CDI,
 * `lockstep discover`) reads this shape. Fields may be added; existing ones keep their meaning.
 */

/** Distance classes as `nvidia-smi topo -m` names them (FACTS.md §9), nearest first. */
export type DistanceClass = 'PIX' | 'PXB' | 'PHB' | 'NODE' | 'SYS';

type HealthState = 'healthy' | 'unhealthy' | 'unknown';

export interface HealthReading {
  state: HealthState;
  /** short, label-value safe; becomes the taint value (≤ 63 chars) */
  reason?: string;
  /** longer human-readable detail (conditions, Events, `lockstep discover`) */
  message?: string;
}

/** One PCI function as sysfs describes it. */
export interface PciFunction {
  /** normalised BDF, lower case: `0000:19:00.0` */
  address: string;
  /** 4 hex digits, lower case, no 0x: `10de` */
  vendorId: string;
  deviceId: string;
  /** 6 hex digits: `030200` */
  classCode: string;
  subsystemVendorId?: string;
  subsystemDeviceId?: string;
  /** null when sysfs says -1 or the file is missing */
  numaNode: number | null;
  /** `32.0 GT/s PCIe` */
  linkSpeed?: string;
  linkWidth?: number;
  iommuGroup?: string;
  /** bound kernel driver, e.g. `nvidia`, `mlx5_core`, `vfio-pci` */
  driver?: string;
  /** resolved device path below the sysfs root: `devices/pci0000:16/0000:16:01.0/0000:17:00.0/0000:19:00.0` */
  sysfsPath: string;
  /** `resource.kubernetes.io/pcieRoot`: `pci0000:16` */
  pcieRoot: string;
  /** BDF of the upstream port of the nearest PCIe switch above the device, when there is one */
  pcieSwitch?: string;
  /** for an SR-IOV virtual function: the BDF of its physical function */
  physfn?: string;
}

export interface MigDevice {
  /** `gpu-0-mig-1-0` style device name (GPU instance, compute instance) */
  name: string;
  gpuInstanceId: number;
  computeInstanceId: number;
  /** e.g. `1g.10gb` (from `nvidia-smi -L`) */
  profile?: string;
  /** the GPU instance's memory: every compute instance of one GPU instance shares it */
  memoryBytes?: number;
  /** `MIG-…` (from `nvidia-smi -L`) */
  uuid?: string;
  /** streaming multiprocessors (`device_attributes/shared/multiprocessor_count`) */
  multiprocessorCount?: number;
}

export interface GpuDevice {
  kind: 'gpu';
  /** `gpu-<PCI address with dashes>` (`gpu-0000-19-00-0`): a DNS label that never moves to other hardware */
  name: string;
  /** position in PCI order among this scan's GPUs (what nvidia-smi calls the index); moves when a GPU vanishes */
  index: number;
  vendor: 'nvidia' | 'amd' | 'intel' | 'habana' | 'other';
  pci: PciFunction;
  /** `NVIDIA H100 80GB HBM3` (NVIDIA) or the PCI identity (others) */
  model: string;
  uuid?: string;
  serial?: string;
  minor?: number;
  architecture?: string;
  memoryBytes?: number;
  driverVersion?: string;
  cudaVersion?: string;
  /** `9.0` */
  computeCapability?: string;
  migEnabled: boolean;
  migDevices: MigDevice[];
  /** fabric clique as `<clusterUuid>.<cliqueId>` where the fabric reports one */
  nvlinkClique?: string;
  /** the NVLink domain of its peers (the clique, or `nvswitch` for a node's NVSwitch fabric) */
  nvlinkDomain?: string;
  /** active NVLinks (`nvidia-smi nvlink -s`), where the GPU has NVLink peers */
  nvlinkLinks?: number;
  /** device names of NVLink peers, where nvidia-smi reports them */
  nvlinkPeers: string[];
  /**
   * ECC / retired pages / remapped rows / recovery action, as read at scan time from `nvidia-smi -q -x` (absent when
   * nvidia-smi could not be read; a field is absent when this driver/GPU does not report it — N/A). Uncorrectable
   * counts add DRAM and SRAM counters across schemas (v11 `double_bit/total`, v12 `dram_/sram_uncorrectable`,
   * v13 `sram_uncorrectable_parity/_secded`).
   */
  memoryErrors?: {
    uncorrectableVolatile?: number;
    uncorrectableAggregate?: number;
    retiredPagesDoubleBit?: number;
    retiredPagesPending?: boolean;
    remappedRowsPending?: boolean;
    remappedRowsFailure?: boolean;
    recoveryAction?: string;
    /** correctable errors since the driver loaded (DRAM + SRAM) */
    correctableVolatile?: number;
    /** lifetime SRAM uncorrectable errors */
    sramUncorrectableAggregate?: number;
    sramThresholdExceeded?: boolean;
    retiredPagesSingleBit?: number;
    remappedRowsCorrectable?: number;
    remappedRowsUncorrectable?: number;
    /** `gpu_reset_status/reset_required` */
    resetRequired?: boolean;
    /** `ecc_mode/current_ecc`: `Enabled` / `Disabled` */
    eccMode?: string;
  };
  /** NVLink fabric registration (`fabric/state`, e.g. `Completed`; `status`, e.g. `Success`) where reported */
  fabricState?: string;
  fabricStatus?: string;
  /** /dev nodes the container needs for this GPU (e.g. /dev/nvidia0), under the scan's --dev-root, when present */
  deviceNodes: string[];
  health: HealthReading;
}

export interface TpuDevice {
  kind: 'tpu';
  /** `tpu-<PCI address with dashes>` */
  name: string;
  /** position in PCI order (TPU_VISIBLE_CHIPS numbering); moves when a chip vanishes */
  index: number;
  /** `v4`, `v5e`, `v5p`, `v6e`, `7x`, `v2/v3` */
  generation: string;
  pci: PciFunction;
  /** `/dev/accel0` or `/dev/vfio/<iommu group>`, when present */
  deviceNodes: string[];
  health: HealthReading;
}

export interface RdmaPort {
  /** RDMA device, e.g. `mlx5_0` */
  device: string;
  port: number;
  /** `ACTIVE`, `DOWN`, … */
  state: string;
  /** `LinkUp`, `Disabled`, … */
  physState: string;
  /** `InfiniBand` | `Ethernet` */
  linkLayer: string;
  rateGbps?: number;
}

export interface NicDevice {
  kind: 'nic';
  /**
   * `nic-<pci address with dashes>`, e.g. `nic-0000-1a-00-0`; a second netdev of one PCI function (dev_port N > 0)
   * is `nic-<…>-p<N>`; a NIC without a PCI function is `nic-<sanitised ifName>-<hash>`. Always a valid DNS label.
   */
  name: string;
  /**
   * kernel interface name as found (may be long or non-ASCII; never used as a Kubernetes name); '' for an RDMA
   * device whose PCI function has no netdev (an InfiniBand HCA without IPoIB)
   */
  ifName: string;
  mac?: string;
  mtu?: number;
  speedMbps?: number;
  /** `up`, `down`, `unknown`, … */
  operState: string;
  carrier?: boolean;
  pci?: PciFunction;
  /** PCI address of the function the netdev belongs to, also when its sysfs entry could not be read (then `pci` is absent) */
  pciAddress?: string;
  /** true for paravirtual NICs (virtio) and SR-IOV VFs: not a physical port of its own */
  virtual: boolean;
  /** an SR-IOV virtual function (`physfn` link present) */
  sriovVf: boolean;
  rdma: RdmaPort[];
  deviceNodes: string[];
  health: HealthReading;
}

/** An accelerator found on the PCI bus that discovery does not drive itself (AMD, Intel, Habana, unknown NVIDIA). */
export interface OtherAccelerator {
  kind: 'accelerator';
  /** `accel-<pci address with dashes>` */
  name: string;
  /** `amd`, `intel`, `habana`, or the PCI vendor id */
  vendor: string;
  pci: PciFunction;
  health: HealthReading;
}

export type DiscoveredDevice = GpuDevice | TpuDevice | NicDevice | OtherAccelerator;

interface NicAffinity {
  /** NIC device name */
  nic: string;
  distance: DistanceClass;
}

export interface GpuAffinity {
  /** GPU device name */
  gpu: string;
  /** NICs ordered nearest first */
  nics: NicAffinity[];
}

/** Something the scan could not read; the scan goes on without it. */
export interface ScanProblem {
  source: string;
  message: string;
}

export interface Inventory {
  /** node name, when known */
  node?: string;
  /** RFC 3339 */
  scannedAt: string;
  devices: DiscoveredDevice[];
  affinity: GpuAffinity[];
  /** interfaces left out because they are virtual (reported by `discover --all`) */
  excludedInterfaces: { ifName: string; reason: string }[];
  problems: ScanProblem[];
}
