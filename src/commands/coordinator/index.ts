import { Command } from 'commander';
import { usageError } from '../../cli/errors.js';
import {
  flag,
  intParser,
  logLevelFlag,
  parseDuration,
  parseGroupSize,
  parseListenAddress,
  parsePort,
  parseRank,
} from '../../cli/options.js';
import { kubeconfigFlag, namespaceFlag, podNameFlag } from '../shared-flags.js';

/** More restarts than this per window is a runaway loop, not a budget. */
const MAX_RESTART_BUDGET = 1_000_000;

export function coordinatorCommand(env: NodeJS.ProcessEnv = process.env): Command {
  return new Command('coordinator')
    .description(
      'group coordinator (native sidecar in the leader pod): admits members, holds the start barrier, runs epochs',
    )
    .addOption(
      flag(
        { flags: '--group <name>', description: 'group name (default: from the pod’s LWS or StatefulSet labels)' },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--group-size <n>',
          description: 'expected members, leader included',
          alsoEnv: ['LWS_GROUP_SIZE'],
          parse: parseGroupSize,
        },
        env,
      ),
    )
    .addOption(namespaceFlag(env))
    .addOption(podNameFlag(env))
    .addOption(
      flag(
        {
          flags: '--only-rank <n>',
          description:
            'coordinate only in the pod of this rank ($LOCKSTEP_RANK, $LWS_WORKER_INDEX, $JOB_COMPLETION_INDEX or the pod ordinal) and idle in the others (one template for every pod: StatefulSet, Job)',
          parse: parseRank,
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--listen <addr>',
          description: 'gRPC listen address (port 0: any free port)',
          default: '0.0.0.0:7470',
          parse: parseListenAddress,
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--metrics-address <addr>',
          description:
            'serve the group goodput metrics (Prometheus text) on GET /metrics at this [host]:port (default: off)',
          parse: parseListenAddress,
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--master-port <port>',
          description: 'rendezvous port on rank 0 given to torch.distributed, vLLM and SGLang',
          default: 29500,
          parse: parsePort,
        },
        env,
      ),
    )
    .addOption(kubeconfigFlag(env))
    .addOption(
      flag(
        {
          flags: '--heartbeat-timeout <duration>',
          description: 'a member silent this long is lost',
          default: '2s',
          parse: parseDuration,
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--recovery <policy>',
          description: 'what a lost member triggers',
          default: 'InPlace',
          choices: ['InPlace', 'RecreateGroup'],
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--restart-budget <n>',
          description: 'group restarts allowed per window before Failed',
          default: 5,
          parse: intParser(0, MAX_RESTART_BUDGET, 'a restart count'),
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--restart-window <duration>',
          description: 'window of the restart budget',
          default: '10m',
          parse: parseDuration,
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--backoff-initial <duration>',
          description: 'first delay between group restarts',
          default: '1s',
          parse: parseDuration,
        },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--backoff-max <duration>',
          description: 'longest delay between group restarts',
          default: '1m',
          parse: parseDuration,
        },
        env,
      ),
    )
    .addOption(
      flag(
        { flags: '--token-audience <aud>', description: 'audience members’ tokens must carry', default: 'lockstep' },
        env,
      ),
    )
    .addOption(
      flag(
        {
          flags: '--authenticate <mode>',
          description:
            'how members are checked when there is an API: token-review (TokenReview + group labels) or none',
          default: 'token-review',
          choices: ['token-review', 'none'],
        },
        env,
      ),
    )
    .addOption(flag({ flags: '--tls-cert <file>', description: 'serve TLS with this certificate' }, env))
    .addOption(flag({ flags: '--tls-key <file>', description: 'key of --tls-cert' }, env))
    .addOption(logLevelFlag(env))
    .action(async (opts) => {
      if (opts.backoffMax < opts.backoffInitial) {
        throw usageError('--backoff-max must not be shorter than --backoff-initial');
      }
      const [{ runCoordinator }, { createLogger }] = await Promise.all([import('./run.js'), import('../../log.js')]);
      const log = createLogger({ level: opts.logLevel, to: 'stdout', component: 'coordinator' });
      await runCoordinator(opts, env, log);
    });
}
