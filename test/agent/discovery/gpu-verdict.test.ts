import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { gpuVerdict, inputFromNvidiaSmi, recoveryReason } from '../../../agent/discovery/gpu-verdict.js';
import { parseNvidiaSmiXml } from '../../../agent/discovery/nvidia-smi.js';
import { describeRecorded } from '../../support/recorded.js';
import { codeBlocks, memoryErrorsFromSmiText, smiTextByGpu } from '../health/smi-text.js';
import { FIXTURES } from '../health/support.js';

const text = (name: string) => readFileSync(join(FIXTURES, 'nvidia-smi-text', name), 'utf8');
const xml = (name: string) => readFileSync(join(FIXTURES, 'nvidia-smi-xml', name), 'utf8');
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

describeRecorded('gpuVerdict on the recorded ml-engineering captures (A100, nvidia-smi -q text)', () => {
  let xid63: string | undefined;
  let pendingPages: string | undefined;
  let sram: string | undefined;
  beforeAll(() => {
    const blocks = codeBlocks(text('ml-engineering__nvidia-debug-doc__xid63-remapped-rows-sram-ecc-nvlink-e.md'));
    xid63 = blocks.find((b) => b.includes('Remapped Rows') && b.includes('Pending                           : Yes'));
    pendingPages = blocks.find((b) => b.includes('Pending Page Blacklist    : Yes'));
    sram = blocks.find((b) => b.includes('SRAM Uncorrectable            : 1') && b.includes('Aggregate'));
  });

  it('finds the three captures', () => {
    expect([xid63, pendingPages, sram].every((b) => b !== undefined)).toBe(true);
  });

  it('XID 63 capture (row remap pending, 177 correctable DRAM errors) → unhealthy: row-remap-pending', () => {
    const errors = memoryErrorsFromSmiText(xid63 ?? '');
    expect(errors).toMatchObject({ uncorrectableVolatile: 0, remappedRowsPending: true, remappedRowsFailure: false });
    expect(gpuVerdict({ memoryErrors: errors })).toMatchObject({ state: 'unhealthy', reason: 'row-remap-pending' });
  });

  it('pending page blacklist capture → unhealthy: page-retirement-pending', () => {
    const errors = memoryErrorsFromSmiText(pendingPages ?? '');
    expect(errors).toMatchObject({ retiredPagesDoubleBit: 0, retiredPagesPending: true });
    expect(gpuVerdict({ memoryErrors: errors })).toMatchObject({
      state: 'unhealthy',
      reason: 'page-retirement-pending',
    });
  });

  it('SRAM uncorrectable capture (volatile 1, aggregate 5) → unhealthy: ecc-uncorrectable', () => {
    const errors = memoryErrorsFromSmiText(sram ?? '');
    expect(errors).toMatchObject({ uncorrectableVolatile: 1, uncorrectableAggregate: 5 });
    const v = gpuVerdict({ memoryErrors: errors });
    expect(v).toMatchObject({ state: 'unhealthy', reason: 'ecc-uncorrectable' });
    expect(v.message).toContain('1 uncorrectable');
  });
});

describeRecorded('gpuVerdict on healthy recordings', () => {
  it('all 8 GPUs of the bare-metal H100 capture (remapped rows all zero) are healthy', () => {
    const gpus = smiTextByGpu(text('gpud__nvidia-smi-q__8x-h100-sxm-baremetal__535.161.08.txt'));
    expect(gpus.size).toBe(8);
    for (const [, section] of gpus) {
      const errors = memoryErrorsFromSmiText(section);
      expect(errors.remappedRowsPending).toBe(false);
      expect(gpuVerdict({ memoryErrors: errors })).toEqual({ state: 'healthy' });
    }
  });

  it.each([
    'datakit__nvidia-smi-q-x__8x-v100s-pcie-vm__460.73.01__EXTRACTED-from-go-test.xml',
    'telegraf__nvidia-smi-q-x__2x-rtx-a5000__v13-dtd.xml',
    'telegraf__nvidia-smi-q-x__a100-sxm4-80gb-mig__535.54.03.xml',
    'telegraf__nvidia-smi-q-x__quadro-p400__418.43-old-driver.xml',
  ])('every GPU of %s is healthy', (name) => {
    const parsed = parseNvidiaSmiXml(xml(name));
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.report.gpus.length).toBeGreaterThan(0);
    for (const g of parsed.report.gpus) expect(gpuVerdict(inputFromNvidiaSmi(g))).toEqual({ state: 'healthy' });
  });
});

describeRecorded('gpuVerdict on the v13 recording with faults written into it', () => {
  // derived from the real v13 capture: one field changed per case, to exercise the schema's real element names
  let base = '';
  beforeAll(() => {
    base = xml('telegraf__nvidia-smi-q-x__2x-rtx-a5000__v13-dtd.xml');
  });
  const judge = (doc: string) => {
    const parsed = parseNvidiaSmiXml(doc);
    if (!parsed.ok) throw new Error(parsed.error);
    const first = parsed.report.gpus[0];
    if (!first) throw new Error('no GPU');
    return gpuVerdict(inputFromNvidiaSmi(first));
  };

  it('remapping failure → row-remap-failed', () => {
    expect(judge(base.replace('<remapped_row_failure>No<', '<remapped_row_failure>Yes<'))).toMatchObject({
      state: 'unhealthy',
      reason: 'row-remap-failed',
    });
  });

  it('recovery action Reset → recovery-reset, and it outranks other findings', () => {
    const doc = base
      .replace('<gpu_recovery_action>None<', '<gpu_recovery_action>Reset<')
      .replace('<remapped_row_pending>No<', '<remapped_row_pending>Yes<');
    const v = judge(doc);
    expect(v).toMatchObject({ state: 'unhealthy', reason: 'recovery-reset' });
    expect(v.message).toContain('row remapping pending');
  });
});

describe('gpuVerdict rules', () => {
  it('marks the retired-page limit', () => {
    expect(gpuVerdict({ memoryErrors: { retiredPagesDoubleBit: 59 } })).toEqual({ state: 'healthy' });
    expect(gpuVerdict({ memoryErrors: { retiredPagesDoubleBit: 60 } })).toMatchObject({
      reason: 'retired-pages-limit',
    });
    expect(gpuVerdict({ memoryErrors: { retiredPagesDoubleBit: 10 } }, { retiredPagesLimit: 10 }).state).toBe(
      'unhealthy',
    );
  });

  it('treats aggregate (lifetime) errors alone as healthy: a reset cleared them', () => {
    expect(gpuVerdict({ memoryErrors: { uncorrectableAggregate: 5, uncorrectableVolatile: 0 } })).toEqual({
      state: 'healthy',
    });
  });

  it('a GPU whose identity reads Unknown Error is not answering', () => {
    expect(gpuVerdict({ unknownErrors: ['uuid'] })).toMatchObject({ state: 'unhealthy', reason: 'gpu-not-answering' });
  });

  it('gives label-value-safe reasons', () => {
    for (const a of ['Reset', 'Reboot', 'Drain P2P', 'Drain and Reset', '??', 'x'.repeat(100)]) {
      expect(recoveryReason(a)).toMatch(labelValue);
      expect(recoveryReason(a).length).toBeLessThanOrEqual(63);
    }
  });
});
