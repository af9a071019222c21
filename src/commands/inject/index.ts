import { type Command, InvalidArgumentError } from 'commander';
import { defineFlags, type FlagValues, flag, flaggedCommand } from '../../cli/define-flags.js';
import { byteSizeParser, formatByteSize, parseNonEmpty } from '../../cli/options.js';
import type { CommandRun } from '../../cli/run-program.js';
import { GANG_API_VERSIONS } from '../../inject/gang.js';
import { IMAGE } from '../../version.js';
import { ENGINES } from '../run/index.js';
import { kubeconfigFlag } from '../shared-flags.js';

/** Far above any real manifest; a bigger input is a mistake (or an attack) that would only cost memory and time. */
const DEFAULT_MAX_INPUT_BYTES = 16 * 1024 * 1024;
/** V8 strings hold at most about 512 Mi characters: a larger limit could never be honoured. */
const MAX_INPUT_BYTES_LIMIT = 256 * 1024 * 1024;

/** A Secret's name is a DNS-1123 subdomain; anything else would only fail later, at apply or at pod start. */
function parseSecretName(value: string): string {
  if (value.length > 253 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(value)) {
    throw new InvalidArgumentError('must be a Secret name (lower-case letters, digits, "-" and ".", at most 253)');
  }
  return value;
}

/** A Kubernetes label key: an optional DNS-subdomain prefix and `/`, then a name of at most 63 characters. */
function parseLabelKey(value: string): string {
  const slash = value.lastIndexOf('/');
  const prefix = slash >= 0 ? value.slice(0, slash) : undefined;
  const name = value.slice(slash + 1);
  const nameOk = name.length <= 63 && /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(name);
  const prefixOk =
    prefix === undefined ||
    (prefix.length <= 253 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(prefix));
  if (!nameOk || !prefixOk) {
    throw new InvalidArgumentError(`"${value}" is not a label key (e.g. topology.kubernetes.io/zone)`);
  }
  return value;
}

const injectFlags = defineFlags({
  filename: flag.text({ flags: '-f, --filename <file>', description: 'manifest file, or - for stdin' }),
  image: flag.text({ flags: '--image <ref>', description: 'lockstep image', default: IMAGE, nonEmpty: true }),
  engine: flag.choice({
    flags: '--engine <name>',
    description: 'engine, when it cannot be detected',
    choices: ENGINES,
  }),
  /** `[TARGET=]COMMAND`, repeatable */
  command: flag.parsed<string[]>({
    flags: '--command <[target=]cmd>',
    description:
      'command to wrap in a main container that has none; target: a template (leader, worker, a replicated job, the workload) or container; repeatable',
    parse: (value, previous) => [...(previous ?? []), parseNonEmpty(value)],
  }),
  topologyKey: flag.parsed({
    flags: '--topology-key <label>',
    description:
      "keep each group's pods within one domain of this node label (a network block, a rack), by required pod affinity",
    parse: parseLabelKey,
  }),
  /** bytes */
  maxInputSize: flag.parsed({
    flags: '--max-input-size <size>',
    description: 'refuse larger input (bytes, or with Ki, Mi, Gi)',
    default: formatByteSize(DEFAULT_MAX_INPUT_BYTES),
    parse: byteSizeParser(1, MAX_INPUT_BYTES_LIMIT),
  }),
  keepRestartPolicy: flag.switch({
    flags: '--keep-restart-policy',
    description: 'leave a LeaderWorkerSet’s restartPolicy alone',
    default: false,
  }),
  passThrough: flag.switch({
    flags: '--pass-through',
    description: 'leave objects that run pods but are no kind inject handles unchanged, instead of refusing',
    default: false,
  }),
  tlsSecret: flag.parsed({
    flags: '--tls-secret <name>',
    description:
      'serve the coordinator with TLS from this kubernetes.io/tls Secret (tls.crt, tls.key, ca.crt); members verify it',
    parse: parseSecretName,
  }),
  /** true: --gang, false: --no-gang, undefined: gang where the cluster serves PodGroups (discovery) */
  gang: flag.switch({
    flags: '--gang',
    description:
      'give each StatefulSet, indexed Job and one-replica LeaderWorkerSet group a PodGroup with gang minCount = group size, so it is scheduled whole or not at all (default: when the cluster serves scheduling.k8s.io PodGroups, asked through --kubeconfig)',
    negation: 'no PodGroups, whatever the cluster serves',
  }),
  /** `true` when given without a value */
  gpuClaims: flag.custom<'gpus' | 'nic' | true | undefined>({
    flags: '--gpu-claims [with]',
    description:
      'turn nvidia.com/gpu: N limits into a ResourceClaimTemplate of N lockstep GPUs (DRA allocation and topology); --gpu-claims=nic gives each GPU a NIC on its PCIe root',
    choices: ['gpus', 'nic'],
  }),
  /** scheduling.k8s.io version to write without asking the cluster */
  gangApiVersion: flag.choice({
    flags: '--gang-api-version <version>',
    description:
      'write gangs for this scheduling.k8s.io version without asking the cluster: v1alpha1 (Kubernetes 1.35: Workload + spec.workloadRef), v1alpha2 (1.36), v1beta1 (1.37)',
    choices: GANG_API_VERSIONS,
  }),
  kubeconfig: kubeconfigFlag,
  explain: flag.switch({ flags: '--explain', description: 'print every change made, on stderr', default: false }),
  logLevel: flag.logLevel('warn'),
});

/** The parsed flags of `lockstep inject`. */
export type InjectFlags = FlagValues<typeof injectFlags>;

/** What `lockstep inject` does with its flags: rewrite the manifest, unless a test passes its own. */
export type InjectRun = CommandRun<{ flags: InjectFlags }>;

const injectManifest: InjectRun = async ({ flags }) => {
  // loaded on use, like every command: the other roles' start-up never parses the YAML machinery
  const { runInject } = await import('./run.js');
  await runInject(flags);
};

export function injectCommand(env: NodeJS.ProcessEnv, run: InjectRun = injectManifest): Command {
  const description = 'rewrite LeaderWorkerSet / StatefulSet / JobSet / indexed Job manifests to run under lockstep';
  return flaggedCommand('inject', description, injectFlags, env).action((flags: InjectFlags) => run({ flags }, env));
}
