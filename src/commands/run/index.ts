import type { Command } from 'commander';
import { HEALTH_DEFAULTS } from '../../../leader/run/health.js';
import { defineFlags, type FlagValues, flag, flaggedCommand } from '../../cli/define-flags.js';
import type { CommandRun } from '../../cli/run-program.js';
import { formatDuration } from '../../text/duration.js';
import { joinFlags } from '../join-flags.js';

export const ENGINES = ['auto', 'vllm', 'sglang', 'torchrun', 'torch', 'ray', 'jax', 'none'] as const;

const runFlags = defineFlags({
  ...joinFlags,
  engine: flag.choice({
    flags: '--engine <name>',
    description: 'engine whose flags and variables to add',
    choices: ENGINES,
    default: 'auto',
  }),
  shell: flag.switch({ flags: '--shell', description: 'run the command through /bin/sh -c', default: false }),
  gracePeriod: flag.duration({
    flags: '--grace-period <duration>',
    description: 'SIGTERM → SIGKILL delay when stopping the engine',
    default: '30s',
  }),
  health: flag.text({
    flags: '--health <check>',
    description:
      'engine health check: http://host:port/path, http:PORT/path, tcp:[HOST:]PORT, exec:COMMAND, auto (vLLM/SGLang /health on rank 0) or none; the process state (stopped, zombie) is always checked',
    default: 'auto',
  }),
  healthPeriod: flag.duration({
    flags: '--health-period <duration>',
    description: 'how often the engine is checked',
    default: formatDuration(HEALTH_DEFAULTS.periodMs),
  }),
  healthFailures: flag.int({
    flags: '--health-failures <n>',
    description: 'failed checks in a row that make the engine unhealthy (it is stopped: a new epoch opens)',
    default: HEALTH_DEFAULTS.failureThreshold,
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
    what: 'a positive integer',
  }),
  healthStartGrace: flag.duration({
    flags: '--health-start-grace <duration>',
    description: 'probe failures do not count this long after the engine starts (or until a probe first passes)',
    default: formatDuration(HEALTH_DEFAULTS.startGraceMs),
  }),
  healthTimeout: flag.duration({
    flags: '--health-timeout <duration>',
    description: 'how long one probe may take',
    default: formatDuration(HEALTH_DEFAULTS.timeoutMs),
  }),
  warm: flag.switch({
    flags: '--no-warm',
    description:
      'start every engine cold (default: a Python engine starts in a standby process prepared ahead that already imported its heavy modules)',
  }),
  cold: flag.switch({ flags: '--cold', description: 'the same as --no-warm' }),
  warmImport: flag.text({
    flags: '--warm-import <modules>',
    description:
      'modules the warm standby imports ahead, comma-separated (default per engine: torch, vllm, sglang, jax; none for other Python)',
  }),
  probePort: flag.int({
    flags: '--probe-port <port>',
    description:
      "serve the container's liveness/startup probes on this port (/livez, /startupz): alive while the group forms or restarts, the engine's own check (--liveness-probe, --startup-probe) once it runs",
    min: 1,
    max: 65_535,
    what: 'a TCP port',
  }),
  livenessProbe: flag.text({
    flags: '--liveness-probe <json>',
    description:
      "the engine's own liveness probe as the pod spec wrote it (JSON: httpGet, tcpSocket or exec, timeoutSeconds), checked by /livez once the engine runs",
  }),
  startupProbe: flag.text({
    flags: '--startup-probe <json>',
    description: "the engine's own startup probe (JSON, as --liveness-probe), checked by /startupz",
  }),
  probeStartGrace: flag.duration({
    flags: '--probe-start-grace <duration>',
    description:
      'after each engine start, failed engine checks answer alive this long (until one passes): the time the original probes gave a fresh container',
    default: '0s',
    minMs: 0,
  }),
  logLevel: flag.logLevel(),
});

/** The parsed flags of `lockstep run`. */
export type RunFlags = FlagValues<typeof runFlags>;

/**
 * What `lockstep run` does: run `command` (the words after `--`) with the group, unless a test passes its own.
 * `rankFromCli`: --rank was given on the command line.
 */
export type RunRun = CommandRun<{ flags: RunFlags; command: string[]; rankFromCli: boolean }>;

const runEngineProcess: RunRun = async ({ flags, command, rankFromCli }, env) => {
  const [{ startStandby }, { createLogger }] = await Promise.all([import('./standby.js'), import('../../log.js')]);
  // the engine owns stdout; lockstep's own lines go to stderr
  const log = createLogger({ level: flags.logLevel, to: 'stderr', component: 'run' });
  // the standby's imports start before the group protocol's modules load (standby.ts)
  const warm = await startStandby(command, flags, env, log);
  try {
    const { runRun } = await import('./run.js');
    await runRun(command, flags, rankFromCli, env, log, warm);
  } finally {
    warm?.close();
  }
};

export function runCommand(env: NodeJS.ProcessEnv, run: RunRun = runEngineProcess): Command {
  const description = 'run the engine with the group environment; stop and restart it with the group';
  return flaggedCommand('run', description, runFlags, env)
    .argument('<command...>', 'the engine command, after --')
    .action((argv: string[], flags: RunFlags, cmd: Command) =>
      run({ flags, command: argv, rankFromCli: cmd.getOptionValueSource('rank') === 'cli' }, env),
    );
}
