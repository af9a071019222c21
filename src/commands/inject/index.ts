import { Command } from 'commander';
import { flag, logLevelFlag } from '../../cli/options.js';
import { ENGINES } from '../run/index.js';

export interface InjectFlags {
  filename?: string;
  image?: string;
  engine?: (typeof ENGINES)[number];
  command?: string;
  keepRestartPolicy: boolean;
  explain: boolean;
}

export function injectCommand(env: NodeJS.ProcessEnv = process.env): Command {
  return new Command('inject')
    .description('rewrite LeaderWorkerSet / StatefulSet / JobSet / indexed Job manifests to run under lockstep')
    .addOption(flag({ flags: '-f, --filename <file>', description: 'manifest file, or - for stdin' }, env))
    .addOption(flag({ flags: '--image <ref>', description: 'lockstep image (default: this version’s image)' }, env))
    .addOption(
      flag({ flags: '--engine <name>', description: 'engine, when it cannot be detected', choices: ENGINES }, env),
    )
    .addOption(
      flag({ flags: '--command <cmd>', description: 'command to wrap, when the main container has none' }, env),
    )
    .addOption(
      flag(
        {
          flags: '--keep-restart-policy',
          description: 'leave a LeaderWorkerSet’s restartPolicy alone',
          default: false,
        },
        env,
      ),
    )
    .addOption(flag({ flags: '--explain', description: 'print every change made, on stderr', default: false }, env))
    .addOption(logLevelFlag(env, 'warn'))
    .action(async (flags: InjectFlags) => {
      // loaded on use, like every command: the other roles' start-up never parses the YAML machinery
      const { runInject } = await import('./run.js');
      await runInject(flags);
    });
}
