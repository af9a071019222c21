import type { BoardReading, DeviceHealthBoard } from './board.js';

/**
 * Several monitors judge the same device (a GPU has XIDs, nvidia-smi, AER and presence). Each keeps its own verdict
 * here; the board gets the combination: unhealthy if any says so, else unknown if any cannot tell, else healthy.
 * Among equally bad verdicts the more decisive source wins (a vanished device outranks an XID, an XID outranks a
 * counter), so the reason shown is the root cause rather than its echoes.
 */
export type HealthSource = 'discovery' | 'pci' | 'xid' | 'nvidia-smi' | 'aer' | 'link' | 'tpu';

const SOURCE_RANK: readonly HealthSource[] = ['discovery', 'pci', 'tpu', 'xid', 'nvidia-smi', 'aer', 'link'];
const STATE_RANK = { unhealthy: 2, unknown: 1, healthy: 0 } as const;

export interface SourcedReading extends BoardReading {
  source: HealthSource;
}

/** The combined verdict of one device's readings (pure). No readings at all means healthy: nothing complains. */
export function combineReadings(readings: readonly SourcedReading[]): SourcedReading {
  let worst: SourcedReading | undefined;
  for (const r of readings) {
    if (
      !worst ||
      STATE_RANK[r.state] > STATE_RANK[worst.state] ||
      (STATE_RANK[r.state] === STATE_RANK[worst.state] &&
        SOURCE_RANK.indexOf(r.source) < SOURCE_RANK.indexOf(worst.source))
    ) {
      worst = r;
    }
  }
  if (!worst || worst.state === 'healthy') return { state: 'healthy', source: worst?.source ?? 'discovery' };
  return worst;
}

export class HealthVerdicts {
  private readonly readings = new Map<string, Map<HealthSource, SourcedReading>>();

  constructor(private readonly board: DeviceHealthBoard) {}

  /** Records one source's verdict on a device and updates the board when the combination changes. */
  report(device: string, source: HealthSource, reading: BoardReading): void {
    let perSource = this.readings.get(device);
    if (!perSource) {
      perSource = new Map();
      this.readings.set(device, perSource);
    }
    perSource.set(source, { ...reading, source });
    this.publish(device);
  }

  /** Forgets one source's verdict (e.g. the monitor no longer watches the device). */
  withdraw(device: string, source: HealthSource): void {
    if (this.readings.get(device)?.delete(source)) this.publish(device);
  }

  /** Makes sure the device is on the board (healthy until someone says otherwise). */
  track(device: string): void {
    if (!this.readings.has(device)) this.readings.set(device, new Map());
    if (!this.board.get(device)) this.publish(device);
  }

  /** one source's current verdict */
  reading(device: string, source: HealthSource): SourcedReading | undefined {
    return this.readings.get(device)?.get(source);
  }

  private publish(device: string): void {
    const combined = combineReadings([...(this.readings.get(device)?.values() ?? [])]);
    const { source, ...reading } = combined;
    this.board.set(device, reading, source);
  }
}
