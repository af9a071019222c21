import type { Command } from 'commander';
import { defineFlags, type FlagValues, flag, flaggedCommand } from '../../cli/define-flags.js';
import { CliError } from '../../cli/errors.js';
import { EXIT } from '../../cli/exit-codes.js';
import type { CommandRun } from '../../cli/run-program.js';
import { devRootFlag, nodeNameFlag, nvidiaSmiFlag, sysfsRootFlag } from '../shared-flags.js';

const discoverFlags = defineFlags({
  output: flag.choice({
    flags: '-o, --output <format>',
    description: 'output format',
    choices: ['table', 'json', 'yaml'],
    default: 'table',
  }),
  sysfsRoot: sysfsRootFlag,
  devRoot: devRootFlag,
  nvidiaSmi: nvidiaSmiFlag,
  nvidiaSmiTimeout: flag.duration({
    flags: '--nvidia-smi-timeout <duration>',
    description: 'timeout of the nvidia-smi call',
    default: '10s',
  }),
  all: flag.switch({
    flags: '--all',
    description: 'also list virtual interfaces (loopback, bridges, veths)',
    default: false,
  }),
  slices: flag.switch({
    flags: '--slices',
    description: 'print the ResourceSlices the agent would publish',
    default: false,
  }),
  strict: flag.switch({
    flags: '--strict',
    description: 'exit 1 when anything could not be read (problems are listed either way)',
    default: false,
  }),
  nodeName: nodeNameFlag,
  logLevel: flag.logLevel('warn'),
});

/** The parsed flags of `lockstep discover`. */
export type DiscoverOptions = FlagValues<typeof discoverFlags>;

/** What `lockstep discover` does with its flags: scan and print, unless a test passes its own. */
export type DiscoverRun = CommandRun<{ flags: DiscoverOptions }>;

const discoverAndPrint: DiscoverRun = async ({ flags }) => {
  // loaded on use: the other lockstep commands never parse the scanner, the slice builder or the YAML writer
  const { discover } = await import('./run.js');
  const result = await discover(flags);
  process.stdout.write(result.output);
  if (flags.strict && result.problems > 0) {
    throw new CliError(EXIT.failed, `${result.problems} problem${result.problems === 1 ? '' : 's'} found (--strict)`);
  }
};

export function discoverCommand(env: NodeJS.ProcessEnv, run: DiscoverRun = discoverAndPrint): Command {
  const description = 'print this machine’s accelerators and NICs with their topology and health';
  return flaggedCommand('discover', description, discoverFlags, env).action((flags: DiscoverOptions) =>
    run({ flags }, env),
  );
}
