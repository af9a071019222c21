/**
 * NIC link health (pure): what sysfs says about a netdev and its RDMA ports, and the hysteresis that keeps a flapping
 * link from flapping its reports.
 */
import type { BoardReading } from './board.js';

export interface PortReading {
  /** RDMA device, e.g. `mlx5_0` */
  device: string;
  port: number;
  /** sysfs `state` as read: `4: ACTIVE` (or just `ACTIVE`) */
  state: string;
  /** sysfs `phys_state` as read: `5: LinkUp` */
  physState: string;
}

export interface LinkReading {
  ifName?: string;
  /** sysfs `operstate`; undefined when the netdev has none or it could not be read */
  operState?: string;
  /** sysfs `carrier`; undefined where unreadable (the kernel refuses it while the interface is admin-down) */
  carrier?: boolean;
  /** the netdev directory is gone */
  netdevMissing?: boolean;
  ports: PortReading[];
}

export interface LinkStatus {
  up: boolean;
  /** label-value-safe reason when down */
  reason?: string;
  message?: string;
}

/** `4: ACTIVE` → `ACTIVE`; `5: LinkUp` → `LinkUp`. */
export function sysfsEnum(value: string): string {
  return value.replace(/^\s*\d+\s*:\s*/, '').trim();
}

/** Whether a NIC can carry traffic, from one reading (pure). */
export function linkStatus(r: LinkReading): LinkStatus {
  const problems: { reason: string; text: string }[] = [];
  for (const p of r.ports) {
    const state = sysfsEnum(p.state);
    const phys = sysfsEnum(p.physState);
    if (state.toUpperCase() !== 'ACTIVE' || phys.toLowerCase() !== 'linkup') {
      problems.push({ reason: 'rdma-port-down', text: `${p.device} port ${p.port}: ${state || '?'} / ${phys || '?'}` });
    }
  }
  if (r.ifName) {
    const op = r.operState?.trim().toLowerCase();
    if (r.netdevMissing) problems.push({ reason: 'netdev-missing', text: `${r.ifName}: interface is gone` });
    else if (op && ['down', 'lowerlayerdown', 'notpresent', 'dormant'].includes(op)) {
      problems.push({ reason: 'netdev-down', text: `${r.ifName}: operstate ${op}` });
    } else if (r.carrier === false) problems.push({ reason: 'no-carrier', text: `${r.ifName}: no carrier` });
  }
  const first = problems[0];
  if (!first) return { up: true };
  return { up: false, reason: first.reason, message: problems.map((p) => p.text).join('; ') };
}

/**
 * A link that is down from the first look on (an uncabled on-board port, on every recorded H100 node) is not a fault:
 * it is reported healthy, and the published link state says it is down. Once it has been up, going down is a fault.
 * A link that went down is unhealthy until it has stayed up for `stableMs`; going down again meanwhile restarts the
 * wait without a new report. The reason is the one of the first failure, held until recovery, so a bouncing link
 * yields exactly two reports: unhealthy, and healthy once it is stable. A link that is up at the first look is
 * healthy at once (nothing flapped).
 */
export class LinkHysteresis {
  private phase: 'new' | 'never-up' | 'healthy' | 'down' | 'settling' = 'new';
  private held: BoardReading = { state: 'healthy' };
  private upSince = 0;

  constructor(private readonly stableMs: number) {}

  observe(status: LinkStatus, now: number): BoardReading {
    if (!status.up) {
      if (this.phase === 'new' || this.phase === 'never-up') {
        this.phase = 'never-up';
        this.held = { state: 'healthy' };
        return this.held;
      }
      if (this.phase === 'healthy') {
        this.held = {
          state: 'unhealthy',
          reason: status.reason ?? 'link-down',
          message: `link down: ${status.message ?? status.reason ?? ''}`.slice(0, 1024),
        };
      }
      this.phase = 'down';
      return this.held;
    }
    if (this.phase === 'new' || this.phase === 'never-up' || this.phase === 'healthy') {
      this.phase = 'healthy';
      this.held = { state: 'healthy' };
      return this.held;
    }
    if (this.phase === 'down') {
      this.phase = 'settling';
      this.upSince = now;
    }
    if (now - this.upSince >= this.stableMs) {
      this.phase = 'healthy';
      this.held = { state: 'healthy' };
    }
    return this.held;
  }

  /** ms until a settling link would turn healthy (undefined when not settling): lets the monitor look again then */
  settlesIn(now: number): number | undefined {
    return this.phase === 'settling' ? Math.max(0, this.stableMs - (now - this.upSince)) : undefined;
  }
}
