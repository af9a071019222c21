/**
 * `lockstep run -- <command…>`: take the group environment (bootstrap's file, or join now when no bootstrap ran),
 * adapt the command for the engine, expand $(VAR) references, run it with signals forwarded, and report its exit to
 * the coordinator. Exits with the engine's status.
 */
import { CliError, usageError } from '../../src/cli/errors.js';
import type { Logger } from '../../src/log.js';
import { joinAndWrite, plan } from '../bootstrap/main.js';
import { EngineError, selectEngine } from '../engines/index.js';
import { groupView } from '../environment.js';
import { attachSession, type MemberSession } from '../member/client.js';
import { type EnvFile, readEnvFile } from '../member/env-file.js';
import type { JoinFlags, PodFacts } from '../member/join-options.js';
import { EngineProcess, exitStatus, FORWARDED_SIGNALS } from './engine-process.js';
import { expandArgs } from './expand.js';

export interface RunOptions extends JoinFlags {
  engine: string;
  shell: boolean;
  gracePeriod: number;
}

/** The command line to start, from the user's argv: $(VAR) expanded, then the engine's flags for this rank. */
export function buildCommand(
  argv: readonly string[],
  file: EnvFile,
  options: { engine: string; shell: boolean },
  processEnv: NodeJS.ProcessEnv,
): { argv: string[]; env: NodeJS.ProcessEnv; engine: string } {
  const env: NodeJS.ProcessEnv = { ...processEnv, ...file.env };
  const expanded = expandArgs(argv, env);
  const engine = selectEngine(options.engine, options.shell ? [] : expanded);
  let adapted: string[];
  try {
    adapted = engine.adapt(expanded, groupView(file.release), env);
  } catch (err) {
    if (err instanceof EngineError) throw usageError(err.message);
    throw err;
  }
  // with --shell the user's words form one script; the engine's added flags are plain words appended to it
  const final = options.shell ? ['/bin/sh', '-c', adapted.join(' ')] : adapted;
  return { argv: final, env, engine: engine.name };
}

export async function runRun(
  argv: readonly string[],
  options: RunOptions,
  rankFromCli: boolean,
  processEnv: NodeJS.ProcessEnv,
  log: Logger,
  facts?: PodFacts,
): Promise<number> {
  if (argv.length === 0) throw usageError('no command: use lockstep run [options] -- <command> [args…]');
  let file = await readEnvFile(options.envFile).catch((err: unknown) => {
    throw new CliError(1, `cannot read the group environment: ${err instanceof Error ? err.message : String(err)}`);
  });
  let session: MemberSession;
  if (file) {
    log.info({ envFile: options.envFile, rank: file.rank, epoch: file.epoch }, 'using the environment bootstrap wrote');
    session = attachSession(file.coordinator, file.memberId, file.heartbeatIntervalMs ?? 1000, 'ROLE_RUN');
  } else {
    log.info('no environment file: joining the group directly');
    const joined = await joinAndWrite(options, plan(options, rankFromCli, processEnv, facts), 'ROLE_RUN', log);
    session = joined.session;
    file = await readEnvFile(options.envFile);
    if (!file) throw new CliError(1, `the environment file ${options.envFile} vanished after writing it`);
  }
  let command: ReturnType<typeof buildCommand>;
  try {
    command = buildCommand(argv, file, options, processEnv);
  } catch (err) {
    session.close();
    throw err;
  }
  log.info({ engine: command.engine, argv: command.argv, rank: file.rank, epoch: file.epoch }, 'starting the engine');
  session.keep(file.epoch, {
    onDisconnect: (reason) => log.warn({ reason }, 'lost the coordinator; the engine keeps running, re-attaching'),
    // issue 9 (recovery) acts on these: stop the engine, wait for the next epoch's release, start again
    onStop: (stop) => log.warn({ stop }, 'coordinator asked to stop the engine (recovery is not handled yet)'),
    onRelease: (release) =>
      release.epoch !== file.epoch &&
      log.warn({ epoch: release.epoch }, 'a new epoch opened (recovery is not handled yet)'),
  });
  const engine = new EngineProcess(command.argv, command.env, options.gracePeriod);
  const forward = (signal: NodeJS.Signals) => {
    log.info({ signal }, 'forwarding signal to the engine');
    if (signal === 'SIGTERM') void engine.stop();
    else engine.signal(signal);
  };
  for (const s of FORWARDED_SIGNALS) process.on(s, forward);
  try {
    try {
      await engine.start();
    } catch (err) {
      await session.reportEngine(
        {
          state: 'ENGINE_EXITED',
          exitCode: 127,
          signal: '',
          message: err instanceof Error ? err.message : String(err),
        },
        1000,
      );
      throw new CliError(127, err instanceof Error ? err.message : String(err));
    }
    await session.reportEngine({ state: 'ENGINE_RUNNING', exitCode: 0, signal: '', message: '' });
    const exit = await engine.wait();
    const status = exitStatus(exit);
    log.info({ code: exit.code, signal: exit.signal, status }, 'engine exited');
    await session.reportEngine(
      { state: 'ENGINE_EXITED', exitCode: exit.code ?? status, signal: exit.signal ?? '', message: '' },
      1000,
    );
    // the process exits with the engine's status (the CLI turns a CliError into exactly that code)
    if (status !== 0) {
      throw new CliError(
        status,
        exit.signal ? `the engine was killed by ${exit.signal}` : `the engine exited with code ${status}`,
      );
    }
    return 0;
  } finally {
    for (const s of FORWARDED_SIGNALS) process.off(s, forward);
    session.close();
  }
}
