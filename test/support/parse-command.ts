/**
 * Parses a `lockstep` command line in-process, as the real entry point does (src/cli/lockstep.ts: the same program,
 * the same runProgram, exit codes and `error:` lines), but with every command's work replaced by a capture: what comes
 * back is the typed call the command would have run with (its flags, and for `run` the engine command), or the exit
 * code and output of a usage error, of --help or --version. Flag-wiring tests use this instead of spawning the bundle.
 */
import { type LockstepRuns, lockstepProgram } from '../../src/cli/lockstep-program.js';
import { runProgram } from '../../src/cli/run-program.js';

type CommandName = keyof LockstepRuns;
type CallOf<N extends CommandName> = Parameters<LockstepRuns[N]>[0];

export interface Parsed {
  /** the exit code runProgram returned: 0 when a command would have run (or for --help, --version) */
  status: number;
  stdout: string;
  stderr: string;
  /** the command that would have run, and its call; undefined when parsing stopped */
  ran?: { command: CommandName; call: CallOf<CommandName> };
}

const COMMANDS: readonly CommandName[] = ['agent', 'coordinator', 'bootstrap', 'run', 'discover', 'inject'];

/**
 * `lockstep <argv…>` with exactly `env` as the environment: commander reads the LOCKSTEP_ twins from process.env, so
 * it is swapped for `env` while the line is parsed (the real program gets process.env itself).
 */
export async function parseLockstep(argv: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<Parsed> {
  let ran: Parsed['ran'];
  const runs = Object.fromEntries(
    COMMANDS.map((command) => [
      command,
      async (call: CallOf<CommandName>) => {
        ran = { command, call };
      },
    ]),
  ) as unknown as LockstepRuns;
  let stdout = '';
  let stderr = '';
  const io = {
    stdout: (text: string) => {
      stdout += text;
    },
    stderr: (text: string) => {
      stderr += text;
    },
  };
  const saved = process.env;
  process.env = { ...env };
  try {
    const status = await runProgram(lockstepProgram(process.env, runs), argv, io);
    return { status, stdout, stderr, ran };
  } finally {
    process.env = saved;
  }
}

/** The call `lockstep <command> <argv…>` would run; fails the test with the usage error when there is one. */
export async function callOf<N extends CommandName>(
  command: N,
  argv: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<CallOf<N>> {
  const parsed = await parseLockstep([command, ...argv], env);
  if (parsed.status !== 0 || parsed.ran?.command !== command) {
    throw new Error(`lockstep ${command} ${argv.join(' ')}: exit ${parsed.status}: ${parsed.stderr}`);
  }
  return parsed.ran.call as CallOf<N>;
}

/** The flags `lockstep <command> <argv…>` would run with. */
export async function flagsOf<N extends CommandName>(
  command: N,
  argv: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<CallOf<N>['flags']> {
  return (await callOf(command, argv, env)).flags;
}
