import { Command } from 'commander';
import { notImplemented } from '../../cli/errors.js';
import { logLevelFlag } from '../../cli/options.js';
import { addJoinFlags } from '../join-flags.js';

export function bootstrapCommand(env: NodeJS.ProcessEnv = process.env): Command {
  const command = new Command('bootstrap').description(
    'init container: join the group, wait for every member, write the group environment file',
  );
  return addJoinFlags(command, env)
    .addOption(logLevelFlag(env))
    .action(() => {
      throw notImplemented('lockstep bootstrap');
    });
}
