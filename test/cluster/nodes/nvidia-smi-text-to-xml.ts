/**
 * Turns recorded `nvidia-smi -q` text into the `nvidia-smi -q -x` XML the same driver would print, for hosts where
 * only the text was recorded (the 8x H100 host, driver 535.161.08). The output is DERIVED data:
 *
 * - the text is parsed as `Label : value` lines nested by indentation (4 spaces per level);
 * - each label becomes the element name NVIDIA's DTD v12 (driver 535) uses for it, per the table below, taken from
 *   the 535.54.03 XML fixture (telegraf a100-sxm4-v12.xml) and, for the fields that driver lacks, from the DTD v13
 *   fixture (dual_a5000-v13.xml); labels not in the table become the snake_case of the label;
 * - values are copied unchanged (`N/A` stays `N/A`); `Processes : None` becomes an empty `<processes/>`;
 * - `Retired Pages/Single Bit ECC` and `Double Bit ECC` become `<multiple_single_bit_retirement>` /
 *   `<double_bit_retirement>` with `<retired_count>` and `<retired_pagelist>` (the XML's shape), and
 *   `Pending Page Blacklist` fills both `<pending_blacklist>` and `<pending_retirement>` (the text shows one line);
 * - `<gpu id="…">` is the bus id from the `GPU 00000000:19:00.0` line.
 */

interface TextNode {
  label: string;
  value?: string;
  children: TextNode[];
}

/** element names by section path (`Section/Label`) or, failing that, by label alone */
const NAMES: Record<string, string> = {
  'Serial Number': 'serial',
  'GPU UUID': 'uuid',
  'FRU Part Number': 'gpu_fru_part_number',
  'Module ID': 'gpu_module_id',
  'MIG Mode/Current': 'current_mig',
  'MIG Mode/Pending': 'pending_mig',
  'Driver Model/Current': 'current_dm',
  'Driver Model/Pending': 'pending_dm',
  'Inforom Version': 'inforom_version',
  'Inforom Version/Image Version': 'img_version',
  'Inforom Version/Power Management Object': 'pwr_object',
  'Inforom BBX Object Flush': 'inforom_bbx_flush',
  'GPU Operation Mode/Current': 'current_gom',
  'GPU Operation Mode/Pending': 'pending_gom',
  'GPU Virtualization Mode/Host VGPU Mode': 'host_vgpu_mode',
  IBMNPU: 'ibmnpu',
  'PCI/Bus': 'pci_bus',
  'PCI/Device': 'pci_device',
  'PCI/Domain': 'pci_domain',
  'PCI/Device Id': 'pci_device_id',
  'PCI/Bus Id': 'pci_bus_id',
  'PCI/Sub System Id': 'pci_sub_system_id',
  'PCI/GPU Link Info': 'pci_gpu_link_info',
  'GPU Link Info/PCIe Generation': 'pcie_gen',
  'PCIe Generation/Max': 'max_link_gen',
  'PCIe Generation/Current': 'current_link_gen',
  'PCIe Generation/Device Current': 'device_current_link_gen',
  'PCIe Generation/Device Max': 'max_device_link_gen',
  'PCIe Generation/Host Max': 'max_host_link_gen',
  'GPU Link Info/Link Width': 'link_widths',
  'Link Width/Max': 'max_link_width',
  'Link Width/Current': 'current_link_width',
  'PCI/Bridge Chip': 'pci_bridge_chip',
  'Bridge Chip/Type': 'bridge_chip_type',
  'Bridge Chip/Firmware': 'bridge_chip_fw',
  'PCI/Replays Since Reset': 'replay_counter',
  'PCI/Replay Number Rollovers': 'replay_rollover_counter',
  'PCI/Tx Throughput': 'tx_util',
  'PCI/Rx Throughput': 'rx_util',
  'Clocks Event Reasons': 'clocks_event_reasons',
  'Clocks Event Reasons/Idle': 'clocks_event_reason_gpu_idle',
  'Clocks Event Reasons/Applications Clocks Setting': 'clocks_event_reason_applications_clocks_setting',
  'Clocks Event Reasons/SW Power Cap': 'clocks_event_reason_sw_power_cap',
  'Clocks Event Reasons/HW Slowdown': 'clocks_event_reason_hw_slowdown',
  'HW Slowdown/HW Thermal Slowdown': 'clocks_event_reason_hw_thermal_slowdown',
  'HW Slowdown/HW Power Brake Slowdown': 'clocks_event_reason_hw_power_brake_slowdown',
  'Clocks Event Reasons/Sync Boost': 'clocks_event_reason_sync_boost',
  'Clocks Event Reasons/SW Thermal Slowdown': 'clocks_event_reason_sw_thermal_slowdown',
  'Clocks Event Reasons/Display Clock Setting': 'clocks_event_reason_display_clocks_setting',
  'FB Memory Usage': 'fb_memory_usage',
  'BAR1 Memory Usage': 'bar1_memory_usage',
  'Conf Compute Protected Memory Usage': 'cc_protected_memory_usage',
  'Utilization/Gpu': 'gpu_util',
  'Utilization/Memory': 'memory_util',
  'Utilization/Encoder': 'encoder_util',
  'Utilization/Decoder': 'decoder_util',
  'Utilization/JPEG': 'jpeg_util',
  'Utilization/OFA': 'ofa_util',
  'Active Sessions': 'session_count',
  'ECC Mode/Current': 'current_ecc',
  'ECC Mode/Pending': 'pending_ecc',
  'ECC Errors': 'ecc_errors',
  'SRAM Uncorrectable SEC-DED': 'sram_uncorrectable_secded',
  'Aggregate Uncorrectable SRAM Sources/SRAM PCIE': 'sram_pcie',
  'Retired Pages/Pending Page Blacklist': 'pending_blacklist',
  'Remapped Rows/Correctable Error': 'remapped_row_corr',
  'Remapped Rows/Uncorrectable Error': 'remapped_row_unc',
  'Remapped Rows/Pending': 'remapped_row_pending',
  'Remapped Rows/Remapping Failure Occurred': 'remapped_row_failure',
  'Remapped Rows/Bank Remap Availability Histogram': 'row_remapper_histogram',
  'Bank Remap Availability Histogram/Max': 'row_remapper_histogram_max',
  'Bank Remap Availability Histogram/High': 'row_remapper_histogram_high',
  'Bank Remap Availability Histogram/Partial': 'row_remapper_histogram_partial',
  'Bank Remap Availability Histogram/Low': 'row_remapper_histogram_low',
  'Bank Remap Availability Histogram/None': 'row_remapper_histogram_none',
  'Temperature/GPU Current Temp': 'gpu_temp',
  'Temperature/GPU T.Limit Temp': 'gpu_temp_tlimit',
  'Temperature/GPU Shutdown T.Limit Temp': 'gpu_temp_max_tlimit_threshold',
  'Temperature/GPU Slowdown T.Limit Temp': 'gpu_temp_slow_tlimit_threshold',
  'Temperature/GPU Max Operating T.Limit Temp': 'gpu_temp_max_gpu_tlimit_threshold',
  'Temperature/GPU Target Temperature': 'gpu_target_temperature',
  'Temperature/Memory Current Temp': 'memory_temp',
  'Temperature/Memory Max Operating T.Limit Temp': 'gpu_temp_max_mem_tlimit_threshold',
  Graphics: 'graphics_clock',
  SM: 'sm_clock',
  Memory: 'mem_clock',
  Video: 'video_clock',
  'Voltage/Graphics': 'graphics_volt',
};

const SNAKE = (label: string) =>
  label
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');

function elementName(parent: string | undefined, label: string): string {
  return (parent ? NAMES[`${parent}/${label}`] : undefined) ?? NAMES[label] ?? SNAKE(label);
}

function parseText(text: string): { header: TextNode[]; gpus: { id: string; nodes: TextNode[] }[] } {
  const header: TextNode[] = [];
  const gpus: { id: string; nodes: TextNode[] }[] = [];
  let stack: { indent: number; children: TextNode[] }[] = [{ indent: -1, children: header }];
  for (const raw of text.split('\n')) {
    if (!raw.trim() || raw.startsWith('=')) continue;
    const gpu = /^GPU ([0-9A-Fa-f]{8}:[0-9A-Fa-f]{2}:[0-9A-Fa-f]{2}\.[0-7])\s*$/.exec(raw);
    if (gpu) {
      const g = { id: gpu[1]!, nodes: [] as TextNode[] };
      gpus.push(g);
      stack = [{ indent: 0, children: g.nodes }];
      continue;
    }
    const indent = raw.length - raw.trimStart().length;
    const m = /^(.*?)\s+:\s?(.*)$/.exec(raw.trim());
    const node: TextNode = m
      ? { label: m[1]!.trim(), value: m[2]!.trim(), children: [] }
      : { label: raw.trim(), children: [] };
    while (stack.length > 1 && stack[stack.length - 1]!.indent >= indent) stack.pop();
    stack[stack.length - 1]!.children.push(node);
    stack.push({ indent, children: node.children });
  }
  return { header, gpus };
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function writeNodes(nodes: TextNode[], parent: string | undefined, depth: number, out: string[]): void {
  const pad = '\t'.repeat(depth);
  for (const n of nodes) {
    if (parent === 'Retired Pages' && (n.label === 'Single Bit ECC' || n.label === 'Double Bit ECC')) {
      const tag = n.label === 'Single Bit ECC' ? 'multiple_single_bit_retirement' : 'double_bit_retirement';
      out.push(`${pad}<${tag}>`, `${pad}\t<retired_count>${esc(n.value ?? '')}</retired_count>`);
      out.push(`${pad}\t<retired_pagelist>${esc(n.value ?? '')}</retired_pagelist>`, `${pad}</${tag}>`);
      continue;
    }
    if (parent === 'Retired Pages' && n.label === 'Pending Page Blacklist') {
      out.push(`${pad}<pending_blacklist>${esc(n.value ?? '')}</pending_blacklist>`);
      out.push(`${pad}<pending_retirement>${esc(n.value ?? '')}</pending_retirement>`);
      continue;
    }
    const tag = elementName(parent, n.label);
    if (n.label === 'Processes' && (n.value === 'None' || n.children.length === 0)) {
      out.push(`${pad}<processes></processes>`);
      continue;
    }
    if (n.children.length === 0) {
      out.push(`${pad}<${tag}>${esc(n.value ?? '')}</${tag}>`);
    } else if (n.value) {
      // a line with a value and sub-lines ("HW Slowdown : Active" with its reasons below): the XML has them as
      // siblings (clocks_event_reason_hw_slowdown, …_hw_thermal_slowdown, …)
      out.push(`${pad}<${tag}>${esc(n.value)}</${tag}>`);
      writeNodes(n.children, n.label, depth, out);
    } else {
      out.push(`${pad}<${tag}>`);
      writeNodes(n.children, n.label, depth + 1, out);
      out.push(`${pad}</${tag}>`);
    }
  }
}

export function nvidiaSmiTextToXml(text: string): string {
  const { header, gpus } = parseText(text);
  if (gpus.length === 0) throw new Error('nvidia-smi text: no "GPU <bus id>" section found');
  const out = ['<?xml version="1.0" ?>', '<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v12.dtd">', '<nvidia_smi_log>'];
  const top: Record<string, string> = {
    Timestamp: 'timestamp',
    'Driver Version': 'driver_version',
    'CUDA Version': 'cuda_version',
    'Attached GPUs': 'attached_gpus',
  };
  for (const h of header) {
    const tag = top[h.label];
    if (tag) out.push(`\t<${tag}>${esc(h.value ?? '')}</${tag}>`);
  }
  for (const g of gpus) {
    out.push(`\t<gpu id="${g.id}">`);
    writeNodes(g.nodes, undefined, 2, out);
    out.push('\t</gpu>');
  }
  out.push('</nvidia_smi_log>', '');
  return out.join('\n');
}
