import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../src/log.js';
import { silentLogger } from '../../src/log.js';
import type { DiscoveredDevice } from '../discovery/inventory.js';
import { readSmall } from '../discovery/sysfs-read.js';
import { AerTracker, aerNonZero, parseAerTotal } from './aer.js';
import { type HealthHooks, timed } from './hooks.js';
import { LinkHysteresis, type LinkReading, linkStatus, type PortReading } from './link.js';
import type { HealthVerdicts } from './verdicts.js';

export interface SysfsMonitorOptions {
  verdicts: HealthVerdicts;
  sysfsRoot: string;
  /** poll period for NIC links (default 2 s) */
  intervalMs?: number;
  /** PCI presence, AER counters and TPU device nodes are read every this many link polls (default 5) */
  slowEvery?: number;
  /** a link that went down must stay up this long before it is healthy again */
  linkStableMs: number;
  /** a device whose non-fatal AER counter rose is unhealthy until it has not risen for this long */
  aerQuietMs?: number;
  now?: () => number;
  hooks?: HealthHooks;
  log?: Logger;
}

interface Watched {
  name: string;
  kind: DiscoveredDevice['kind'];
  pciAddress?: string;
  ifName?: string;
  ports: { device: string; port: number }[];
  deviceNodes: string[];
  link?: LinkHysteresis;
  aer: AerTracker;
}

/** Reads a sysfs attribute; undefined when it is missing or the kernel refuses to answer (EINVAL, EIO, …). */
async function attr(path: string): Promise<string | undefined> {
  try {
    return (await readSmall(path)).trim();
  } catch {
    return undefined;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Everything sysfs and /dev say about the published devices, polled: PCI presence (a device that dropped off the
 * bus), PCIe AER fatal/non-fatal counters, NIC oper state, carrier and RDMA port states (with hysteresis), and TPU
 * device nodes. Sysfs attributes cannot be watched (no inotify for attribute changes), hence the timer.
 */
export class SysfsHealthMonitor {
  private readonly log: Logger;
  private readonly now: () => number;
  private watched = new Map<string, Watched>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private current: Promise<void> | undefined;
  private ticks = 0;

  constructor(private readonly options: SysfsMonitorOptions) {
    this.log = options.log ?? silentLogger();
    this.now = options.now ?? Date.now;
  }

  /** The published devices (call on every rescan); state of devices already watched is kept. */
  setDevices(devices: readonly DiscoveredDevice[]): void {
    const next = new Map<string, Watched>();
    for (const d of devices) {
      const old = this.watched.get(d.name);
      const w: Watched = old ?? {
        name: d.name,
        kind: d.kind,
        ports: [],
        deviceNodes: [],
        aer: new AerTracker(this.options.aerQuietMs ?? 300_000),
      };
      const pci = d.kind === 'nic' ? (d.pci?.address ?? d.pciAddress) : d.pci.address;
      if (pci) w.pciAddress = pci;
      if (d.kind === 'nic') {
        if (d.ifName) w.ifName = d.ifName;
        else delete w.ifName;
        w.ports = d.rdma.map((p) => ({ device: p.device, port: p.port }));
        w.link ??= new LinkHysteresis(this.options.linkStableMs);
      }
      if (d.kind === 'tpu') w.deviceNodes = [...d.deviceNodes];
      next.set(d.name, w);
    }
    for (const name of this.watched.keys()) {
      if (!next.has(name))
        for (const s of ['pci', 'aer', 'link', 'tpu'] as const) this.options.verdicts.withdraw(name, s);
    }
    this.watched = next;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.tick();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.current;
  }

  /**
   * One pass (public so tests can step it): links always; presence, AER and TPU nodes on every `slowEvery`-th pass
   * (and always when `full`). Reading ~60 small sysfs files costs a few ms of CPU, so an idle agent spreads it out.
   */
  async poll(full = true): Promise<void> {
    await timed(this.options.hooks, 'sysfs', () =>
      Promise.all([...this.watched.values()].map((w) => this.check(w, full))),
    );
  }

  /** Forgets sticky AER faults (after a reset); the next sample is the new baseline. */
  resetAer(devices?: readonly string[]): void {
    for (const w of this.watched.values()) {
      if (devices && !devices.includes(w.name)) continue;
      w.aer.reset();
      this.options.verdicts.report(w.name, 'aer', { state: 'healthy' });
    }
  }

  private async check(w: Watched, full: boolean): Promise<void> {
    const { verdicts, sysfsRoot } = this.options;
    const now = this.now();
    if (full && w.pciAddress) {
      const dir = join(sysfsRoot, 'bus', 'pci', 'devices', w.pciAddress);
      if (!(await exists(dir))) {
        verdicts.report(w.name, 'pci', {
          state: 'unhealthy',
          reason: 'pci-gone',
          message: `PCI device ${w.pciAddress} dropped off the bus (no ${dir})`,
        });
        return;
      }
      verdicts.report(w.name, 'pci', { state: 'healthy' });
      const [fatal, nonFatal] = await Promise.all([
        attr(join(dir, 'aer_dev_fatal')),
        attr(join(dir, 'aer_dev_nonfatal')),
      ]);
      if (fatal !== undefined || nonFatal !== undefined) {
        const sample = {
          ...(fatal !== undefined && parseAerTotal(fatal) !== undefined ? { fatal: parseAerTotal(fatal) } : {}),
          ...(nonFatal !== undefined && parseAerTotal(nonFatal) !== undefined
            ? { nonFatal: parseAerTotal(nonFatal) }
            : {}),
          detail: { ...aerNonZero(fatal ?? ''), ...aerNonZero(nonFatal ?? '') },
        };
        verdicts.report(w.name, 'aer', w.aer.observe(sample, now));
      }
    }
    if (w.link) {
      const reading = await this.readLink(w);
      verdicts.report(w.name, 'link', w.link.observe(linkStatus(reading), now));
    }
    if (full && w.kind === 'tpu') {
      const missing: string[] = [];
      for (const node of w.deviceNodes) if (!(await exists(node))) missing.push(node);
      verdicts.report(
        w.name,
        'tpu',
        missing.length
          ? {
              state: 'unhealthy',
              reason: 'device-node-missing',
              message: `TPU device node gone: ${missing.join(', ')}`,
            }
          : { state: 'healthy' },
      );
    }
  }

  private async readLink(w: Watched): Promise<LinkReading> {
    const { sysfsRoot } = this.options;
    const ports: PortReading[] = await Promise.all(
      w.ports.map(async (p) => {
        const dir = join(sysfsRoot, 'class', 'infiniband', p.device, 'ports', String(p.port));
        const [state, physState] = await Promise.all([attr(join(dir, 'state')), attr(join(dir, 'phys_state'))]);
        return { ...p, state: state ?? 'missing', physState: physState ?? 'missing' };
      }),
    );
    const reading: LinkReading = { ports };
    if (w.ifName) {
      reading.ifName = w.ifName;
      const dir = join(sysfsRoot, 'class', 'net', w.ifName);
      const [operState, carrier] = await Promise.all([attr(join(dir, 'operstate')), attr(join(dir, 'carrier'))]);
      if (operState === undefined && !(await exists(dir))) reading.netdevMissing = true;
      if (operState !== undefined) reading.operState = operState;
      if (carrier === '0' || carrier === '1') reading.carrier = carrier === '1';
    }
    return reading;
  }

  private tick(): void {
    if (!this.running) return;
    const full = this.ticks++ % (this.options.slowEvery ?? 5) === 0;
    this.current = this.poll(full)
      .catch((err: unknown) => this.log.error({ err }, 'sysfs health poll failed'))
      .finally(() => {
        if (!this.running) return;
        this.timer = setTimeout(() => this.tick(), this.options.intervalMs ?? 2000);
        this.timer.unref();
      });
  }
}
