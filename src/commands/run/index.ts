import { Command } from 'commander';
import { flag, logLevelFlag, parseDuration, parsePort, parsePositiveInt } from '../../cli/options.js';
import { addJoinFlags } from '../join-flags.js';

export const ENGINES = ['auto', 'vllm', 'sglang', 'torchrun', 'torch', 'ray', 'jax', 'none'] as const;

export function runCommand(env: NodeJS.ProcessEnv = process.env): Command {
  const command = new Command('run')
    .description('run the engine with the group environment; stop and restart it with the group')
    .argument('<command...>', 'the engine command, after --');
  return addJoinFlags(command, env)
    .addOption(
      flag(
        {
          flags: '--engine <name>',
          description: 'engine whose flags and variables to add',
          default: 'auto',
          choices: ENGINES,
        },
        env,
      ),
    )
    .addOption(flag({ flags: '--shell', description: 'run the command through /bin/sh -c', default: false }, env))
    .addOption(
      flag(
        {
          flags: '--grace-period <duration>',
          description: 'SIGTERM → SIGKILL delay when stopping the engine',
          default: '30s',
          parse: parseDuration,
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--health <check>',
          description:
            'engine health check: http://host:port/path, http:PORT/path, tcp:[HOST:]PORT, exec:COMMAND, auto (vLLM/SGLang /health on rank 0) or none; the process state (stopped, zombie) is always checked',
          default: 'auto',
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--health-period <duration>',
          description: 'how often the engine is checked',
          default: '5s',
          parse: parseDuration,
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--health-failures <n>',
          description: 'failed checks in a row that make the engine unhealthy (it is stopped: a new epoch opens)',
          default: 3,
          parse: parsePositiveInt,
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--health-start-grace <duration>',
          description: 'probe failures do not count this long after the engine starts (or until a probe first passes)',
          default: '10m',
          parse: parseDuration,
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--health-timeout <duration>',
          description: 'how long one probe may take',
          default: '2s',
          parse: parseDuration,
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--no-warm',
          description:
            'start every engine cold (default: a Python engine starts in a standby process prepared ahead that already imported its heavy modules)',
        },
        env,
      ),
    )
    .addOption(flag({ flags: '--cold', description: 'the same as --no-warm' }, env))
    .addOption(
      flag(
        {
          flags: '--warm-import <modules>',
          description:
            'modules the warm standby imports ahead, comma-separated (default per engine: torch, vllm, sglang, jax; none for other Python)',
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--probe-port <port>',
          description:
            "serve the container's liveness/startup probes on this port (/livez, /startupz): alive while the group forms or restarts, the engine's own check (--liveness-probe, --startup-probe) once it runs",
          parse: parsePort,
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--liveness-probe <json>',
          description:
            "the engine's own liveness probe as the pod spec wrote it (JSON: httpGet, tcpSocket or exec, timeoutSeconds), checked by /livez once the engine runs",
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--startup-probe <json>',
          description: "the engine's own startup probe (JSON, as --liveness-probe), checked by /startupz",
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--probe-start-grace <duration>',
          description:
            'after each engine start, failed engine checks answer alive this long (until one passes): the time the original probes gave a fresh container',
          parse: parseDuration,
        },
        env,
      ),
    )
    .addOption(logLevelFlag(env))
    .action(async (argv: string[], opts, cmd: Command) => {
      const [{ runRun }, { createLogger }] = await Promise.all([import('./run.js'), import('../../log.js')]);
      // the engine owns stdout; lockstep's own lines go to stderr
      const log = createLogger({ level: opts.logLevel, to: 'stderr', component: 'run' });
      await runRun(argv, opts, cmd.getOptionValueSource('rank') === 'cli', env, log);
    });
}
