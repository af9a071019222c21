/**
 * A small HGX-shaped node authored here (no recorded data needed): four H100 SXM GPUs, each behind its own PCIe
 * switch and root complex together with one ConnectX-7 (RoCE, `mlx5_<n>`), two on-board BCM5720 ports (the second
 * uncabled: operstate down since boot, as on every recorded H100 node), and a fake `nvidia-smi` that prints
 * `-q -x` XML in the DTD v12 element names of driver 535.
 *
 * The shapes follow the recordings without copying them: the PCI layout of
 * `lspci/gpud__lspci-vvv__8x-h100-hgx-pex890xx-cx7.txt` (GPU 19:00.0 below downstream port 17:01.0 of the switch
 * whose upstream port is 16:00.0 on root bus 15; the ConnectX-7 at 1a:00.0 below 17:02.0), and the XML element names
 * of `nvidia-smi-xml/telegraf__…a100-sxm4-80gb-mig__535.54.03.xml` (`<gpu id="00000000:19:00.0">`, `minor_number`,
 * `ecc_errors/volatile/dram_uncorrectable`, `remapped_rows`, `gpu_recovery_action`, `fabric/state`). UUIDs, serials
 * and MACs are made up.
 */
import { chmod, mkdir, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeNetdev, writePciFunction, writeRdma } from '../../cluster/nodes/sysfs-writer.js';

export interface AuthoredGpu {
  /** `0000:19:00.0` */
  address: string;
  minor: number;
  uuid: string;
  numa: number;
  /** root bus of its root complex, e.g. `15` */
  rootBus: string;
}

interface AuthoredNic {
  address: string;
  ifName: string;
  rdma?: string;
  operstate: 'up' | 'down';
}

/** Bus numbers as on the recorded HGX: GPU bus B sits below switch upstream port (B-3):00.0 on root bus (B-4). */
const GPU_BUSES = ['19', '3b', '9b', 'bb'];

export const AUTHORED_GPUS: readonly AuthoredGpu[] = GPU_BUSES.map((bus, i) => {
  const b = Number.parseInt(bus, 16);
  return {
    address: `0000:${bus}:00.0`,
    minor: i,
    uuid: `GPU-0000000${i}-1111-2222-3333-44444444444${i}`,
    numa: b < 0x80 ? 0 : 1,
    rootBus: (b - 4).toString(16).padStart(2, '0'),
  };
});

const AUTHORED_NICS: readonly AuthoredNic[] = [
  ...GPU_BUSES.map((bus, i): AuthoredNic => {
    const nicBus = (Number.parseInt(bus, 16) + 1).toString(16).padStart(2, '0');
    return {
      address: `0000:${nicBus}:00.0`,
      ifName: `enp${Number.parseInt(nicBus, 16)}s0np0`,
      rdma: `mlx5_${i}`,
      operstate: 'up',
    };
  }),
  { address: '0000:01:00.0', ifName: 'enp1s0f0', operstate: 'up' },
  { address: '0000:01:00.1', ifName: 'enp1s0f1', operstate: 'down' },
];

export interface GpuXmlOverride {
  /** extra elements inside `<gpu>` (e.g. `<gpu_recovery_action>Reset</gpu_recovery_action>`) */
  extra?: string;
  dramUncorrectableVolatile?: number;
  sramThresholdExceeded?: 'Yes' | 'No';
  retiredDoubleBit?: number;
  uuid?: string;
  productName?: string;
}

/** `nvidia-smi -q -x` for the given GPUs, as driver 535 prints it (the elements the agent reads). */
export function authoredSmiXml(gpus: readonly AuthoredGpu[], overrides: Record<string, GpuXmlOverride> = {}): string {
  const gpuXml = gpus.map((g) => {
    const o = overrides[g.address] ?? {};
    const id = `0000${g.address.toUpperCase()}`;
    return `\t<gpu id="${id}">
\t\t<product_name>${o.productName ?? 'NVIDIA H100 80GB HBM3'}</product_name>
\t\t<product_brand>NVIDIA</product_brand>
\t\t<product_architecture>Hopper</product_architecture>
\t\t<persistence_mode>Enabled</persistence_mode>
\t\t<mig_mode>
\t\t\t<current_mig>Disabled</current_mig>
\t\t\t<pending_mig>Disabled</pending_mig>
\t\t</mig_mode>
\t\t<serial>165012403159${g.minor}</serial>
\t\t<uuid>${o.uuid ?? g.uuid}</uuid>
\t\t<minor_number>${g.minor}</minor_number>
\t\t<pci>
\t\t\t<pci_bus>${g.address.slice(5, 7).toUpperCase()}</pci_bus>
\t\t\t<pci_device>00</pci_device>
\t\t\t<pci_domain>0000</pci_domain>
\t\t\t<pci_device_id>233010DE</pci_device_id>
\t\t\t<pci_bus_id>${id}</pci_bus_id>
\t\t</pci>
\t\t<fb_memory_usage>
\t\t\t<total>81559 MiB</total>
\t\t\t<reserved>346 MiB</reserved>
\t\t\t<used>0 MiB</used>
\t\t\t<free>81212 MiB</free>
\t\t</fb_memory_usage>
\t\t<ecc_mode>
\t\t\t<current_ecc>Enabled</current_ecc>
\t\t\t<pending_ecc>Enabled</pending_ecc>
\t\t</ecc_mode>
\t\t<ecc_errors>
\t\t\t<volatile>
\t\t\t\t<sram_correctable>0</sram_correctable>
\t\t\t\t<sram_uncorrectable>0</sram_uncorrectable>
\t\t\t\t<dram_correctable>0</dram_correctable>
\t\t\t\t<dram_uncorrectable>${o.dramUncorrectableVolatile ?? 0}</dram_uncorrectable>
\t\t\t</volatile>
\t\t\t<aggregate>
\t\t\t\t<sram_correctable>0</sram_correctable>
\t\t\t\t<sram_uncorrectable>0</sram_uncorrectable>
\t\t\t\t<dram_correctable>0</dram_correctable>
\t\t\t\t<dram_uncorrectable>0</dram_uncorrectable>
\t\t\t\t<sram_threshold_exceeded>${o.sramThresholdExceeded ?? 'No'}</sram_threshold_exceeded>
\t\t\t</aggregate>
\t\t</ecc_errors>
\t\t<retired_pages>
\t\t\t<multiple_single_bit_retirement>
\t\t\t\t<retired_count>0</retired_count>
\t\t\t</multiple_single_bit_retirement>
\t\t\t<double_bit_retirement>
\t\t\t\t<retired_count>${o.retiredDoubleBit ?? 0}</retired_count>
\t\t\t</double_bit_retirement>
\t\t\t<pending_blacklist>No</pending_blacklist>
\t\t\t<pending_retirement>No</pending_retirement>
\t\t</retired_pages>
\t\t<remapped_rows>
\t\t\t<remapped_row_corr>0</remapped_row_corr>
\t\t\t<remapped_row_unc>0</remapped_row_unc>
\t\t\t<remapped_row_pending>No</remapped_row_pending>
\t\t\t<remapped_row_failure>No</remapped_row_failure>
\t\t</remapped_rows>
\t\t<fabric>
\t\t\t<state>Completed</state>
\t\t\t<status>Success</status>
\t\t</fabric>
${o.extra ? `\t\t${o.extra}\n` : ''}\t</gpu>
`;
  });
  return `<?xml version="1.0" ?>
<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v12.dtd">
<nvidia_smi_log>
\t<timestamp>Mon Jan  5 10:00:00 2026</timestamp>
\t<driver_version>535.161.08</driver_version>
\t<cuda_version>12.2</cuda_version>
\t<attached_gpus>${gpus.length}</attached_gpus>
${gpuXml.join('')}</nvidia_smi_log>
`;
}

/** The fake nvidia-smi: prints nvidia-smi.xml beside it, or fails the way the real one does when told to. */
const FAKE_NVIDIA_SMI = `#!/bin/sh
here=$(dirname "$0")
if [ "$1" != "-q" ] || [ "$2" != "-x" ]; then echo "fake nvidia-smi: only -q -x (got: $*)" >&2; exit 2; fi
case "$(cat "$here/nvidia-smi.mode" 2>/dev/null)" in
  fail) echo "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running."; exit 9 ;;
  lost) echo "Unable to determine the device handle for GPU0000:3B:00.0: GPU is lost.  Reboot the system to recover this GPU"; exit 15 ;;
  garbage) echo "Segmentation fault"; exit 0 ;;
  hang) exec sleep 3600 ;;
esac
exec cat "$here/nvidia-smi.xml"
`;

export interface AuthoredNode {
  dir: string;
  sysfsRoot: string;
  devRoot: string;
  /** the directory holding nvidia-smi (the driver root's usr/bin) */
  binDir: string;
  nvidiaSmiPath: string;
  kmsgPath: string;
  setSmiMode(mode: 'ok' | 'fail' | 'lost' | 'garbage' | 'hang'): Promise<void>;
  setSmiXml(xml: string): Promise<void>;
  /** the PCI function vanishes: its directory and bus link, and class/net, class/infiniband links into it */
  removePciDevice(bdf: string): Promise<void>;
}

/** Builds the node into `dir` (a temp dir the caller removes). */
export async function buildAuthoredHgx(
  dir: string,
  gpus: readonly AuthoredGpu[] = AUTHORED_GPUS,
): Promise<AuthoredNode> {
  const sys = join(dir, 'sys');
  const dev = join(dir, 'dev');
  const binDir = join(dir, 'driver-root/usr/bin');
  await Promise.all([
    mkdir(sys, { recursive: true }),
    mkdir(dev, { recursive: true }),
    mkdir(binDir, { recursive: true }),
  ]);
  const hex = (n: number) => n.toString(16).padStart(2, '0');
  for (const [i, g] of gpus.entries()) {
    const bus = Number.parseInt(g.address.slice(5, 7), 16);
    const rootPort = `0000:${g.rootBus}:01.0`;
    const up = `0000:${hex(bus - 3)}:00.0`;
    const rootDir = `devices/pci0000:${g.rootBus}`;
    const bridge = (address: string, sysfsPath: string) =>
      writePciFunction(sys, {
        address,
        sysfsPath,
        vendorId: '1000',
        deviceId: 'c030',
        classCode: '060400',
        numaNode: g.numa,
      });
    await bridge(rootPort, `${rootDir}/${rootPort}`);
    await bridge(up, `${rootDir}/${rootPort}/${up}`);
    const downGpu = `0000:${hex(bus - 2)}:01.0`;
    const downNic = `0000:${hex(bus - 2)}:02.0`;
    await bridge(downGpu, `${rootDir}/${rootPort}/${up}/${downGpu}`);
    await bridge(downNic, `${rootDir}/${rootPort}/${up}/${downNic}`);
    await writePciFunction(sys, {
      address: g.address,
      sysfsPath: `${rootDir}/${rootPort}/${up}/${downGpu}/${g.address}`,
      vendorId: '10de',
      deviceId: '2330',
      classCode: '030200',
      subsystemVendorId: '10de',
      subsystemDeviceId: '16c1',
      numaNode: g.numa,
      linkSpeed: '32.0 GT/s PCIe',
      linkWidth: 16,
      driver: 'nvidia',
      iommuGroup: 20 + i,
    });
    await writeFile(join(dev, `nvidia${g.minor}`), '');
    const nic = AUTHORED_NICS[i];
    if (!nic) continue;
    const nicDir = `${rootDir}/${rootPort}/${up}/${downNic}/${nic.address}`;
    await writePciFunction(sys, {
      address: nic.address,
      sysfsPath: nicDir,
      vendorId: '15b3',
      deviceId: '1021',
      classCode: '020000',
      numaNode: g.numa,
      driver: 'mlx5_core',
      iommuGroup: 40 + i,
    });
    await writeNetdev(sys, {
      ifName: nic.ifName,
      deviceDir: nicDir,
      mac: `02:00:00:00:${hex(bus + 1)}:00`,
      mtu: 9000,
      speed: 400000,
      operstate: nic.operstate,
      carrier: 1,
    });
    if (nic.rdma) {
      await writeRdma(sys, {
        device: nic.rdma,
        pciDir: nicDir,
        files: { fw_ver: '28.39.1002\n', hca_type: 'MT4129\n' },
        ports: [
          {
            port: 1,
            files: {
              state: '4: ACTIVE\n',
              phys_state: '5: LinkUp\n',
              rate: '400 Gb/sec (4X NDR)\n',
              link_layer: 'Ethernet\n',
            },
          },
        ],
        uverbs: i,
      });
      await mkdir(join(dev, 'infiniband'), { recursive: true });
      await writeFile(join(dev, 'infiniband', `uverbs${i}`), '');
    }
  }
  // the two on-board ports (BCM5720) on root bus 00; the second is uncabled: down since boot
  for (const nic of AUTHORED_NICS.filter((n) => !n.rdma)) {
    const path = `devices/pci0000:00/0000:00:1c.0/${nic.address}`;
    await writePciFunction(sys, {
      address: '0000:00:1c.0',
      sysfsPath: 'devices/pci0000:00/0000:00:1c.0',
      vendorId: '8086',
      deviceId: '1bbc',
      classCode: '060400',
      numaNode: 0,
    }).catch(() => undefined);
    await writePciFunction(sys, {
      address: nic.address,
      sysfsPath: path,
      vendorId: '14e4',
      deviceId: '165f',
      classCode: '020000',
      numaNode: 0,
      driver: 'tg3',
    });
    await writeNetdev(sys, {
      ifName: nic.ifName,
      deviceDir: path,
      mac: `02:00:00:00:01:0${nic.address.endsWith('1') ? 1 : 0}`,
      mtu: 1500,
      speed: nic.operstate === 'up' ? 1000 : -1,
      operstate: nic.operstate,
      carrier: nic.operstate === 'up' ? 1 : 0,
      devPort: 0,
    });
  }
  const nvidiaSmiPath = join(binDir, 'nvidia-smi');
  await writeFile(join(binDir, 'nvidia-smi.xml'), authoredSmiXml(gpus));
  await writeFile(join(binDir, 'nvidia-smi.mode'), 'ok\n');
  await writeFile(nvidiaSmiPath, FAKE_NVIDIA_SMI);
  await chmod(nvidiaSmiPath, 0o755);
  const kmsgPath = join(dir, 'kmsg');
  await writeFile(kmsgPath, '');
  return {
    dir,
    sysfsRoot: sys,
    devRoot: dev,
    binDir,
    nvidiaSmiPath,
    kmsgPath,
    setSmiMode: (mode) => writeFile(join(binDir, 'nvidia-smi.mode'), `${mode}\n`),
    setSmiXml: (xml) => writeFile(join(binDir, 'nvidia-smi.xml'), xml),
    async removePciDevice(bdf) {
      const busLink = join(sys, 'bus/pci/devices', bdf);
      const target = join(join(sys, 'bus/pci/devices'), await readlink(busLink));
      for (const cls of ['class/net', 'class/infiniband', 'class/infiniband_verbs']) {
        const names = await readdir(join(sys, cls)).catch(() => [] as string[]);
        for (const name of names) {
          const l = await readlink(join(sys, cls, name)).catch(() => '');
          if (l && join(sys, cls, l).startsWith(`${target}/`)) await rm(join(sys, cls, name), { force: true });
        }
      }
      await rm(target, { recursive: true, force: true });
      await rm(busLink, { force: true });
    },
  };
}
