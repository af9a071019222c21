import type { Logger } from 'pino';
import type { HealthServiceVersion, NodeWatchResourcesResponse } from '../../../agent/kubeletplugin/protos.js';
import { silentLogger } from '../../../src/log.js';
import { type KubeletProfile, pickHealthService } from '../versions.js';
import { DRA_CALL_TIMEOUT_MS, DraClient, type DraServiceVersion, KUBELET_DRA_VERSIONS } from './plugin-client.js';
import type { PluginHandler } from './registration-watcher.js';

/**
 * The kubelet's DRA plugin manager (pkg/kubelet/cm/dra/plugin/dra_plugin_manager.go; FACTS.md §1–3): the handler for
 * plugin type "DRAPlugin". Several plugins may serve one driver (rolling update): calls go to the newest connected
 * one. Each plugin gets a health stream (NodeWatchResources), restarted every `healthRetryMs` after it ends, on the
 * health package the kubelet's version picks (`pickHealthService`: 1.37 calls v1, 1.36 v1beta1, both falling back to
 * older packages the plugin lists; 1.35 calls v1alpha1 unconditionally). When no
 * plugin of a driver is connected any more, the driver's ResourceSlices on this node are wiped `wipeDelayMs` later
 * unless a plugin comes back first.
 */
export interface DraPluginInfo {
  driver: string;
  endpoint: string;
  version: DraServiceVersion;
  /** the health package streamed from this plugin; absent when the kubelet knows none the plugin lists */
  healthVersion?: HealthServiceVersion;
  versions: string[];
  connected: boolean;
  registeredAt: number;
}

interface Plugin extends DraPluginInfo {
  client: DraClient;
  stopHealth: () => void;
}

export interface DraPluginsOptions {
  callTimeoutMs?: number;
  healthRetryMs?: number;
  wipeDelayMs?: number;
  /** which health packages the kubelet knows (default: the 1.35 kubelet's v1alpha1-only behaviour) */
  healthServices?: KubeletProfile['healthServices'];
  /** ResourceHealthStatus gate: open health streams at all (default true) */
  resourceHealthStatus?: boolean;
  onWipe: (driver: string) => void;
  onHealth: (driver: string, message: NodeWatchResourcesResponse) => void;
  onHealthStreamEnd: (driver: string) => void;
  log?: Logger;
  now?: () => number;
}

export function chooseDraVersion(driver: string, endpoint: string, versions: string[]): DraServiceVersion {
  const prefix = `invalid supported gRPC versions of DRA driver plugin ${driver} at endpoint ${endpoint}`;
  if (versions.length === 0)
    throw new Error(`${prefix}: empty list of supported gRPC services (aka supported versions)`);
  const chosen = versions.find((version): version is DraServiceVersion =>
    (KUBELET_DRA_VERSIONS as readonly string[]).includes(version),
  );
  if (!chosen) {
    throw new Error(
      `${prefix}: none of services supported by the plugin (${JSON.stringify(versions)}) are supported by the kubelet (${JSON.stringify(KUBELET_DRA_VERSIONS)})`,
    );
  }
  return chosen;
}

export class DraPlugins implements PluginHandler {
  private readonly store = new Map<string, Plugin[]>();
  private readonly pendingWipes = new Map<string, NodeJS.Timeout>();
  private readonly log: Logger;
  private readonly now: () => number;
  private stopped = false;

  constructor(private readonly options: DraPluginsOptions) {
    this.log = options.log ?? silentLogger();
    this.now = options.now ?? Date.now;
  }

  validate(name: string, endpoint: string, versions: string[]): void {
    if (!name) throw new Error('DRA driver name is empty');
    chooseDraVersion(name, endpoint, versions);
  }

  register(name: string, endpoint: string, versions: string[]): void {
    const version = chooseDraVersion(name, endpoint, versions);
    const plugins = this.store.get(name) ?? [];
    if (plugins.some((plugin) => plugin.endpoint === endpoint)) {
      throw new Error(`endpoint ${endpoint} already registered for DRA driver plugin ${name}`);
    }
    const client = new DraClient(endpoint, version, this.options.callTimeoutMs ?? DRA_CALL_TIMEOUT_MS);
    const healthVersion =
      this.options.resourceHealthStatus === false
        ? undefined
        : pickHealthService({ healthServices: this.options.healthServices ?? 'legacy' }, versions);
    const plugin: Plugin = {
      driver: name,
      endpoint,
      version,
      ...(healthVersion ? { healthVersion } : {}),
      versions,
      connected: false,
      registeredAt: this.now(),
      client,
      stopHealth: () => undefined,
    };
    plugins.push(plugin);
    this.store.set(name, plugins);
    client.onConnectivityChange((ready) => {
      if (plugin.connected === ready) return;
      plugin.connected = ready;
      this.log.info({ driver: name, endpoint, connected: ready }, 'DRA plugin connection changed');
      this.sync(name);
    });
    client.connect();
    if (healthVersion) plugin.stopHealth = this.watchHealth(plugin, healthVersion);
    this.log.info({ driver: name, endpoint, version, healthVersion }, 'registered DRA plugin');
    this.sync(name);
  }

  deregister(name: string, endpoint: string): void {
    const plugins = this.store.get(name) ?? [];
    const index = plugins.findIndex((plugin) => plugin.endpoint === endpoint);
    if (index === -1) return;
    const [plugin] = plugins.splice(index, 1);
    if (plugins.length === 0) this.store.delete(name);
    plugin?.stopHealth();
    plugin?.client.close();
    this.log.info({ driver: name, endpoint }, 'de-registered DRA plugin');
    this.sync(name);
  }

  /** The plugin calls go to: newest connected, else newest. */
  get(driver: string): DraClient | undefined {
    const plugins = this.store.get(driver) ?? [];
    for (let i = plugins.length - 1; i >= 0; i--) if (plugins[i]?.connected) return plugins[i]?.client;
    return plugins[plugins.length - 1]?.client;
  }

  list(): DraPluginInfo[] {
    return [...this.store.values()].flat().map(({ client: _c, stopHealth: _s, ...info }) => ({ ...info }));
  }

  wipePending(driver: string): boolean {
    return this.pendingWipes.has(driver);
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.pendingWipes.values()) clearTimeout(timer);
    this.pendingWipes.clear();
    for (const plugin of [...this.store.values()].flat()) {
      plugin.stopHealth();
      plugin.client.close();
    }
    this.store.clear();
  }

  private sync(driver: string): void {
    if (this.stopped) return;
    const usable = (this.store.get(driver) ?? []).some((plugin) => plugin.connected);
    const pending = this.pendingWipes.get(driver);
    if (usable) {
      if (pending) {
        clearTimeout(pending);
        this.pendingWipes.delete(driver);
      }
      return;
    }
    if (pending) return;
    const timer = setTimeout(() => {
      this.pendingWipes.delete(driver);
      this.options.onWipe(driver);
    }, this.options.wipeDelayMs ?? 30_000);
    timer.unref();
    this.pendingWipes.set(driver, timer);
  }

  private watchHealth(plugin: Plugin, version: HealthServiceVersion): () => void {
    let stopped = false;
    let cancel: (() => void) | undefined;
    let retry: NodeJS.Timeout | undefined;
    const attempt = () => {
      if (stopped) return;
      const stream = plugin.client.watchHealth(version);
      cancel = () => stream.cancel();
      let ended = false;
      const end = (reason: string) => {
        if (ended) return;
        ended = true;
        this.log.debug({ driver: plugin.driver, endpoint: plugin.endpoint, reason }, 'health stream ended');
        this.options.onHealthStreamEnd(plugin.driver);
        if (!stopped) retry = setTimeout(attempt, this.options.healthRetryMs ?? 5000);
      };
      stream.on('data', (message: NodeWatchResourcesResponse) => this.options.onHealth(plugin.driver, message));
      stream.on('error', (error: Error) => end(error.message));
      stream.on('end', () => end('end'));
    };
    attempt();
    return () => {
      stopped = true;
      clearTimeout(retry);
      cancel?.();
    };
  }
}
