import type { HealthReading } from '../discovery/inventory.js';

/** A reading with room for detail: `reason` stays short (taint value), `message` says more (conditions, Events). */
export interface BoardReading extends HealthReading {
  /** longer human-readable detail (≤ 1024 chars: the kubelet health stream's limit) */
  message?: string;
}

export interface BoardEntry extends BoardReading {
  device: string;
  /** which monitor decided (xid, nvidia-smi, aer, link, tpu, discovery) */
  source?: string;
  /** Unix ms of the last change */
  since: number;
}

export type BoardListener = (changed: BoardEntry, previous: BoardEntry | undefined) => void;

/**
 * The agent's one view of device health. Monitors write readings; the reporters (slice publisher, kubelet health
 * stream, pod conditions and Events, metrics) subscribe. It is the seam between "deciding" and "reporting", so each
 * side is tested alone.
 */
export class DeviceHealthBoard {
  private readonly entries = new Map<string, BoardEntry>();
  private readonly listeners = new Set<BoardListener>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Records a reading; listeners hear only real changes (state or reason). Returns whether it changed. */
  set(device: string, reading: BoardReading, source?: string): boolean {
    const previous = this.entries.get(device);
    if (previous && previous.state === reading.state && previous.reason === reading.reason) return false;
    const entry: BoardEntry = { device, state: reading.state, since: this.now() };
    if (reading.reason !== undefined) entry.reason = reading.reason;
    if (reading.message !== undefined) entry.message = reading.message.slice(0, 1024);
    if (source !== undefined) entry.source = source;
    this.entries.set(device, entry);
    for (const listener of this.listeners) listener(entry, previous);
    return true;
  }

  get(device: string): BoardEntry | undefined {
    return this.entries.get(device);
  }

  all(): BoardEntry[] {
    return [...this.entries.values()];
  }

  /** Returns the unsubscribe function. */
  subscribe(listener: BoardListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
