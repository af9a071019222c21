import type { Command } from 'commander';
import { defineFlags, type FlagValues, flag, flaggedCommand } from '../../cli/define-flags.js';
import { usageError } from '../../cli/errors.js';
import { parseListenAddress } from '../../cli/options.js';
import type { CommandRun } from '../../cli/run-program.js';
import { COORDINATOR_PORT, TOKEN_AUDIENCE } from '../../contract/names.js';
import { groupSizeFlag, RANK_RANGE } from '../join-flags.js';
import { kubeconfigFlag, namespaceFlag, podNameFlag } from '../shared-flags.js';

/** More restarts than this per window is a runaway loop, not a budget. */
const MAX_RESTART_BUDGET = 1_000_000;

/** The rendezvous port torch.distributed uses by default; vLLM and SGLang take it from the group environment. */
const MASTER_PORT = 29_500;

const coordinatorFlags = defineFlags({
  group: flag.text({
    flags: '--group <name>',
    description: 'group name (default: from the pod’s LWS or StatefulSet labels)',
  }),
  groupSize: groupSizeFlag('expected members, leader included'),
  namespace: namespaceFlag,
  podName: podNameFlag,
  onlyRank: flag.int({
    flags: '--only-rank <n>',
    description:
      'coordinate only in the pod of this rank ($LOCKSTEP_RANK, $LWS_WORKER_INDEX, $JOB_COMPLETION_INDEX or the pod ordinal) and idle in the others (one template for every pod: StatefulSet, Job)',
    ...RANK_RANGE,
  }),
  listen: flag.parsed({
    flags: '--listen <addr>',
    description: 'gRPC listen address (port 0: any free port)',
    default: `0.0.0.0:${COORDINATOR_PORT}`,
    parse: parseListenAddress,
  }),
  metricsAddress: flag.parsed({
    flags: '--metrics-address <addr>',
    description: 'serve the group goodput metrics (Prometheus text) on GET /metrics at this [host]:port (default: off)',
    parse: parseListenAddress,
  }),
  masterPort: flag.int({
    flags: '--master-port <port>',
    description: 'rendezvous port on rank 0 given to torch.distributed, vLLM and SGLang',
    default: MASTER_PORT,
    min: 1,
    max: 65_535,
    what: 'a TCP port',
  }),
  kubeconfig: kubeconfigFlag,
  heartbeatTimeout: flag.duration({
    flags: '--heartbeat-timeout <duration>',
    description: 'a member silent this long is lost',
    default: '2s',
  }),
  runAttachTimeout: flag.duration({
    flags: '--run-attach-timeout <duration>',
    description:
      'a released member whose `lockstep run` has not attached this long is lost: its engine container did not start (image pull, a failing command); 0s = wait for ever',
    default: '10m',
    minMs: 0,
  }),
  recovery: flag.choice({
    flags: '--recovery <policy>',
    description: 'what a lost member triggers',
    choices: ['InPlace', 'RecreateGroup'],
    default: 'InPlace',
  }),
  restartBudget: flag.int({
    flags: '--restart-budget <n>',
    description: 'group restarts allowed per window before Failed',
    default: 5,
    min: 0,
    max: MAX_RESTART_BUDGET,
    what: 'a restart count',
  }),
  restartWindow: flag.duration({
    flags: '--restart-window <duration>',
    description: 'window of the restart budget',
    default: '10m',
  }),
  backoffInitial: flag.duration({
    flags: '--backoff-initial <duration>',
    description: 'first delay between group restarts',
    default: '1s',
  }),
  backoffMax: flag.duration({
    flags: '--backoff-max <duration>',
    description: 'longest delay between group restarts',
    default: '1m',
  }),
  tokenAudience: flag.text({
    flags: '--token-audience <aud>',
    description: 'audience members’ tokens must carry',
    default: TOKEN_AUDIENCE,
  }),
  authenticate: flag.choice({
    flags: '--authenticate <mode>',
    description: 'how members are checked when there is an API: token-review (TokenReview + group labels) or none',
    choices: ['token-review', 'none'],
    default: 'token-review',
  }),
  tlsCert: flag.text({ flags: '--tls-cert <file>', description: 'serve TLS with this certificate' }),
  tlsKey: flag.text({ flags: '--tls-key <file>', description: 'key of --tls-cert' }),
  logLevel: flag.logLevel(),
});

/** The parsed flags of `lockstep coordinator`. */
export type CoordinatorFlags = FlagValues<typeof coordinatorFlags>;

/** What `lockstep coordinator` does with its checked flags: coordinate, unless a test passes its own. */
export type CoordinatorRun = CommandRun<{ flags: CoordinatorFlags }>;

const runCoordinatorProcess: CoordinatorRun = async ({ flags }, env) => {
  const [{ runCoordinator }, { createLogger }] = await Promise.all([import('./run.js'), import('../../log.js')]);
  const log = createLogger({ level: flags.logLevel, to: 'stdout', component: 'coordinator' });
  await runCoordinator(flags, env, log);
};

export function coordinatorCommand(env: NodeJS.ProcessEnv, run: CoordinatorRun = runCoordinatorProcess): Command {
  const description =
    'group coordinator (native sidecar in the leader pod): admits members, holds the start barrier, runs epochs';
  return flaggedCommand('coordinator', description, coordinatorFlags, env).action(async (flags: CoordinatorFlags) => {
    if (flags.backoffMax < flags.backoffInitial) {
      throw usageError('--backoff-max must not be shorter than --backoff-initial');
    }
    await run({ flags }, env);
  });
}
