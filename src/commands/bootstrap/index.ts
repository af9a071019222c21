import { Command, InvalidArgumentError } from 'commander';
import { flag, logLevelFlag } from '../../cli/options.js';
import { addJoinFlags } from '../join-flags.js';

export function bootstrapCommand(env: NodeJS.ProcessEnv = process.env): Command {
  const command = new Command('bootstrap').description(
    'init container: join the group, wait for every member, write the group environment file',
  );
  return addJoinFlags(command, env)
    .addOption(
      flag(
        {
          flags: '--install-launcher [bool]',
          description:
            'install node + lockstep under <env-file dir>/bin so engine images without them can run `…/bin/lockstep run`',
          default: true,
          parse: parseBool,
        },
        env,
      ),
    )
    .addOption(logLevelFlag(env))
    .action(async (opts, cmd: Command) => {
      // loaded on use: bootstrap's start-up path stays free of the other commands' modules
      const [{ runBootstrap }, { createLogger }] = await Promise.all([import('./run.js'), import('../../log.js')]);
      const log = createLogger({ level: opts.logLevel, to: 'stdout', component: 'bootstrap' });
      // failures are thrown as CliError with their exit code (3 timeout, 4 refused)
      await runBootstrap(opts, cmd.getOptionValueSource('rank') === 'cli', env, log);
    });
}

function parseBool(value: string): boolean {
  const v = value.trim().toLowerCase();
  if (['true', '1', 'yes'].includes(v)) return true;
  if (['false', '0', 'no'].includes(v)) return false;
  throw new InvalidArgumentError(`expected true or false, got "${value}"`);
}
