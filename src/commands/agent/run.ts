import { hostname } from 'node:os';
import { Agent } from '../../../agent/agent.js';
import { findDriverTools } from '../../../agent/discovery/driver-root.js';
import { parseHttpAddress } from '../../../agent/metrics/server.js';
import { SlicePublisher } from '../../../agent/slices/publisher.js';
import { isDnsLabel, isDnsSubdomain } from '../../../agent/slices/validate.js';
import { CliError, usageError } from '../../cli/errors.js';
import { errorMessage } from '../../errors.js';
import { KubeClient } from '../../kube/client.js';
import { loadClusterAccess } from '../../kube/in-cluster.js';
import { createLogger, type Logger } from '../../log.js';
import { nextTermination } from '../../signals.js';
import { NVIDIA_SMI } from '../shared-flags.js';
import type { AgentFlags } from './index.js';

export interface RunAgentDeps {
  log?: Logger;
  /** ends the agent (tests); by default SIGTERM or SIGINT do */
  signal?: AbortSignal;
}

export async function runAgent(flags: AgentFlags, deps: RunAgentDeps = {}): Promise<number> {
  if (!flags.nodeName) throw usageError('--node-name is required (or set NODE_NAME from the downward API)');
  if (!isDnsSubdomain(flags.nodeName)) throw usageError(`--node-name "${flags.nodeName}" is not a valid node name`);
  if (flags.driverName.length > 63 || !isDnsSubdomain(flags.driverName)) {
    throw usageError(`--driver-name "${flags.driverName}" is not a DNS subdomain of at most 63 characters`);
  }
  if (flags.leaseNamespace && !isDnsLabel(flags.leaseNamespace)) {
    throw usageError(`--lease-namespace "${flags.leaseNamespace}" is not a valid namespace name`);
  }
  if (flags.httpAddress !== undefined) {
    try {
      parseHttpAddress(flags.httpAddress);
    } catch (err) {
      throw usageError(errorMessage(err));
    }
  }
  const log = deps.log ?? createLogger({ level: flags.logLevel, to: 'stdout', component: 'agent' });
  // in a pod with no kubeconfig the service account is read directly: client-node (~39 MB resident) never loads
  const kc = await loadClusterAccess({ kubeconfig: flags.kubeconfig, context: flags.context });
  const client = new KubeClient(kc);
  try {
    if (flags.uninstall) {
      const publisher = new SlicePublisher({ client, driver: flags.driverName, nodeName: flags.nodeName, log });
      let removed: number;
      try {
        removed = await publisher.uninstall();
      } catch (err) {
        throw new CliError(1, `cannot remove the ResourceSlices of node ${flags.nodeName}: ${errorMessage(err)}`);
      }
      log.info({ node: flags.nodeName, driver: flags.driverName, removed }, 'removed this node’s ResourceSlices');
      return 0;
    }
    const tools = await findDriverTools(flags.driverRoot);
    // an explicit --nvidia-smi wins over the one under the driver root (the library path still comes from the root)
    const explicitSmi = flags.nvidiaSmi !== NVIDIA_SMI;
    const agent = new Agent({
      nodeName: flags.nodeName,
      driverName: flags.driverName,
      client,
      sysfsRoot: flags.sysfsRoot,
      devRoot: flags.devRoot,
      nvidiaSmi: explicitSmi ? flags.nvidiaSmi : tools.nvidiaSmi,
      driverRoot: explicitSmi
        ? { root: flags.driverRoot, found: true, ...(tools.libraryDir ? { libraryDir: tools.libraryDir } : {}) }
        : { root: flags.driverRoot, ...tools },
      nvidiaSmiTimeoutMs: flags.nvidiaSmiTimeout,
      rescanIntervalMs: flags.rescanInterval,
      deviceTypes: flags.deviceTypes,
      ...(flags.nicExclude ? { nicExclude: flags.nicExclude } : {}),
      rescanWatchDirs: flags.udevDir ? [flags.udevDir] : [],
      taintEffect: flags.taintEffect,
      deviceTaints: flags.deviceTaints,
      numaNodeList: flags.numaNodeList,
      ...(flags.leaseNamespace
        ? {
            lease: {
              namespace: flags.leaseNamespace,
              // the pod UID survives a container restart, so a restarted agent takes its own Lease back at once
              identity: flags.podUid ?? `${hostname()}-${process.pid}`,
              durationMs: flags.leaseDuration,
            },
          }
        : {}),
      log,
      health: {
        stateDir: flags.stateDir,
        kmsgPath: flags.kmsg,
        healthIntervalMs: flags.healthInterval,
        linkStableMs: flags.linkStableTime,
        ...(flags.xidIgnore ? { xidIgnore: flags.xidIgnore } : {}),
      },
      httpAddress: flags.httpAddress,
      kubeletPlugin: {
        registryDir: flags.pluginRegistryDir,
        pluginDir: flags.pluginDir,
        cdiDir: flags.cdiDir,
        procRoot: flags.procRoot,
        stateDir: flags.stateDir,
        ...(flags.podUid ? { podUid: flags.podUid } : {}),
      },
    });
    // SIGHUP clears XID faults (after GPUs were reset); `echo all > <state-dir>/clear-xid` does the same
    const onHup = () => void agent.health?.clearXid();
    process.on('SIGHUP', onHup);
    const stopped = waitForStop(deps.signal);
    log.info({ node: flags.nodeName, driver: flags.driverName }, 'agent starting');
    await Promise.race([agent.start(), stopped]);
    log.info('agent running');
    await stopped;
    log.info('agent stopping');
    process.off('SIGHUP', onHup);
    await agent.stop();
    return 0;
  } finally {
    client.close();
  }
}

function waitForStop(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal) {
      if (signal.aborted) return resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
      return;
    }
    void nextTermination().then(() => resolve());
  });
}
