import { Command } from 'commander';
import { type AgentRun, agentCommand } from '../commands/agent/index.js';
import { type BootstrapRun, bootstrapCommand } from '../commands/bootstrap/index.js';
import { type CoordinatorRun, coordinatorCommand } from '../commands/coordinator/index.js';
import { type DiscoverRun, discoverCommand } from '../commands/discover/index.js';
import { type InjectRun, injectCommand } from '../commands/inject/index.js';
import { type RunRun, runCommand } from '../commands/run/index.js';
import { VERSION } from '../version.js';
import { EXIT_CODE_HELP } from './exit-codes.js';

/** What each command does with its parsed flags (see `CommandRun`); a test replaces some to capture their flags. */
export interface LockstepRuns {
  agent: AgentRun;
  coordinator: CoordinatorRun;
  bootstrap: BootstrapRun;
  run: RunRun;
  discover: DiscoverRun;
  inject: InjectRun;
}

/** The `lockstep` program: one binary, one subcommand per role; `runs` replaces commands' work (tests). */
export function lockstepProgram(env: NodeJS.ProcessEnv = process.env, runs: Partial<LockstepRuns> = {}): Command {
  return new Command('lockstep')
    .description('multi-host inference on Kubernetes that starts and recovers as one unit')
    .version(VERSION, '--version')
    .addHelpText('after', `\n${EXIT_CODE_HELP}`)
    .addCommand(agentCommand(env, runs.agent))
    .addCommand(coordinatorCommand(env, runs.coordinator))
    .addCommand(bootstrapCommand(env, runs.bootstrap))
    .addCommand(runCommand(env, runs.run))
    .addCommand(discoverCommand(env, runs.discover))
    .addCommand(injectCommand(env, runs.inject));
}
