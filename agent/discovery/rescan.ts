import { existsSync, type FSWatcher, watch } from 'node:fs';
import type { Logger } from 'pino';
import { errorMessage } from '../../src/errors.js';
import { silentLogger } from '../../src/log.js';
import type { Inventory } from './inventory.js';

/**
 * Runs discovery now and every `intervalMs`, and hands each inventory to its listeners (the slice publisher, the
 * kubelet plugin). A failed scan keeps the last good inventory: a flaky nvidia-smi must not unpublish a node.
 */
export type InventoryListener = (inventory: Inventory) => void;

export interface RescanOptions {
  scan: () => Promise<Inventory>;
  intervalMs: number;
  /**
   * directories whose changes mean "hardware changed": udev's database (`/run/udev/data`, one file per device,
   * written by udevd on every add/remove/change) is the cheap signal; sysfs itself sends no inotify events for
   * hotplug. Missing directories are skipped.
   */
  watchDirs?: string[];
  /** changes are collected this long before the rescan (udev writes many files per event) */
  debounceMs?: number;
  log?: Logger;
}

export class RescanLoop {
  private readonly listeners = new Set<InventoryListener>();
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private latest: Inventory | undefined;
  private inFlight: Promise<void> | undefined;
  private watchers: FSWatcher[] = [];
  private debounce: NodeJS.Timeout | undefined;
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
    for (const dir of this.options.watchDirs ?? []) {
      if (!existsSync(dir)) continue;
      try {
        const w = watch(dir, () => this.changed());
        w.on('error', (err) => this.log.warn({ dir, err: err.message }, 'cannot watch for device changes'));
        this.watchers.push(w);
        this.log.debug({ dir }, 'rescanning on device changes');
      } catch (err) {
        this.log.warn({ dir, err: errorMessage(err) }, 'cannot watch for device changes');
      }
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    clearTimeout(this.debounce);
    this.timer = undefined;
    this.debounce = undefined;
    for (const w of this.watchers.splice(0)) w.close();
    await this.inFlight;
  }

  private changed(): void {
    if (!this.running || this.debounce) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      if (this.running) void this.rescan();
    }, this.options.debounceMs ?? 500);
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
      this.log.error({ err: errorMessage(err) }, 'scan failed; keeping the last inventory');
    }
  }
}
