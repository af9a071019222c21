import type { Logger } from '../../src/log.js';
import { silentLogger } from '../../src/log.js';
import { type GpuVerdictOptions, gpuVerdict, inputFromNvidiaSmi } from '../discovery/gpu-verdict.js';
import { lostGpusIn, type NvidiaSmiRun, parseNvidiaSmiXml, runNvidiaSmi } from '../discovery/nvidia-smi.js';
import { type HealthHooks, timed } from './hooks.js';
import type { HealthVerdicts } from './verdicts.js';
import type { GpuAddress } from './xid-monitor.js';

export interface SmiMonitorOptions extends GpuVerdictOptions {
  verdicts: HealthVerdicts;
  nvidiaSmi: string;
  /** libnvidia-ml.so.1's directory under the driver root, for nvidia-smi's library path */
  libraryDir?: string;
  timeoutMs: number;
  /** poll period (nvidia-smi is slow and may take seconds on 8-GPU hosts: never a hot path) */
  intervalMs: number;
  /** seam for tests: how one call is made */
  run?: (nvidiaSmi: string, timeoutMs: number, libraryDir?: string) => Promise<NvidiaSmiRun>;
  hooks?: HealthHooks;
  /**
   * a GPU whose `gpu_recovery_action` asked for recovery now says `None`: the driver considers it recovered, so the
   * faults that led there (sticky XIDs) can go without a restart or an operator
   */
  onRecovered?: (gpu: string) => void;
  log?: Logger;
}

/**
 * Polls `nvidia-smi -q -x` on a slow timer and judges each published NVIDIA GPU: memory errors and recovery state
 * (gpu-verdict.ts), and "lost" when the call times out or the GPU is missing from the answer.
 */
export class SmiHealthMonitor {
  private readonly log: Logger;
  private gpus: GpuAddress[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private current: Promise<void> | undefined;
  /** GPUs whose last answer asked for a recovery action */
  private readonly recovering = new Set<string>();

  constructor(private readonly options: SmiMonitorOptions) {
    this.log = options.log ?? silentLogger();
  }

  /** The NVIDIA GPUs to judge (names and PCI addresses). */
  setGpus(gpus: readonly GpuAddress[]): void {
    const gone = this.gpus.filter((g) => !gpus.some((n) => n.name === g.name));
    for (const g of gone) this.options.verdicts.withdraw(g.name, 'nvidia-smi');
    this.gpus = [...gpus];
  }

  /**
   * Starts polling in the background (start() never waits for nvidia-smi). The first poll runs after
   * `firstDelayMs`: the agent's startup scan has just called nvidia-smi, and one slow call at a time is enough.
   */
  start(firstDelayMs = 0): void {
    if (this.running) return;
    this.running = true;
    if (firstDelayMs <= 0) {
      this.tick();
      return;
    }
    this.timer = setTimeout(() => this.tick(), firstDelayMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.current;
  }

  /** One poll (public so tests and a rescan can force one). */
  async poll(): Promise<void> {
    if (this.gpus.length === 0) return;
    const run = this.options.run ?? runNvidiaSmi;
    const result = await timed(this.options.hooks, 'nvidia-smi', () =>
      run(this.options.nvidiaSmi, this.options.timeoutMs, this.options.libraryDir),
    );
    if (result.ok) {
      this.judgeReport(result.xml);
      return;
    }
    if (result.missing) {
      this.reportAll({ state: 'unknown', reason: 'nvidia-smi-missing', message: result.error });
      return;
    }
    if (/timed out/.test(result.error)) {
      this.reportAll({
        state: 'unhealthy',
        reason: 'gpu-not-answering',
        message: `GPU not answering: ${result.error}`,
      });
      return;
    }
    // nvidia-smi names a lost GPU: "Unable to determine the device handle for GPU0000:9B:00.0: GPU is lost"
    const lost = lostGpusIn(result.error);
    for (const g of this.gpus) {
      if (lost.has(g.pciAddress)) {
        this.options.verdicts.report(g.name, 'nvidia-smi', {
          state: 'unhealthy',
          reason: 'gpu-lost',
          message: result.error,
        });
      } else {
        this.options.verdicts.report(g.name, 'nvidia-smi', {
          state: 'unknown',
          reason: 'nvidia-smi-failed',
          message: result.error,
        });
      }
    }
  }

  private judgeReport(xml: string): void {
    const parsed = parseNvidiaSmiXml(xml);
    if (!parsed.ok) {
      this.reportAll({
        state: 'unknown',
        reason: 'nvidia-smi-unreadable',
        message: `nvidia-smi -q -x: ${parsed.error}`,
      });
      return;
    }
    const byBus = new Map(parsed.report.gpus.map((g) => [g.busId, g]));
    for (const gpu of this.gpus) {
      const seen = byBus.get(gpu.pciAddress);
      if (!seen) {
        this.options.verdicts.report(gpu.name, 'nvidia-smi', {
          state: 'unhealthy',
          reason: 'gpu-lost',
          message: `GPU ${gpu.pciAddress} is missing from nvidia-smi's answer (lost or fallen off the bus)`,
        });
        continue;
      }
      const action = seen.recoveryAction?.trim();
      if (action !== undefined && !/^none$/i.test(action)) this.recovering.add(gpu.name);
      else if (action !== undefined && this.recovering.delete(gpu.name)) {
        this.log.info({ device: gpu.name }, 'GPU recovery action is None again: clearing the faults it recovered from');
        this.options.onRecovered?.(gpu.name);
      }
      const verdict = gpuVerdict(inputFromNvidiaSmi(seen), this.options);
      if (verdict.state !== 'healthy')
        this.log.warn({ device: gpu.name, ...verdict }, 'nvidia-smi reports a GPU fault');
      this.options.verdicts.report(gpu.name, 'nvidia-smi', verdict);
    }
  }

  private reportAll(reading: Parameters<HealthVerdicts['report']>[2]): void {
    for (const g of this.gpus) this.options.verdicts.report(g.name, 'nvidia-smi', reading);
  }

  private tick(): void {
    if (!this.running) return;
    this.current = this.poll()
      .catch((err: unknown) => this.log.error({ err }, 'nvidia-smi health poll failed'))
      .finally(() => {
        if (!this.running) return;
        this.timer = setTimeout(() => this.tick(), this.options.intervalMs);
        this.timer.unref();
      });
  }
}
