import { type Command, CommanderError } from 'commander';
import { CliError, EXIT_USAGE, handleCliError } from './errors.js';
import { installFlagChecks } from './options.js';

/**
 * What a command does once its flags are parsed and checked: `call` holds them (and whatever else the command line
 * said, such as the engine command of `lockstep run`), `env` is the program's environment. Each command factory takes
 * one, defaulting to the real work, so tests can parse a command line in-process and look at the typed result
 * without running anything (test/support/parse-command.ts), as GitHub's `gh` does with its run functions.
 */
export type CommandRun<Call> = (call: Call, env: NodeJS.ProcessEnv) => Promise<void>;

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const processIo: CliIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
};

/**
 * Runs a commander program and returns the exit code instead of exiting, so the entry points and the tests share
 * one path. Usage errors (unknown flag, bad value, missing argument) become one `error: …` line and exit 2; no verb
 * at all prints the usage on stderr and exits 2 (exit-codes.ts).
 */
export async function runProgram(program: Command, argv: readonly string[], io: CliIo = processIo): Promise<number> {
  configureTree(program, io);
  installFlagChecks(program);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return 0;
      // commander shows the usage with a non-zero code when a verb is missing; `help` itself exits 0
      if (err.code === 'commander.help') return err.exitCode === 0 ? 0 : EXIT_USAGE;
      if (err.code === 'commander.executeSubCommandAsync') return err.exitCode;
      return handleCliError(new CliError(EXIT_USAGE, err.message), io.stderr);
    }
    return handleCliError(err, io.stderr);
  }
}

function configureTree(command: Command, io: CliIo): void {
  command.exitOverride();
  command.configureOutput({
    writeOut: io.stdout,
    // commander's own error text is re-emitted by runProgram as exactly one line
    writeErr: (text) => {
      if (!text.startsWith('error:')) io.stderr(text);
    },
    outputError: () => {},
  });
  command.showSuggestionAfterError(true);
  for (const sub of command.commands) configureTree(sub, io);
}
