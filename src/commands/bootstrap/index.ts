import { type Command, InvalidArgumentError } from 'commander';
import { defineFlags, type FlagValues, flag, flaggedCommand } from '../../cli/define-flags.js';
import type { CommandRun } from '../../cli/run-program.js';
import { joinFlags } from '../join-flags.js';

const bootstrapFlags = defineFlags({
  ...joinFlags,
  installLauncher: flag.parsed({
    flags: '--install-launcher [bool]',
    description:
      'install node + lockstep under <env-file dir>/bin so engine images without them can run `…/bin/lockstep run`',
    default: true,
    parse: parseBool,
  }),
  logLevel: flag.logLevel(),
});

/** The parsed flags of `lockstep bootstrap`. */
type BootstrapFlags = FlagValues<typeof bootstrapFlags>;

/**
 * What `lockstep bootstrap` does with its flags: join and write the environment, unless a test passes its own.
 * `rankFromCli`: --rank was given on the command line (it then beats the pod's own index).
 */
export type BootstrapRun = CommandRun<{ flags: BootstrapFlags; rankFromCli: boolean }>;

const runBootstrapProcess: BootstrapRun = async ({ flags, rankFromCli }, env) => {
  // loaded on use: bootstrap's start-up path stays free of the other commands' modules
  const [{ runBootstrap }, { createLogger }] = await Promise.all([import('./run.js'), import('../../log.js')]);
  const log = createLogger({ level: flags.logLevel, to: 'stdout', component: 'bootstrap' });
  // failures are thrown as CliError with their exit code (3 timeout, 4 refused)
  await runBootstrap(flags, rankFromCli, env, log);
};

export function bootstrapCommand(env: NodeJS.ProcessEnv, run: BootstrapRun = runBootstrapProcess): Command {
  const description = 'init container: join the group, wait for every member, write the group environment file';
  return flaggedCommand('bootstrap', description, bootstrapFlags, env).action((flags: BootstrapFlags, cmd: Command) =>
    run({ flags, rankFromCli: cmd.getOptionValueSource('rank') === 'cli' }, env),
  );
}

function parseBool(value: string): boolean {
  const v = value.trim().toLowerCase();
  if (['true', '1', 'yes'].includes(v)) return true;
  if (['false', '0', 'no'].includes(v)) return false;
  throw new InvalidArgumentError(`expected true or false, got "${value}"`);
}
