import { Command } from 'commander';
import { agentCommand } from '../commands/agent/index.js';
import { bootstrapCommand } from '../commands/bootstrap/index.js';
import { coordinatorCommand } from '../commands/coordinator/index.js';
import { discoverCommand } from '../commands/discover/index.js';
import { injectCommand } from '../commands/inject/index.js';
import { runCommand } from '../commands/run/index.js';
import { VERSION } from '../version.js';
import { EXIT_CODE_HELP } from './exit-codes.js';

/** The `lockstep` program: one binary, one subcommand per role. */
export function lockstepProgram(env: NodeJS.ProcessEnv = process.env): Command {
  return new Command('lockstep')
    .description('multi-host inference on Kubernetes that starts and recovers as one unit')
    .version(VERSION, '--version')
    .addHelpText('after', `\n${EXIT_CODE_HELP}`)
    .addCommand(agentCommand(env))
    .addCommand(coordinatorCommand(env))
    .addCommand(bootstrapCommand(env))
    .addCommand(runCommand(env))
    .addCommand(discoverCommand(env))
    .addCommand(injectCommand(env));
}
