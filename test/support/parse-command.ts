/**
 * Parses a `lockstep` or `kubectl lockstep` command line in-process, as the real entry points do
 * (src/cli/lockstep.ts, src/cli/kubectl-lockstep.ts: the same program, the same runProgram, exit codes and `error:`
 * lines), but with every command's work replaced by a capture: what comes back is the typed call the command would
 * have run with (its flags, and for `run` the engine command, for a plugin verb its argument), or the exit code and
 * output of a usage error, of --help or --version. Flag-wiring tests use this instead of spawning the bundle.
 */
import type { Command } from 'commander';
import { expect } from 'vitest';
import { type LockstepRuns, lockstepProgram } from '../../src/cli/lockstep-program.js';
import { runProgram } from '../../src/cli/run-program.js';
import { kubectlProgram, type VerbRun } from '../../src/kubectl/program.js';

type CommandName = keyof LockstepRuns;
type CallOf<N extends CommandName> = Parameters<LockstepRuns[N]>[0];

/** What a program printed and returned for one command line. */
interface Printed {
  /** the exit code runProgram returned: 0 when a command would have run (or for --help, --version) */
  status: number;
  stdout: string;
  stderr: string;
}

export interface Parsed extends Printed {
  /** the command that would have run, and its call; undefined when parsing stopped */
  ran?: { command: CommandName; call: CallOf<CommandName> };
}

const COMMANDS: readonly CommandName[] = ['agent', 'coordinator', 'bootstrap', 'run', 'discover', 'inject'];

/**
 * Runs `program` on `argv` with exactly `env` as the environment: commander reads the LOCKSTEP_ twins from
 * process.env, so it is swapped for `env` while the line is parsed (the real program gets process.env itself).
 */
async function runWithEnv(
  build: (env: NodeJS.ProcessEnv) => Command,
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): Promise<Printed> {
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
    const status = await runProgram(build(process.env), argv, io);
    return { status, stdout, stderr };
  } finally {
    process.env = saved;
  }
}

/** `lockstep <argv…>` with exactly `env` as the environment. */
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
  const printed = await runWithEnv((programEnv) => lockstepProgram(programEnv, runs), argv, env);
  return { ...printed, ran };
}

/** The call a `kubectl lockstep` verb would run with: the verb, its argument, the merged flags. */
export type VerbCall = Parameters<VerbRun>[0];

/** `kubectl lockstep <argv…>` with exactly `env` as the environment; `ran` is the verb's call, if one would run. */
export async function parseKubectl(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<Printed & { ran?: VerbCall }> {
  let ran: VerbCall | undefined;
  const capture: VerbRun = async (call) => {
    ran = call;
  };
  const printed = await runWithEnv((programEnv) => kubectlProgram(programEnv, {}, capture), argv, env);
  return { ...printed, ran };
}

/** The call `kubectl lockstep <argv…>` would run; fails the test with the usage error when there is one. */
export async function verbCallOf(argv: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<VerbCall> {
  const parsed = await parseKubectl(argv, env);
  if (parsed.status !== 0 || !parsed.ran) {
    throw new Error(`kubectl lockstep ${argv.join(' ')}: exit ${parsed.status}: ${parsed.stderr}`);
  }
  return parsed.ran;
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

/** A usage error as every command gives it: exit 2, nothing run, exactly one `error:` line, matching `message`. */
export function expectUsageError(parsed: Printed & { ran?: unknown }, message: RegExp): void {
  expect(parsed.status).toBe(2);
  expect(parsed.ran).toBeUndefined();
  expect(parsed.stderr).toMatch(/^error: /);
  expect(parsed.stderr.trim().split('\n')).toHaveLength(1);
  expect(parsed.stderr).toMatch(message);
}
