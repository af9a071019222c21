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

/** The whole `nvidia-smi -q -x` document around the models' `<gpu>` elements, in the header order every DTD uses. */
export function nvidiaSmiLogXml(o: {
  /** the XML declaration as the recorded driver prints it (535.54 adds `encoding="UTF-8"`) */
  declaration: string;
  dtd: 11 | 12;
  timestamp: string;
  driverVersion: string;
  cudaVersion: string;
  gpus: readonly string[];
}): string {
  return [
    o.declaration,
    `<!DOCTYPE nvidia_smi_log SYSTEM "nvsmi_device_v${o.dtd}.dtd">`,
    '<nvidia_smi_log>',
    `\t<timestamp>${o.timestamp}</timestamp>`,
    `\t<driver_version>${o.driverVersion}</driver_version>`,
    `\t<cuda_version>${o.cudaVersion}</cuda_version>`,
    `\t<attached_gpus>${o.gpus.length}</attached_gpus>`,
    ...o.gpus,
    '</nvidia_smi_log>',
    '',
  ].join('\n');
}

/**
 * `<mig_mode>` and `<mig_devices>` (the devices' own elements, or `None`), then the accounting, identity and board
 * lines that follow them in every DTD; `mode` is `N/A` on GPUs without MIG.
 */
export function migAndIdentityXml(o: {
  mode: 'Enabled' | 'Disabled' | 'N/A';
  migDevices?: string;
  accounting: 'Enabled' | 'Disabled';
  serial: string;
  uuid: string;
  minor: number;
  vbios: string;
  boardId: string;
}): string {
  return [
    '\t\t<mig_mode>',
    `\t\t\t<current_mig>${o.mode}</current_mig>`,
    `\t\t\t<pending_mig>${o.mode}</pending_mig>`,
    '\t\t</mig_mode>',
    '\t\t<mig_devices>',
    o.migDevices ?? '\t\t\tNone',
    '\t\t</mig_devices>',
    `\t\t<accounting_mode>${o.accounting}</accounting_mode>`,
    '\t\t<accounting_mode_buffer_size>4000</accounting_mode_buffer_size>',
    `\t\t<serial>${o.serial}</serial>`,
    `\t\t<uuid>${o.uuid}</uuid>`,
    `\t\t<minor_number>${o.minor}</minor_number>`,
    `\t\t<vbios_version>${o.vbios}</vbios_version>`,
    '\t\t<multigpu_board>No</multigpu_board>',
    `\t\t<board_id>${o.boardId}</board_id>`,
  ].join('\n');
}

/** `<ecc_mode>` (on) and `<ecc_errors>` with the same counters, already indented, in `volatile` and `aggregate`. */
export function eccXml(volatile: string, aggregate: string): string {
  return [
    '\t\t<ecc_mode>',
    '\t\t\t<current_ecc>Enabled</current_ecc>',
    '\t\t\t<pending_ecc>Enabled</pending_ecc>',
    '\t\t</ecc_mode>',
    '\t\t<ecc_errors>',
    '\t\t\t<volatile>',
    volatile,
    '\t\t\t</volatile>',
    '\t\t\t<aggregate>',
    aggregate,
    '\t\t\t</aggregate>',
    '\t\t</ecc_errors>',
  ].join('\n');
}

/** `<remapped_rows>`: zero counts, or N/A where the GPU predates row remapping or runs MIG. */
export function remappedRowsXml(notApplicable: boolean): string {
  if (notApplicable) return '\t\t<remapped_rows>N/A</remapped_rows>';
  return [
    '\t\t<remapped_rows>',
    '\t\t\t<remapped_row_corr>0</remapped_row_corr>',
    '\t\t\t<remapped_row_unc>0</remapped_row_unc>',
    '\t\t\t<remapped_row_pending>No</remapped_row_pending>',
    '\t\t\t<remapped_row_failure>No</remapped_row_failure>',
    '\t\t</remapped_rows>',
  ].join('\n');
}
