/**
 * Google TPUs on the PCI bus. Vendor 0x1ae0 alone does not mean TPU (gVNIC is 0x1ae0:0x0042), so only the device
 * ids below count (FACTS.md §9). Chips up to v4 have `/dev/accel<N>` nodes; v5e and later are bound to vfio-pci and
 * appear as `/dev/vfio/<iommu group>`.
 */
const GOOGLE_VENDOR = '1ae0';

const GENERATIONS: Record<string, { generation: string; node: 'accel' | 'vfio' }> = {
  '0027': { generation: 'v2/v3', node: 'accel' },
  '005e': { generation: 'v4', node: 'accel' },
  '0062': { generation: 'v5p', node: 'vfio' },
  '0063': { generation: 'v5e', node: 'vfio' },
  '006f': { generation: 'v6e', node: 'vfio' },
  '0076': { generation: '7x', node: 'vfio' },
};

export function tpuGeneration(
  vendorId: string,
  deviceId: string,
): { generation: string; node: 'accel' | 'vfio' } | undefined {
  return vendorId === GOOGLE_VENDOR ? GENERATIONS[deviceId] : undefined;
}
