import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseNvidiaSmiXml } from '../../../agent/discovery/nvidia-smi.js';
import { DeviceHealthBoard } from '../../../agent/health/board.js';
import { SmiHealthMonitor, type SmiMonitorOptions } from '../../../agent/health/smi-monitor.js';
import { HealthVerdicts } from '../../../agent/health/verdicts.js';
import { h100HgxNvidiaSmiXml } from '../../cluster/nodes/h100-hgx-model.js';

/** The authored 8x H100 HGX model's `nvidia-smi -q -x` (test/cluster/nodes/h100-hgx-model.ts). */
const smiXml = h100HgxNvidiaSmiXml();
const parsed = parseNvidiaSmiXml(smiXml);
const gpus = parsed.ok ? parsed.report.gpus.map((g, i) => ({ name: `gpu-${i}`, pciAddress: g.busId })) : [];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'smi-monitor-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A stand-in nvidia-smi: a real executable that prints `stdout`, or sleeps, or fails like the real one does. */
async function fakeSmi(name: string, script: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, `#!/bin/sh\n${script}\n`);
  await chmod(path, 0o755);
  return path;
}

async function pollOnce(extra: Partial<SmiMonitorOptions> & { nvidiaSmi: string }) {
  const board = new DeviceHealthBoard();
  const verdicts = new HealthVerdicts(board);
  const monitor = new SmiHealthMonitor({ verdicts, timeoutMs: 2000, intervalMs: 60_000, ...extra });
  monitor.setGpus(gpus);
  await monitor.poll();
  return board;
}

describe('SmiHealthMonitor', () => {
  it('has the 8 GPUs of the model', () => {
    expect(gpus).toHaveLength(8);
  });

  it('judges every GPU of a healthy answer healthy', async () => {
    const xmlPath = join(dir, 'smi.xml');
    await writeFile(xmlPath, smiXml);
    const board = await pollOnce({ nvidiaSmi: await fakeSmi('smi-ok', `cat ${xmlPath}`) });
    expect(board.all().map((e) => e.state)).toEqual(Array(8).fill('healthy'));
  });

  it('marks a GPU missing from the answer as lost', async () => {
    const firstGpu = smiXml.indexOf('<gpu id=');
    const secondGpu = smiXml.indexOf('<gpu id=', firstGpu + 1);
    const without = smiXml.slice(0, firstGpu) + smiXml.slice(secondGpu);
    const xmlPath = join(dir, 'smi-minus-one.xml');
    await writeFile(xmlPath, without);
    const board = await pollOnce({ nvidiaSmi: await fakeSmi('smi-minus', `cat ${xmlPath}`) });
    expect(board.get('gpu-0')).toMatchObject({ state: 'unhealthy', reason: 'gpu-lost', source: 'nvidia-smi' });
    expect(board.all().filter((e) => e.state === 'healthy')).toHaveLength(7);
  });

  it('marks every GPU as not answering when the call times out', async () => {
    const board = await pollOnce({ nvidiaSmi: await fakeSmi('smi-hang', 'sleep 5'), timeoutMs: 200 });
    expect(board.all().map((e) => e.reason)).toEqual(Array(8).fill('gpu-not-answering'));
    expect(board.get('gpu-3')?.state).toBe('unhealthy');
  });

  it('names the lost GPU when nvidia-smi says which one, and cannot tell for the others', async () => {
    const bus = (gpus[2]?.pciAddress ?? '').replace(/^0000/, '00000000').toUpperCase();
    const smi = await fakeSmi(
      'smi-lost',
      `echo "Unable to determine the device handle for GPU${bus}: GPU is lost.  Reboot the system to recover this GPU" >&2; exit 15`,
    );
    const board = await pollOnce({ nvidiaSmi: smi });
    expect(board.get('gpu-2')).toMatchObject({ state: 'unhealthy', reason: 'gpu-lost' });
    expect(board.get('gpu-0')).toMatchObject({ state: 'unknown', reason: 'nvidia-smi-failed' });
  });

  it('says unknown (not unhealthy) when nvidia-smi is not installed or its output is not XML', async () => {
    const missing = await pollOnce({ nvidiaSmi: join(dir, 'no-such-binary') });
    expect(missing.all().every((e) => e.state === 'unknown' && e.reason === 'nvidia-smi-missing')).toBe(true);
    const garbage = await pollOnce({ nvidiaSmi: await fakeSmi('smi-garbage', 'echo "<nvidia_smi_log><gpu"') });
    expect(garbage.all().every((e) => e.state === 'unknown' && e.reason === 'nvidia-smi-unreadable')).toBe(true);
  });

  it('polls on its timer and stops cleanly', async () => {
    const board = new DeviceHealthBoard();
    const verdicts = new HealthVerdicts(board);
    let calls = 0;
    const monitor = new SmiHealthMonitor({
      verdicts,
      nvidiaSmi: 'nvidia-smi',
      timeoutMs: 1000,
      intervalMs: 10,
      run: async () => {
        calls++;
        return { ok: true, xml: smiXml };
      },
    });
    monitor.setGpus(gpus);
    monitor.start();
    while (calls < 3) await new Promise((r) => setTimeout(r, 5));
    await monitor.stop();
    const after = calls;
    await new Promise((r) => setTimeout(r, 50));
    expect(calls).toBe(after);
  });
});
