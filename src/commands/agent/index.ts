import { type Command, InvalidArgumentError } from 'commander';
import { DEVICE_TYPES, type DeviceType, parseDeviceTypes } from '../../../agent/discovery/device-types.js';
import { type NicExclusion, parseNicExclude } from '../../../agent/discovery/nic-exclude.js';
import { DEFAULT_CDI_DIR } from '../../../agent/kubelet/cdi.js';
import { DEFAULT_REGISTRY_DIR, defaultPluginDir } from '../../../agent/kubeletplugin/sockets.js';
import { defineFlags, type FlagValues, flag, flaggedCommand } from '../../cli/define-flags.js';
import { parseListenAddress } from '../../cli/options.js';
import type { CommandRun } from '../../cli/run-program.js';
import { DRIVER } from '../../contract/names.js';
import { errorMessage } from '../../errors.js';
import { DOWNWARD_ENV } from '../../inject/constants.js';
import { devRootFlag, kubeconfigFlag, nodeNameFlag, nvidiaSmiFlag, sysfsRootFlag } from '../shared-flags.js';

/** Where the agent keeps its checkpoint: beside the DRA socket, in the driver's kubelet plugin directory. */
const PLUGIN_DIR = defaultPluginDir(DRIVER);

/** A parser from agent/ (which throws plain errors) as a usage error of the flag. */
function asFlagParser<T>(parse: (value: string) => T): (value: string) => T {
  return (value) => {
    try {
      return parse(value);
    } catch (err) {
      throw new InvalidArgumentError(errorMessage(err));
    }
  };
}

const agentFlags = defineFlags({
  nodeName: nodeNameFlag,
  podUid: flag.text({
    flags: '--pod-uid <uid>',
    description: 'this pod’s UID (rolling-update socket names)',
    alsoEnv: ['POD_UID'],
  }),
  driverName: flag.text({ flags: '--driver-name <name>', description: 'DRA driver name', default: DRIVER }),
  kubeconfig: kubeconfigFlag,
  context: flag.text({ flags: '--context <name>', description: 'kubeconfig context to use' }),
  sysfsRoot: sysfsRootFlag,
  devRoot: devRootFlag,
  nvidiaSmi: nvidiaSmiFlag,
  driverRoot: flag.text({
    flags: '--driver-root <dir>',
    description:
      'the host’s NVIDIA driver root as mounted in the container (/ or the GPU Operator’s /run/nvidia/driver): nvidia-smi and libnvidia-ml.so.1 are found under it',
    default: '/',
  }),
  nvidiaSmiTimeout: flag.duration({
    flags: '--nvidia-smi-timeout <duration>',
    description: 'timeout of one nvidia-smi call',
    default: '10s',
  }),
  kmsg: flag.text({ flags: '--kmsg <path>', description: 'kernel log device', default: '/dev/kmsg' }),
  pluginRegistryDir: flag.text({
    flags: '--plugin-registry-dir <dir>',
    description: 'kubelet plugin registration directory',
    default: DEFAULT_REGISTRY_DIR,
  }),
  pluginDir: flag.text({
    flags: '--plugin-dir <dir>',
    description: 'directory of the DRA service socket',
    default: PLUGIN_DIR,
  }),
  cdiDir: flag.text({ flags: '--cdi-dir <dir>', description: 'CDI spec directory', default: DEFAULT_CDI_DIR }),
  procRoot: flag.text({
    flags: '--proc-root <dir>',
    description:
      'the host’s /proc as mounted in the container: NIC addresses for claims’ status.devices are read from its 1/net',
    default: '/proc',
  }),
  stateDir: flag.text({
    flags: '--state-dir <dir>',
    description: 'checkpoint and kernel-log cursor directory',
    default: PLUGIN_DIR,
  }),
  rescanInterval: flag.duration({
    flags: '--rescan-interval <duration>',
    description: 'full rediscovery period',
    default: '1m',
  }),
  deviceTypes: flag.parsed<DeviceType[]>({
    flags: '--device-types <list>',
    description: `kinds of device to serve, comma-separated (${DEVICE_TYPES.join(', ')})`,
    default: [...DEVICE_TYPES],
    parse: asFlagParser(parseDeviceTypes),
  }),
  nicExclude: flag.parsed<NicExclusion[]>({
    flags: '--nic-exclude <list>',
    description:
      'NICs not to serve, comma-separated: PCI addresses (0000:1a:00.0) or interface names, * as wildcard (eno*)',
    parse: asFlagParser(parseNicExclude),
  }),
  udevDir: flag.text({
    flags: '--udev-dir <dir>',
    description: 'udev database to watch for device changes (rescan at once); empty: timer only',
    default: '/run/udev/data',
  }),
  healthInterval: flag.duration({
    flags: '--health-interval <duration>',
    description: 'nvidia-smi health poll period',
    default: '30s',
  }),
  httpAddress: flag.parsed({
    flags: '--http-address <addr>',
    description: 'address for /metrics, /healthz, /readyz',
    default: ':8080',
    parse: parseListenAddress,
  }),
  taintEffect: flag.choice({
    flags: '--taint-effect <effect>',
    description: 'effect of the unhealthy-device taint',
    choices: ['NoSchedule', 'NoExecute', 'None'],
    default: 'NoSchedule',
  }),
  deviceTaints: flag.choice({
    flags: '--device-taints <mode>',
    description: 'put the unhealthy taint on devices: auto (until the API server shows it drops taints), on, off',
    choices: ['auto', 'on', 'off'],
    default: 'auto',
  }),
  linkStableTime: flag.duration({
    flags: '--link-stable-time <duration>',
    description: 'how long a flapping link must stay up before it is healthy again',
    default: '10s',
    minMs: 0,
  }),
  xidIgnore: flag.parsed({
    flags: '--xid-ignore <list>',
    description: 'XIDs recorded but not device faults, comma-separated (default: 13,31,43,45,68,109)',
    parse: parseXidList,
  }),
  leaseNamespace: flag.text({
    flags: '--lease-namespace <namespace>',
    description: 'namespace of the per-node Lease that lets one agent at a time publish (rollouts); empty: no Lease',
    default: 'lockstep-system',
    alsoEnv: [DOWNWARD_ENV.namespace.name],
  }),
  leaseDuration: flag.duration({
    flags: '--lease-duration <duration>',
    description: 'how long a Lease whose holder stopped renewing is honoured before another agent takes over',
    default: '40s',
    minMs: 2000,
  }),
  numaNodeList: flag.switch({
    flags: '--numa-node-list',
    description:
      'publish resource.kubernetes.io/numaNode as a list (own node, then same-socket nodes at the nearest SLIT distance); needs the DRAListTypeAttributes gate (alpha, 1.36+): an API server without it refuses the list, and the agent warns and publishes the int form',
    default: false,
  }),
  uninstall: flag.switch({
    flags: '--uninstall',
    description: 'remove this node’s ResourceSlices and exit',
    default: false,
  }),
  logLevel: flag.logLevel(),
});

/** The parsed flags of `lockstep agent` (commander's camelCase names). */
export type AgentFlags = FlagValues<typeof agentFlags>;

/** What `lockstep agent` does with its flags: the agent itself, unless a test passes its own (lockstepProgram). */
export type AgentRun = CommandRun<{ flags: AgentFlags }>;

const runAgentProcess: AgentRun = async ({ flags }) => {
  // loaded on use: the other roles of the one binary never pay for the agent's modules
  const { runAgent } = await import('./run.js');
  process.exitCode = await runAgent(flags);
};

export function agentCommand(env: NodeJS.ProcessEnv, run: AgentRun = runAgentProcess): Command {
  const description =
    'node agent: discover devices, publish ResourceSlices, serve the kubelet DRA plugin, watch health';
  return flaggedCommand('agent', description, agentFlags, env).action((flags: AgentFlags) => run({ flags }, env));
}

/** XIDs are small numbers (NVIDIA's catalog ends in the 100s); anything larger is a typo. */
const MAX_XID = 65_535;

/** `13,31,43` → [13, 31, 43]; anything that is not a list of XID numbers is a usage error. */
function parseXidList(value: string): number[] {
  const parts = value
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '');
  if (parts.some((p) => !/^\d{1,5}$/.test(p) || Number(p) > MAX_XID)) {
    throw new InvalidArgumentError(`"${value}" is not a comma-separated list of XID numbers (example: 13,31,43)`);
  }
  return parts.map(Number);
}
