import { Command } from 'commander';
import { notImplemented } from '../../cli/errors.js';
import { flag, logLevelFlag, parseDuration } from '../../cli/options.js';
import { devRootFlag, nodeNameFlag, nvidiaSmiFlag, sysfsRootFlag } from '../shared-flags.js';

export function discoverCommand(env: NodeJS.ProcessEnv = process.env): Command {
  return new Command('discover')
    .description('print this machine’s accelerators and NICs with their topology and health')
    .addOption(
      flag(
        {
          flags: '-o, --output <format>',
          description: 'output format',
          default: 'table',
          choices: ['table', 'json', 'yaml'],
        },
        env,
      ),
    )
    .addOption(sysfsRootFlag(env))
    .addOption(devRootFlag(env))
    .addOption(nvidiaSmiFlag(env))
    .addOption(
      flag(
        {
          flags: '--nvidia-smi-timeout <duration>',
          description: 'timeout of the nvidia-smi call',
          default: 10_000,
          parse: parseDuration,
        },
        env,
      ),
    )
    .addOption(
      flag(
        { flags: '--all', description: 'also list virtual interfaces (loopback, bridges, veths)', default: false },
        env,
      ),
    )
    .addOption(
      flag({ flags: '--slices', description: 'print the ResourceSlices the agent would publish', default: false }, env),
    )
    .addOption(nodeNameFlag(env))
    .addOption(logLevelFlag(env, 'warn'))
    .action(() => {
      throw notImplemented('lockstep discover');
    });
}
