import { Command } from 'commander';
import { logLevelFlag } from '../../cli/options.js';
import { addJoinFlags } from '../join-flags.js';

export function bootstrapCommand(env: NodeJS.ProcessEnv = process.env): Command {
  const command = new Command('bootstrap').description(
    'init container: join the group, wait for every member, write the group environment file',
  );
  return addJoinFlags(command, env)
    .addOption(logLevelFlag(env))
    .action(async (opts, cmd: Command) => {
      // loaded on use: bootstrap's start-up path stays free of the other commands' modules
      const [{ runBootstrap }, { createLogger }] = await Promise.all([
        import('../../../leader/bootstrap/main.js'),
        import('../../log.js'),
      ]);
      const log = createLogger({ level: opts.logLevel, to: 'stdout' }).child({ component: 'bootstrap' });
      // failures are thrown as CliError with their exit code (3 timeout, 4 refused)
      await runBootstrap(opts, cmd.getOptionValueSource('rank') === 'cli', env, log);
    });
}
