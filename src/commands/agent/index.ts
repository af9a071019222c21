import { Command, InvalidArgumentError } from 'commander';
import { DEVICE_TYPES, parseDeviceTypes } from '../../../agent/discovery/device-types.js';
import { parseNicExclude } from '../../../agent/discovery/nic-exclude.js';
import { durationParser, flag, logLevelFlag, parseDuration, parseListenAddress } from '../../cli/options.js';
import { DEFAULT_DRIVER_NAME } from '../../version.js';
import { devRootFlag, kubeconfigFlag, nodeNameFlag, nvidiaSmiFlag, sysfsRootFlag } from '../shared-flags.js';
import type { AgentFlags } from './run.js';

export function agentCommand(env: NodeJS.ProcessEnv = process.env): Command {
  return new Command('agent')
    .description('node agent: discover devices, publish ResourceSlices, serve the kubelet DRA plugin, watch health')
    .addOption(nodeNameFlag(env))
    .addOption(
      flag(
        { flags: '--pod-uid <uid>', description: 'this pod’s UID (rolling-update socket names)', alsoEnv: ['POD_UID'] },
        env,
      ),
    )
    .addOption(
      flag({ flags: '--driver-name <name>', description: 'DRA driver name', default: DEFAULT_DRIVER_NAME }, env),
    )
    .addOption(kubeconfigFlag(env))
    .addOption(flag({ flags: '--context <name>', description: 'kubeconfig context to use' }, env))
    .addOption(sysfsRootFlag(env))
    .addOption(devRootFlag(env))
    .addOption(nvidiaSmiFlag(env))
    .addOption(
      flag(
        {
          flags: '--driver-root <dir>',
          description:
            'the host’s NVIDIA driver root as mounted in the container (/ or the GPU Operator’s /run/nvidia/driver): nvidia-smi and libnvidia-ml.so.1 are found under it',
          default: '/',
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--nvidia-smi-timeout <duration>',
          description: 'timeout of one nvidia-smi call',
          default: '10s',
          parse: parseDuration,
        },
        env,
      ),
    )
    .addOption(flag({ flags: '--kmsg <path>', description: 'kernel log device', default: '/dev/kmsg' }, env))
    .addOption(
      flag(
        {
          flags: '--plugin-registry-dir <dir>',
          description: 'kubelet plugin registration directory',
          default: '/var/lib/kubelet/plugins_registry',
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--plugin-dir <dir>',
          description: 'directory of the DRA service socket',
          default: '/var/lib/kubelet/plugins/lockstep.dev',
        },
        env,
      ),
    )
    .addOption(flag({ flags: '--cdi-dir <dir>', description: 'CDI spec directory', default: '/var/run/cdi' }, env))
    .addOption(
      flag(
        {
          flags: '--proc-root <dir>',
          description:
            'the host’s /proc as mounted in the container: NIC addresses for claims’ status.devices are read from its 1/net',
          default: '/proc',
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--state-dir <dir>',
          description: 'checkpoint and kernel-log cursor directory',
          default: '/var/lib/kubelet/plugins/lockstep.dev',
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--rescan-interval <duration>',
          description: 'full rediscovery period',
          default: '1m',
          parse: parseDuration,
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--device-types <list>',
          description: `kinds of device to serve, comma-separated (${DEVICE_TYPES.join(', ')})`,
          default: [...DEVICE_TYPES],
          parse: (value) => {
            try {
              return parseDeviceTypes(value);
            } catch (err) {
              throw new InvalidArgumentError((err as Error).message);
            }
          },
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--nic-exclude <list>',
          description:
            'NICs not to serve, comma-separated: PCI addresses (0000:1a:00.0) or interface names, * as wildcard (eno*)',
          parse: (value) => {
            try {
              return parseNicExclude(value);
            } catch (err) {
              throw new InvalidArgumentError((err as Error).message);
            }
          },
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--udev-dir <dir>',
          description: 'udev database to watch for device changes (rescan at once); empty: timer only',
          default: '/run/udev/data',
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--health-interval <duration>',
          description: 'nvidia-smi health poll period',
          default: '30s',
          parse: parseDuration,
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--http-address <addr>',
          description: 'address for /metrics, /healthz, /readyz',
          default: ':8080',
          parse: parseListenAddress,
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--taint-effect <effect>',
          description: 'effect of the unhealthy-device taint',
          default: 'NoSchedule',
          choices: ['NoSchedule', 'NoExecute', 'None'],
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--device-taints <mode>',
          description: 'put the unhealthy taint on devices: auto (until the API server shows it drops taints), on, off',
          default: 'auto',
          choices: ['auto', 'on', 'off'],
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--link-stable-time <duration>',
          description: 'how long a flapping link must stay up before it is healthy again',
          default: '10s',
          parse: durationParser({ minMs: 0 }),
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--xid-ignore <list>',
          description: 'XIDs recorded but not device faults, comma-separated (default: 13,31,43,45,68,109)',
          parse: parseXidList,
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--lease-namespace <namespace>',
          description:
            'namespace of the per-node Lease that lets one agent at a time publish (rollouts); empty: no Lease',
          default: 'lockstep-system',
          alsoEnv: ['POD_NAMESPACE'],
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--lease-duration <duration>',
          description: 'how long a Lease whose holder stopped renewing is honoured before another agent takes over',
          default: '40s',
          parse: durationParser({ minMs: 2000 }),
        },
        env,
      ),
    )
    .addOption(
      flag({ flags: '--uninstall', description: 'remove this node’s ResourceSlices and exit', default: false }, env),
    )
    .addOption(logLevelFlag(env))
    .action(async (opts: AgentFlags) => {
      // loaded on use: the other roles of the one binary never pay for the agent's modules
      const { runAgent } = await import('./run.js');
      process.exitCode = await runAgent(opts);
    });
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
