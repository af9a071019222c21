/**
 * Elements of `nvidia-smi -q -x` that the authored models (./*-model.ts) print alike, in the element names and nesting
 * of NVIDIA's nvsmi_device DTDs (v11 for driver 460, v12 for 535), two tabs in as inside `<gpu>`. Values are the
 * caller's: each model's header says which recording they follow.
 */

/** `<pci>`: bus id parts, ids (`233010DE`: device then vendor), the link; v12 adds the device/host link generations. */
export function pciXml(o: {
  /** `0000:19:00.0`, as sysfs spells it */
  address: string;
  deviceId: string;
  subsystemId: string;
  linkGen: number;
  dtd: 11 | 12;
  /** tx_util/rx_util lines, where the model prints them */
  utilization?: boolean;
}): string {
  const [domain = '0000', bus = '00', devfn = '00.0'] = o.address.toUpperCase().split(':');
  const gen = o.linkGen;
  const generations =
    o.dtd === 12
      ? [
          `max_link_gen>${gen}`,
          `current_link_gen>${gen}`,
          `device_current_link_gen>${gen}`,
          `max_device_link_gen>${gen}`,
          `max_host_link_gen>${gen}`,
        ]
      : [`max_link_gen>${gen}`, `current_link_gen>${gen}`];
  const element = (indent: string, nameValue: string) => {
    const at = nameValue.indexOf('>');
    const name = nameValue.slice(0, at);
    return `${indent}<${name}>${nameValue.slice(at + 1)}</${name}>`;
  };
  return [
    '\t\t<pci>',
    element('\t\t\t', `pci_bus>${bus}`),
    element('\t\t\t', `pci_device>${devfn.slice(0, 2)}`),
    element('\t\t\t', `pci_domain>${domain}`),
    element('\t\t\t', `pci_device_id>${o.deviceId}`),
    element('\t\t\t', `pci_bus_id>0000${o.address.toUpperCase()}`),
    element('\t\t\t', `pci_sub_system_id>${o.subsystemId}`),
    '\t\t\t<pci_gpu_link_info>',
    '\t\t\t\t<pcie_gen>',
    ...generations.map((g) => element('\t\t\t\t\t', g)),
    '\t\t\t\t</pcie_gen>',
    '\t\t\t\t<link_widths>',
    '\t\t\t\t\t<max_link_width>16x</max_link_width>',
    '\t\t\t\t\t<current_link_width>16x</current_link_width>',
    '\t\t\t\t</link_widths>',
    '\t\t\t</pci_gpu_link_info>',
    '\t\t\t<replay_counter>0</replay_counter>',
    '\t\t\t<replay_rollover_counter>0</replay_rollover_counter>',
    ...(o.utilization ? ['\t\t\t<tx_util>0 KB/s</tx_util>', '\t\t\t<rx_util>0 KB/s</rx_util>'] : []),
    '\t\t</pci>',
  ].join('\n');
}

/** `<fb_memory_usage>` (v12 adds `reserved`) and `<bar1_memory_usage>`, in MiB as nvidia-smi prints them. */
export function memoryUsageXml(
  fb: { total: number; reserved?: number; used: number; free: number },
  bar1: { total: number; used: number },
): string {
  return [
    '\t\t<fb_memory_usage>',
    `\t\t\t<total>${fb.total} MiB</total>`,
    ...(fb.reserved !== undefined ? [`\t\t\t<reserved>${fb.reserved} MiB</reserved>`] : []),
    `\t\t\t<used>${fb.used} MiB</used>`,
    `\t\t\t<free>${fb.free} MiB</free>`,
    '\t\t</fb_memory_usage>',
    '\t\t<bar1_memory_usage>',
    `\t\t\t<total>${bar1.total} MiB</total>`,
    `\t\t\t<used>${bar1.used} MiB</used>`,
    `\t\t\t<free>${bar1.total - bar1.used} MiB</free>`,
    '\t\t</bar1_memory_usage>',
  ].join('\n');
}

/**
 * `<retired_pages>`: counts and `pending_*` N/A where the GPU retires no pages (it remaps rows, or runs MIG), else
 * zero counts with empty page lists and No.
 */
export function retiredPagesXml(notApplicable: boolean): string {
  const count = notApplicable ? 'N/A' : '0';
  const list = notApplicable
    ? '<retired_pagelist>N/A</retired_pagelist>'
    : '<retired_pagelist>\n\t\t\t\t</retired_pagelist>';
  const pending = notApplicable ? 'N/A' : 'No';
  return [
    '\t\t<retired_pages>',
    ...['multiple_single_bit_retirement', 'double_bit_retirement'].flatMap((scope) => [
      `\t\t\t<${scope}>`,
      `\t\t\t\t<retired_count>${count}</retired_count>`,
      `\t\t\t\t${list}`,
      `\t\t\t</${scope}>`,
    ]),
    `\t\t\t<pending_blacklist>${pending}</pending_blacklist>`,
    `\t\t\t<pending_retirement>${pending}</pending_retirement>`,
    '\t\t</retired_pages>',
  ].join('\n');
}
