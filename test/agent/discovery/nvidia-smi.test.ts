import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { XMLParser } from 'fast-xml-parser';
import { afterAll, describe, expect, it } from 'vitest';
import { parseNvidiaSmiXml, readXml, runNvidiaSmi } from '../../../agent/discovery/nvidia-smi.js';
import { h100HgxNvidiaSmiXml } from '../../cluster/nodes/h100-hgx-model.js';
import { FIXTURES } from '../../cluster/nodes/index.js';
import { processesMentioning } from '../../support/procfs.js';
import { describeRecorded, itRecorded } from '../../support/recorded.js';

const XML_DIR = join(FIXTURES, 'nvidia-smi-xml');
const xml = (name: string) => readFileSync(join(XML_DIR, name), 'utf8');
const V100S = 'datakit__nvidia-smi-q-x__8x-v100s-pcie-vm__460.73.01__EXTRACTED-from-go-test.xml';
const A5000 = 'telegraf__nvidia-smi-q-x__2x-rtx-a5000__v13-dtd.xml';
const A100 = 'telegraf__nvidia-smi-q-x__a100-sxm4-80gb-mig__535.54.03.xml';
const P400 = 'telegraf__nvidia-smi-q-x__quadro-p400__418.43-old-driver.xml';

function parsed(name: string) {
  const r = parseNvidiaSmiXml(xml(name));
  if (!r.ok) throw new Error(r.error);
  return r.report;
}

describeRecorded('parseNvidiaSmiXml on every recorded XML (drivers 418 → 590)', () => {
  it('parses every file in fixtures/nvidia-smi-xml', () => {
    const files = readdirSync(XML_DIR).filter((f) => f.endsWith('.xml'));
    expect(files.length).toBe(4);
    for (const f of files) {
      const r = parseNvidiaSmiXml(xml(f));
      expect(r.ok, f).toBe(true);
    }
  });

  // values read off the recordings by hand (grep '<gpu id' / '<minor_number>' / '<fb_memory_usage>' in each file)
  it('8x V100S VM, driver 460.73.01 (DTD v11): 8 GPUs on a flat bus 00:0d.0–00:14.0, minors 0–7', () => {
    const r = parsed(V100S);
    expect(r.driverVersion).toBe('460.73.01');
    expect(r.cudaVersion).toBe('11.2');
    expect(r.gpus.map((g) => g.busId)).toEqual([
      '0000:00:0d.0',
      '0000:00:0e.0',
      '0000:00:0f.0',
      '0000:00:10.0',
      '0000:00:11.0',
      '0000:00:12.0',
      '0000:00:13.0',
      '0000:00:14.0',
    ]);
    expect(r.gpus.map((g) => g.minor)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const g0 = r.gpus[0]!;
    expect(g0.productName).toBe('Tesla V100S-PCIE-32GB');
    expect(g0.uuid).toBe('GPU-76098dc1-d3bc-9a1b-7ea6-f7b48837829e');
    expect(g0.serial).toBe('1562920006088');
    expect(g0.memoryTotalBytes).toBe(32510 * 1024 ** 2);
    expect(g0.pciDeviceId).toBe('1df6');
    expect(g0.architecture).toBeUndefined(); // this schema has no <product_architecture>
    // old schema: ecc_errors/volatile/double_bit/total = 0, retired_pages counts 0, remapped_rows N/A
    expect(g0.memoryErrors).toEqual({
      eccModeCurrent: 'Enabled',
      uncorrectableVolatile: 0,
      uncorrectableAggregate: 0,
      correctableVolatile: 0,
      retiredPagesSingleBit: 0,
      retiredPagesDoubleBit: 0,
      retiredPagesPending: false,
    });
    expect(g0.migDevices).toEqual([]);
  });

  it('A100-SXM4-80GB, 535.54.03 (DTD v12): MIG enabled with four 1g instances (GI 3–6, CI 0)', () => {
    const r = parsed(A100);
    expect(r.attachedGpus).toBe(4); // the header says 4; the contributor kept one <gpu>
    expect(r.gpus).toHaveLength(1);
    const g = r.gpus[0]!;
    expect(g.busId).toBe('0000:01:00.0');
    expect(g.minor).toBe(1);
    expect(g.architecture).toBe('Ampere');
    expect(g.migCurrent).toBe('Enabled');
    expect(g.migDevices.map((m) => [m.gpuInstanceId, m.computeInstanceId])).toEqual([
      [3, 0],
      [4, 0],
      [5, 0],
      [6, 0],
    ]);
    expect(g.migDevices[0]!.memoryBytes).toBe(19968 * 1024 ** 2);
    expect(g.migDevices[0]!.multiprocessorCount).toBe(14);
    expect(g.memoryErrors.uncorrectableVolatile).toBe(0);
    expect(g.memoryErrors.remappedRowsPending).toBeUndefined(); // <remapped_rows>N/A</remapped_rows>
    expect(g.fabricState).toBeUndefined(); // <fabric><state>N/A</state>
  });

  it('2x RTX A5000, 590.44.01 (DTD v13): remapped rows, recovery action, ECC off, N/A everywhere else', () => {
    const r = parsed(A5000);
    expect(r.driverVersion).toBe('590.44.01');
    expect(r.gpus.map((g) => [g.busId, g.minor])).toEqual([
      ['0000:81:00.0', 1],
      ['0000:c1:00.0', 0],
    ]);
    const g = r.gpus[0]!;
    expect(g.recoveryAction).toBe('None');
    expect(g.memoryErrors).toEqual({
      eccModeCurrent: 'Disabled',
      remappedRowsCorrectable: 0,
      remappedRowsUncorrectable: 0,
      remappedRowsPending: false,
      remappedRowsFailure: false,
    });
    expect(g.fabricCliqueId).toBeUndefined();
  });

  it('Quadro P400, 418.43 (oldest schema): everything N/A, no mig_mode, still one GPU', () => {
    const r = parsed(P400);
    expect(r.gpus).toHaveLength(1);
    expect(r.gpus[0]!.busId).toBe('0000:43:00.0');
    expect(r.gpus[0]!.productName).toBe('Quadro P400');
    expect(r.gpus[0]!.memoryErrors).toEqual({});
    expect(r.gpus[0]!.migCurrent).toBeUndefined();
  });

  it('agrees with fast-xml-parser on the values it reads from every fixture', () => {
    const ref = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '@_', parseTagValue: false });
    for (const f of readdirSync(XML_DIR)) {
      const mine = readXml(xml(f));
      expect(mine.ok).toBe(true);
      if (!mine.ok) continue;
      const theirs = ref.parse(xml(f)) as Record<string, unknown>;
      const normalise = (v: unknown): unknown => {
        if (Array.isArray(v)) return v.length === 1 ? normalise(v[0]) : v.map(normalise);
        if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalise(x)]));
        return v;
      };
      expect(normalise(mine.doc.nvidia_smi_log), f).toEqual(normalise(theirs.nvidia_smi_log));
    }
  });
});

describe('parseNvidiaSmiXml on bad input: a clear error, never a throw', () => {
  it('names truncation and where the output stops', () => {
    const full = h100HgxNvidiaSmiXml();
    const r = parseNvidiaSmiXml(full.slice(0, 2000));
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.error).toMatch(
        /^nvidia-smi -q -x output is not valid XML: output ends inside <nvidia_smi_log\/gpu\/.*> \(opened at line \d+\): truncated$/,
      );
  });

  itRecorded('rejects the recorded invalid -q text capture (text, not XML) by saying so', () => {
    const text = readFileSync(
      join(FIXTURES, 'nvidia-smi-text/gpud__nvidia-smi-q__8x-h100__535.183.01__INVALID-truncated-field-names.txt'),
      'utf8',
    );
    const r = parseNvidiaSmiXml(text);
    expect(r).toEqual({
      ok: false,
      error: 'nvidia-smi -q -x output is not XML (starts with "==============NVSMI LOG==============")',
    });
  });

  it('reports empty output, mismatched tags, a missing root, and a GPU without a bus id', () => {
    expect(parseNvidiaSmiXml('')).toEqual({ ok: false, error: 'nvidia-smi -q -x printed nothing' });
    const mismatch = parseNvidiaSmiXml('<nvidia_smi_log>\n<gpu id="00000000:01:00.0"></pci></nvidia_smi_log>');
    expect(mismatch.ok).toBe(false);
    if (!mismatch.ok) expect(mismatch.error).toContain('</pci> at line 2 does not match: expected </gpu>');
    expect(parseNvidiaSmiXml('<other/>')).toEqual({
      ok: false,
      error: 'nvidia-smi -q -x output has no <nvidia_smi_log> root element',
    });
    expect(parseNvidiaSmiXml('<nvidia_smi_log><gpu id="garbage"></gpu></nvidia_smi_log>')).toEqual({
      ok: false,
      error: 'nvidia-smi -q -x: <gpu> number 1 has no usable bus id (id="garbage")',
    });
  });

  it('reads "Unknown Error" values as no value and lists where they were', () => {
    const r = parseNvidiaSmiXml(
      '<nvidia_smi_log><driver_version>535.1</driver_version><gpu id="00000000:9B:00.0">' +
        '<product_name>Unknown Error</product_name><uuid>GPU-1</uuid><minor_number>[N/A]</minor_number>' +
        '<fb_memory_usage><total>Requested functionality has been deprecated</total></fb_memory_usage>' +
        '</gpu></nvidia_smi_log>',
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const g = r.report.gpus[0]!;
    expect(g.busId).toBe('0000:9b:00.0');
    expect(g.productName).toBeUndefined();
    expect(g.minor).toBeUndefined();
    expect(g.memoryTotalBytes).toBeUndefined();
    expect(g.unknownErrors).toEqual(['product_name']);
  });

  it('property: any prefix of a whole answer is parsed or rejected with a message, never thrown', () => {
    const full = h100HgxNvidiaSmiXml();
    fc.assert(
      fc.property(fc.integer({ min: 0, max: full.length }), (cut) => {
        const r = parseNvidiaSmiXml(full.slice(0, cut));
        if (!r.ok) expect(r.error.length).toBeGreaterThan(10);
        return true;
      }),
      { numRuns: 200 },
    );
  });

  it('property: arbitrary bytes never throw', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (s) => {
        const r = parseNvidiaSmiXml(`<nvidia_smi_log>${s}`);
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 300 },
    );
  });
});

describe('runNvidiaSmi', () => {
  it('reports a missing binary as missing', async () => {
    const r = await runNvidiaSmi('/nonexistent/nvidia-smi', 1000);
    expect(r).toEqual({ ok: false, missing: true, error: '/nonexistent/nvidia-smi not found' });
  });

  const scripts = mkdtempSync(join(tmpdir(), 'smi-run-'));
  afterAll(() => rmSync(scripts, { recursive: true, force: true }));
  /** A wrapper script in nvidia-smi's place (as driver containers install one), whose body runs in a child shell. */
  function wrapper(name: string, body: string): string {
    const path = join(scripts, name);
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  }

  it('a wrapper whose child hangs: the timeout kills the child too, and the call ends at the timeout', async () => {
    // the child holds the output pipe: killing only the wrapper would leave the call waiting for the child's 30 s
    const smi = wrapper('smi-hang', 'sleep 30.123 & wait');
    const r = await runNvidiaSmi(smi, 300);
    expect(r).toEqual({ ok: false, missing: false, error: `${smi} -q -x timed out after 300 ms` });
    expect(processesMentioning('30.123').length > 0).toBe(false);
  });

  it('children left behind by a wrapper that exited are killed, and its answer is kept', async () => {
    const smi = wrapper('smi-stray', 'sleep 30.456 & echo "<nvidia_smi_log/>"; exit 0');
    const r = await runNvidiaSmi(smi, 20_000);
    expect(r).toEqual({ ok: true, xml: '<nvidia_smi_log/>\n' });
    expect(processesMentioning('30.456').length > 0).toBe(false);
  });

  it('a failure is reported with the exit code and the first lines it printed', async () => {
    const smi = wrapper(
      'smi-fail',
      'echo "NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver." >&2; exit 9',
    );
    const r = await runNvidiaSmi(smi, 20_000);
    expect(r).toEqual({
      ok: false,
      missing: false,
      error: `${smi} -q -x exited with code 9: NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.`,
    });
  });
});
