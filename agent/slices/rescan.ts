import type { Logger } from 'pino';
import { silentLogger } from '../../src/log.js';
import type { Inventory } from '../discovery/inventory.js';

/**
 * Runs discovery now and every `intervalMs`, and hands each inventory to its listeners (the slice publisher, the
 * kubelet plugin). A failed scan keeps the last good inventory: a flaky nvidia-smi must not unpublish a node.
 */
export type InventoryListener = (inventory: Inventory) => void;

export interface RescanOptions {
  scan: () => Promise<Inventory>;
  intervalMs: number;
  log?: Logger;
}

export class RescanLoop {
  private readonly listeners = new Set<InventoryListener>();
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private latest: Inventory | undefined;
  private inFlight: Promise<void> | undefined;
  scans = 0;
  failures = 0;

  constructor(private readonly options: RescanOptions) {
    this.log = options.log ?? silentLogger();
  }

  onInventory(listener: InventoryListener): () => void {
    this.listeners.add(listener);
    if (this.latest) listener(this.latest);
    return () => this.listeners.delete(listener);
  }

  get inventory(): Inventory | undefined {
    return this.latest;
  }

  /** Scans once before returning, so whoever starts next already has an inventory. */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.rescan();
    this.schedule();
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
  }

  /** Scans now (for a udev/sysfs change or a test); overlapping requests share one scan. */
  rescan(): Promise<void> {
    this.inFlight ??= this.scanOnce().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private schedule(): void {
    if (!this.running) return;
    this.timer = setTimeout(async () => {
      await this.rescan();
      this.schedule();
    }, this.options.intervalMs);
    this.timer.unref?.();
  }

  private async scanOnce(): Promise<void> {
    try {
      const inventory = await this.options.scan();
      this.scans++;
      this.latest = inventory;
      for (const problem of inventory.problems) this.log.debug({ problem }, 'scan problem');
      for (const l of this.listeners) l(inventory);
    } catch (err) {
      this.failures++;
      this.log.error(
        { err: err instanceof Error ? err.message : String(err) },
        'scan failed; keeping the last inventory',
      );
    }
  }
}
