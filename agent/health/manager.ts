import type { KubeClient } from '../../src/kube/client.js';
import type { Logger } from '../../src/log.js';
import { componentLogger, silentLogger } from '../../src/log.js';
import type { DiscoveredDevice, GpuDevice, Inventory } from '../discovery/inventory.js';
import type { DeviceHealthBoard } from './board.js';
import type { HealthHooks } from './hooks.js';
import { PodHealthReporter } from './pod-reporter.js';
import { SmiHealthMonitor } from './smi-monitor.js';
import { SysfsHealthMonitor } from './sysfs-monitor.js';
import { HealthVerdicts } from './verdicts.js';
import { type GpuAddress, XidMonitor } from './xid-monitor.js';

export interface HealthManagerOptions {
  board: DeviceHealthBoard;
  nodeName: string;
  driverName: string;
  /** --state-dir: the kernel-log cursor and XID faults live here; `clear-xid` dropped here clears XID faults */
  stateDir: string;
  /** --kmsg: /dev/kmsg or a file */
  kmsgPath: string;
  sysfsRoot: string;
  nvidiaSmi: string;
  nvidiaSmiTimeoutMs: number;
  /** libnvidia-ml.so.1's directory under the driver root, for nvidia-smi's library path */
  nvidiaLibraryDir?: string;
  /** --health-interval: nvidia-smi poll period */
  healthIntervalMs: number;
  /** --link-stable-time */
  linkStableMs: number;
  /** poll period of NIC links (default 2 s; AER, PCI presence and TPU nodes every 5th poll) */
  sysfsIntervalMs?: number;
  /** XIDs recorded but not device faults (default: application XIDs 13, 31, 43, 45, 68, 109) */
  xidIgnore?: readonly number[];
  /** with a client, pods on this node get the DevicesHealthy condition and Events */
  client?: KubeClient;
  hooks?: HealthHooks & { apiError?(component: string, verb: string, resource: string, code: number): void };
  bootIdPath?: string;
  log?: Logger;
}

const isNvidiaGpu = (d: DiscoveredDevice): d is GpuDevice => d.kind === 'gpu' && d.vendor === 'nvidia';

/**
 * Device health for the agent: feeds the monitors the published devices, combines their verdicts on the board, and
 * reports to pods (conditions and Events). The slice publisher, the kubelet health stream and /metrics read the same
 * board, so all four places agree.
 */
export class HealthManager {
  readonly name = 'health';
  readonly verdicts: HealthVerdicts;
  readonly xid: XidMonitor;
  readonly smi: SmiHealthMonitor;
  readonly sysfs: SysfsHealthMonitor;
  readonly pods: PodHealthReporter | undefined;
  private readonly log: Logger;
  private published = new Set<string>();
  private gone = new Set<string>();
  private gpuAddresses = new Map<string, GpuAddress>();
  /** GPU name → its MIG devices' names: a MIG device is exactly as healthy as its GPU */
  private migChildren = new Map<string, string[]>();
  private started = false;

  constructor(private readonly options: HealthManagerOptions) {
    this.log = options.log ?? silentLogger();
    this.verdicts = new HealthVerdicts(options.board);
    // MIG devices are published (and allocated) under their own names; they follow their GPU on the board so every
    // reporter that looks a MIG device up finds its GPU's state
    options.board.subscribe((entry) => {
      for (const child of this.migChildren.get(entry.device) ?? []) this.mirror(entry.device, child);
    });
    this.xid = new XidMonitor({
      verdicts: this.verdicts,
      kmsgPath: options.kmsgPath,
      stateDir: options.stateDir,
      ...(options.xidIgnore ? { ignore: options.xidIgnore } : {}),
      ...(options.bootIdPath ? { bootIdPath: options.bootIdPath } : {}),
      ...(options.hooks ? { hooks: options.hooks } : {}),
      log: componentLogger(this.log, 'health.xid'),
    });
    this.smi = new SmiHealthMonitor({
      verdicts: this.verdicts,
      nvidiaSmi: options.nvidiaSmi,
      ...(options.nvidiaLibraryDir ? { libraryDir: options.nvidiaLibraryDir } : {}),
      timeoutMs: options.nvidiaSmiTimeoutMs,
      intervalMs: options.healthIntervalMs,
      ...(options.hooks ? { hooks: options.hooks } : {}),
      onRecovered: (gpu) => void this.xid.clear([gpu]),
      log: componentLogger(this.log, 'health.nvidia-smi'),
    });
    this.sysfs = new SysfsHealthMonitor({
      verdicts: this.verdicts,
      sysfsRoot: options.sysfsRoot,
      linkStableMs: options.linkStableMs,
      ...(options.sysfsIntervalMs !== undefined ? { intervalMs: options.sysfsIntervalMs } : {}),
      ...(options.hooks ? { hooks: options.hooks } : {}),
      log: componentLogger(this.log, 'health.sysfs'),
    });
    if (options.client) {
      const hooks = options.hooks;
      this.pods = new PodHealthReporter({
        client: options.client,
        board: options.board,
        nodeName: options.nodeName,
        driverName: options.driverName,
        ...(hooks?.apiError
          ? { onApiError: (verb, resource, code) => hooks.apiError?.('health', verb, resource, code) }
          : {}),
        log: componentLogger(this.log, 'health.pods'),
      });
    }
  }

  /**
   * The devices discovery found (call on every scan). A device that was published and is missing now stays on the
   * board as unhealthy ("gone") rather than silently disappearing; it is healthy again if it comes back.
   */
  setInventory(inventory: Inventory): void {
    const now = new Set(inventory.devices.map((d) => d.name));
    for (const name of this.published) {
      if (!now.has(name) && !this.gone.has(name)) {
        this.gone.add(name);
        this.log.warn({ device: name }, 'device disappeared from discovery');
        this.verdicts.report(name, 'discovery', {
          state: 'unhealthy',
          reason: 'gone',
          message: `${name} is no longer found on the node (last scan ${inventory.scannedAt})`,
        });
      }
    }
    for (const d of inventory.devices) {
      this.verdicts.track(d.name);
      if (this.gone.delete(d.name)) this.verdicts.report(d.name, 'discovery', { state: 'healthy' });
      // the scan's own nvidia-smi reading (same rules as the monitor's) is as fresh as the monitor's: use it until
      // the monitor's next poll
      if (isNvidiaGpu(d) && (d.memoryErrors || d.health.state !== 'healthy'))
        this.verdicts.report(d.name, 'nvidia-smi', d.health);
    }
    for (const name of now) this.published.add(name);
    for (const d of inventory.devices) {
      if (d.kind !== 'gpu') continue;
      const children = d.migEnabled ? d.migDevices.map((m) => m.name) : [];
      if (children.length) this.migChildren.set(d.name, children);
      else this.migChildren.delete(d.name);
      for (const child of children) this.mirror(d.name, child);
    }
    const gpus = inventory.devices.filter(isNvidiaGpu).map((g) => ({ name: g.name, pciAddress: g.pci.address }));
    for (const g of gpus) this.gpuAddresses.set(g.name, g);
    // XIDs of a GPU that vanished still name it (the XID 79 that made it vanish comes from the same event)
    this.xid.setGpus([...this.gpuAddresses.values()]);
    this.smi.setGpus(gpus);
    this.sysfs.setDevices(inventory.devices);
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    await this.xid.start();
    this.smi.start(this.options.healthIntervalMs);
    this.sysfs.start();
    this.pods?.start();
  }

  async stop(): Promise<void> {
    if (!this.started) return;
    this.started = false;
    await this.pods?.stop();
    await this.sysfs.stop();
    await this.smi.stop();
    await this.xid.stop();
  }

  private mirror(gpu: string, child: string): void {
    const parent = this.options.board.get(gpu);
    if (!parent) return;
    const reading = {
      state: parent.state,
      ...(parent.reason !== undefined ? { reason: parent.reason } : {}),
      ...(parent.message !== undefined ? { message: `${gpu}: ${parent.message}` } : {}),
    };
    this.options.board.set(child, reading, parent.source);
  }

  /** Clears XID faults (all, or the named devices / PCI addresses), e.g. on SIGHUP after GPUs were reset. */
  clearXid(devices: readonly string[] = []): Promise<string[]> {
    return this.xid.clear(devices);
  }

  /** readiness: the pod watch has synced (when there is one) */
  ready(): boolean | string {
    if (this.pods && !this.pods.ready) return 'pod watch not synced';
    return true;
  }
}
