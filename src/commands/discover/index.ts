import { Command } from 'commander';
import { CliError } from '../../cli/errors.js';
import { EXIT } from '../../cli/exit-codes.js';
import { flag, logLevelFlag, parseDuration } from '../../cli/options.js';
import type { LogLevel } from '../../log.js';
import { devRootFlag, nodeNameFlag, nvidiaSmiFlag, sysfsRootFlag } from '../shared-flags.js';

export interface DiscoverOptions {
  output: 'table' | 'json' | 'yaml';
  sysfsRoot: string;
  devRoot: string;
  nvidiaSmi: string;
  nvidiaSmiTimeout: number;
  all: boolean;
  slices: boolean;
  strict: boolean;
  nodeName?: string;
  logLevel: LogLevel;
}

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
          default: '10s',
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
    .addOption(
      flag(
        {
          flags: '--strict',
          description: 'exit 1 when anything could not be read (problems are listed either way)',
          default: false,
        },
        env,
      ),
    )
    .addOption(nodeNameFlag(env))
    .addOption(logLevelFlag(env, 'warn'))
    .action(async (opts: DiscoverOptions) => {
      // loaded on use: the other lockstep commands never parse the scanner, the slice builder or the YAML writer
      const { discover } = await import('./run.js');
      const result = await discover(opts);
      process.stdout.write(result.output);
      if (opts.strict && result.problems > 0) {
        throw new CliError(
          EXIT.failed,
          `${result.problems} problem${result.problems === 1 ? '' : 's'} found (--strict)`,
        );
      }
    });
}
