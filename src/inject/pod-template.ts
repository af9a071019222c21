import { CONDITION_GROUP_READY, ENGINE_ENV_NAMES, LABEL_GROUP } from '../contract/names.js';
import {
  API_TOKEN_EXPIRATION_SECONDS,
  BOOTSTRAP_CONTAINER,
  COORDINATOR_CONTAINER,
  COORDINATOR_PORT,
  COORDINATOR_PORT_NAME,
  DOWNWARD_ENV,
  LOCKSTEP_BIN,
  MOUNTS,
  ROOT_CA_CONFIGMAP,
  TLS_CA_ENV,
  TOKEN_AUDIENCE,
  TOKEN_EXPIRATION_SECONDS,
  TOKEN_PATH,
} from './constants.js';
import { detectEngine } from './engine.js';
import {
  arrayAt,
  childArray,
  childObject,
  deepEqual,
  isObject,
  type Json,
  type JsonObject,
  objectAt,
  stringArray,
  stringAt,
} from './json.js';
import { type CommandChoice, InjectError, type InjectOptions, type InjectReport } from './options.js';
import { rewireProbes } from './probes.js';

/** How one pod template takes part in its group; the workload modules work it out from the object's kind. */
export interface TemplatePlan {
  /** where the template sits, for messages: `LeaderWorkerSet/vllm spec.leaderWorkerTemplate.leaderTemplate` */
  where: string;
  /** value of the lockstep.dev/group label */
  groupLabel: string;
  /** never: not on this template; always: every pod of it is a leader; rank0: only the pod whose rank is 0 */
  coordinator: 'never' | 'always' | 'rank0';
  /** arguments both lockstep containers need that the workload does not provide as env (LWS does) */
  coordinatorArgs: readonly string[];
  bootstrapArgs: readonly string[];
  /** extra env for the lockstep containers (rank and indexes from the downward API) */
  env: readonly JsonObject[];
  /**
   * Pod labels whose value differs per group instance though the template is shared (LWS group-key, JobSet job-key):
   * `--topology-key` selects a group's pods by the group label and these (matchLabelKeys)
   */
  instanceLabelKeys?: readonly string[];
  /** names `--command NAME=…` picks this template by (leader, worker, a replicated job, the workload); its container's name also does */
  targets?: readonly string[];
}

const SECURITY_CONTEXT: JsonObject = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
  capabilities: { drop: ['ALL'] },
};

export function downwardEnv(): JsonObject[] {
  return Object.values(DOWNWARD_ENV).map((e) => ({
    name: e.name,
    valueFrom: { fieldRef: { fieldPath: e.fieldPath } },
  }));
}

/** TLS wiring of a template: the Secret the coordinator serves with; undefined for plaintext. */
export interface TemplateTls {
  secret: string;
}

export function coordinatorContainer(image: string, plan: TemplatePlan, tls?: TemplateTls): JsonObject {
  const args = [
    'coordinator',
    ...plan.coordinatorArgs,
    ...(plan.coordinator === 'rank0' ? ['--only-rank=0'] : []),
    ...(tls ? [`--tls-cert=${MOUNTS.tls.mountPath}/tls.crt`, `--tls-key=${MOUNTS.tls.mountPath}/tls.key`] : []),
  ];
  return {
    name: COORDINATOR_CONTAINER,
    image,
    // A native sidecar: it starts before bootstrap (which joins it) and runs beside the engine for the pod's life.
    restartPolicy: 'Always',
    args,
    env: [...downwardEnv(), ...plan.env],
    ports: [{ name: COORDINATOR_PORT_NAME, containerPort: COORDINATOR_PORT, protocol: 'TCP' }],
    resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
    securityContext: SECURITY_CONTEXT,
    // the only container with API credentials (the pod's automatic token is off)
    volumeMounts: [{ ...MOUNTS.apiAccess }, ...(tls ? [{ ...MOUNTS.tls }] : [])],
  };
}

export function bootstrapContainer(image: string, plan: TemplatePlan, tls?: TemplateTls): JsonObject {
  return {
    name: BOOTSTRAP_CONTAINER,
    image,
    args: ['bootstrap', ...plan.bootstrapArgs],
    env: [...downwardEnv(), ...plan.env, ...(tls ? [tlsCaEnv()] : [])],
    resources: { requests: { cpu: '10m', memory: '32Mi' }, limits: { memory: '256Mi' } },
    securityContext: SECURITY_CONTEXT,
    volumeMounts: [...runAndTokenMounts(), ...(tls ? [tlsCaMount()] : [])],
  };
}

/** Members (bootstrap, run) verify the coordinator with the Secret's CA (`--tls-ca`, through its env twin). */
function tlsCaEnv(): JsonObject {
  return { name: TLS_CA_ENV, value: `${MOUNTS.tlsCa.mountPath}/ca.crt` };
}

function tlsCaMount(): JsonObject {
  return { ...MOUNTS.tlsCa };
}

/** The Secret with the coordinator's certificate and key, for the coordinator sidecar only. */
function tlsVolume(secret: string): JsonObject {
  return {
    name: MOUNTS.tls.name,
    secret: {
      secretName: secret,
      items: [
        { key: 'tls.crt', path: 'tls.crt' },
        { key: 'tls.key', path: 'tls.key' },
      ],
    },
  };
}

/** Only the CA of that Secret, for members: the engine container never sees the coordinator's key. */
function tlsCaVolume(secret: string): JsonObject {
  return {
    name: MOUNTS.tlsCa.name,
    projected: { sources: [{ secret: { name: secret, items: [{ key: 'ca.crt', path: 'ca.crt' }] } }] },
  };
}

/**
 * The coordinator's API credentials, shaped like the kubelet's own `kube-api-access-*` volume so the in-cluster
 * client finds token, CA and namespace where it looks; the token has the API server's default audience.
 */
export function apiAccessVolume(): JsonObject {
  return {
    name: MOUNTS.apiAccess.name,
    projected: {
      sources: [
        { serviceAccountToken: { expirationSeconds: API_TOKEN_EXPIRATION_SECONDS, path: 'token' } },
        { configMap: { name: ROOT_CA_CONFIGMAP, items: [{ key: 'ca.crt', path: 'ca.crt' }] } },
        {
          downwardAPI: {
            items: [{ path: 'namespace', fieldRef: { apiVersion: 'v1', fieldPath: 'metadata.namespace' } }],
          },
        },
      ],
    },
  };
}

export function runAndTokenMounts(): JsonObject[] {
  return [{ ...MOUNTS.run }, { ...MOUNTS.token }];
}

export function runVolume(): JsonObject {
  return { name: MOUNTS.run.name, emptyDir: {} };
}

export function tokenVolume(): JsonObject {
  return {
    name: MOUNTS.token.name,
    projected: {
      sources: [
        {
          serviceAccountToken: {
            audience: TOKEN_AUDIENCE,
            expirationSeconds: TOKEN_EXPIRATION_SECONDS,
            path: TOKEN_PATH,
          },
        },
      ],
    },
  };
}

/** Did lockstep write this init container? Same name and the same lockstep subcommand. */
function isOurs(container: JsonObject, name: string, subcommand: string): boolean {
  if (stringAt(container, 'name') !== name) return false;
  const argv = [...(stringArray(container.command) ?? []), ...(stringArray(container.args) ?? [])];
  const at = argv.indexOf(subcommand);
  return at === 0 || (at === 1 && /(^|\/)lockstep$/.test(argv[0] ?? ''));
}

function containerName(c: Json): string | undefined {
  return isObject(c) ? stringAt(c, 'name') : undefined;
}

/**
 * Rewrites one pod template in place so its pods join a lockstep group. Everything lockstep writes is recognised on
 * a second pass and left as it is, which makes injection idempotent.
 */
export function injectPodTemplate(
  template: JsonObject,
  plan: TemplatePlan,
  options: InjectOptions,
  report: InjectReport,
): void {
  const at = plan.where;
  const spec = objectAt(template, 'spec');
  const containers = arrayAt(spec, 'containers');
  if (!spec || !containers || containers.length === 0) {
    throw new InjectError(`${at}: the pod template has no containers`);
  }
  const change = (what: string) => report.changes.push(`${at}: ${what}`);

  // Labels the coordinator selects its group's pods with.
  const metadata = childObject(template, 'metadata', ['spec']);
  const labels = childObject(metadata, 'labels');
  if (labels[LABEL_GROUP] !== plan.groupLabel) {
    labels[LABEL_GROUP] = plan.groupLabel;
    change(`label ${LABEL_GROUP}=${plan.groupLabel} (the coordinator finds the group's pods by it)`);
  }

  const tls = templateTls(spec, options, at);
  ensureNoAutomountedToken(spec, at, report, change);
  ensureVolumes(spec, plan, tls, at, change);
  ensureInitContainers(spec, plan, options, tls, at, change);
  const main = mainContainer(containers, template, at);
  wrapCommand(main, plan, options, report, at, change);
  rewireProbes(main, at, report, change);
  ensureMainEnvAndMounts(main, tls, at, change);
  reportOwnGroupVariables(main, plan, at, report);

  if (options.topologyKey) ensureTopology(spec, plan, options.topologyKey, change);

  const gates = childArray(spec, 'readinessGates');
  if (!gates.some((g) => isObject(g) && g.conditionType === CONDITION_GROUP_READY)) {
    gates.push({ conditionType: CONDITION_GROUP_READY });
    change(`readiness gate ${CONDITION_GROUP_READY} (a pod is Ready only while its whole group runs)`);
  }
}

/** `--tls-secret`, or the Secret an earlier injection wired (so injecting again keeps TLS on). */
function templateTls(spec: JsonObject, options: InjectOptions, at: string): TemplateTls | undefined {
  const existing = (arrayAt(spec, 'volumes') ?? []).find((v) => containerName(v) === MOUNTS.tls.name);
  const existingSecret = isObject(existing) ? stringAt(objectAt(existing, 'secret'), 'secretName') : undefined;
  if (existing !== undefined && existingSecret === undefined) {
    throw new InjectError(`${at}: volume ${MOUNTS.tls.name} already exists and is not a Secret volume; rename it`);
  }
  const secret = options.tlsSecret ?? existingSecret;
  return secret === undefined ? undefined : { secret };
}

/**
 * The pod's automatic API token would sit in every container, the engine's included, carrying every grant of the
 * group's service account (delete and patch pods, TokenReviews): it is switched off, and the coordinator gets its
 * own projected token. A template that asks for it explicitly keeps it, with a warning, since its engine then needs
 * the API itself.
 */
function ensureNoAutomountedToken(
  spec: JsonObject,
  at: string,
  report: InjectReport,
  change: (what: string) => void,
): void {
  if (spec.automountServiceAccountToken === false) return;
  if (spec.automountServiceAccountToken === true) {
    report.warnings.push(
      `${at}: automountServiceAccountToken is true: every container, the engine's included, holds the service account's token and with it the coordinator's grants (delete and patch the group's pods); run the engine's own API access under another service account, or remove the field`,
    );
    return;
  }
  spec.automountServiceAccountToken = false;
  change('automountServiceAccountToken: false (the engine gets no API token; only the coordinator sidecar mounts one)');
}

/**
 * `--topology-key`: a required pod affinity that keeps one group instance's pods in one domain of the node label (a
 * network block, a rack): pods with this group label, and the same instance label values as this pod (matchLabelKeys,
 * GA since Kubernetes 1.33), are in the domain. The first pod of an instance goes anywhere the key exists: the
 * scheduler lets a pod that matches its own term start the domain.
 */
function ensureTopology(spec: JsonObject, plan: TemplatePlan, key: string, change: (what: string) => void): void {
  const terms = childArray(
    childObject(childObject(spec, 'affinity'), 'podAffinity'),
    'requiredDuringSchedulingIgnoredDuringExecution',
  );
  const term: JsonObject = {
    labelSelector: { matchLabels: { [LABEL_GROUP]: plan.groupLabel } },
    ...(plan.instanceLabelKeys?.length ? { matchLabelKeys: [...plan.instanceLabelKeys] } : {}),
    topologyKey: key,
  };
  if (terms.some((t) => deepEqual(t, term))) return;
  terms.push(term);
  change(
    `required pod affinity: a group's pods share one ${key} domain (${LABEL_GROUP}=${plan.groupLabel}${plan.instanceLabelKeys?.length ? ` and the same ${plan.instanceLabelKeys.join(', ')}` : ''})`,
  );
}

function ensureVolumes(
  spec: JsonObject,
  plan: TemplatePlan,
  tls: TemplateTls | undefined,
  at: string,
  change: (what: string) => void,
): void {
  const volumes = childArray(spec, 'volumes');
  const run = volumes.find((v) => containerName(v) === MOUNTS.run.name);
  if (run === undefined) {
    volumes.push(runVolume());
    change(`volume ${MOUNTS.run.name} (emptyDir: the group environment file, shared by bootstrap and the engine)`);
  } else if (!isObject(run) || !isObject(run.emptyDir)) {
    throw new InjectError(`${at}: volume ${MOUNTS.run.name} already exists and is not an emptyDir; rename it`);
  }
  const token = volumes.find((v) => containerName(v) === MOUNTS.token.name);
  if (token === undefined) {
    volumes.push(tokenVolume());
    change(
      `volume ${MOUNTS.token.name} (projected service-account token, audience ${TOKEN_AUDIENCE}: members prove who they are to the coordinator)`,
    );
  } else {
    const sources = arrayAt(objectAt(isObject(token) ? token : undefined, 'projected'), 'sources') ?? [];
    const hasOurs = sources.some(
      (s) => isObject(s) && stringAt(objectAt(s, 'serviceAccountToken'), 'audience') === TOKEN_AUDIENCE,
    );
    if (!hasOurs) {
      throw new InjectError(
        `${at}: volume ${MOUNTS.token.name} already exists and is not a projected token with audience ${TOKEN_AUDIENCE}; rename it`,
      );
    }
  }
  const wanted: { volume: JsonObject; why: string }[] = [];
  if (plan.coordinator !== 'never') {
    wanted.push({
      volume: apiAccessVolume(),
      why: `projected API token, bound to the pod, ${API_TOKEN_EXPIRATION_SECONDS} s: mounted only in ${COORDINATOR_CONTAINER}`,
    });
  }
  if (tls) {
    if (plan.coordinator !== 'never') {
      wanted.push({
        volume: tlsVolume(tls.secret),
        why: `Secret ${tls.secret}: the coordinator's certificate and key, mounted only in ${COORDINATOR_CONTAINER}`,
      });
    }
    wanted.push({
      volume: tlsCaVolume(tls.secret),
      why: `ca.crt of Secret ${tls.secret}: members verify the coordinator`,
    });
  }
  for (const { volume, why } of wanted) {
    const at_ = volumes.findIndex((v) => containerName(v) === volume.name);
    if (at_ === -1) {
      volumes.push(volume);
      change(`volume ${String(volume.name)} (${why})`);
    } else if (!deepEqual(volumes[at_], volume)) {
      const before = volumes[at_];
      const ours = isObject(before) && (isObject(before.projected) || isObject(before.secret));
      if (!ours)
        throw new InjectError(`${at}: volume ${String(volume.name)} already exists and is not lockstep's; rename it`);
      volumes[at_] = volume;
      change(`volume ${String(volume.name)} updated (${why})`);
    }
  }
}

function ensureInitContainers(
  spec: JsonObject,
  plan: TemplatePlan,
  options: InjectOptions,
  tls: TemplateTls | undefined,
  at: string,
  change: (what: string) => void,
): void {
  const inits = childArray(spec, 'initContainers', ['containers']);
  for (const c of inits) {
    const name = containerName(c);
    if (!isObject(c)) continue;
    if (name === COORDINATOR_CONTAINER && !isOurs(c, COORDINATOR_CONTAINER, 'coordinator')) {
      throw new InjectError(
        `${at}: init container ${COORDINATOR_CONTAINER} already exists and does not run \`lockstep coordinator\`; rename or remove it`,
      );
    }
    if (name === BOOTSTRAP_CONTAINER && !isOurs(c, BOOTSTRAP_CONTAINER, 'bootstrap')) {
      throw new InjectError(
        `${at}: init container ${BOOTSTRAP_CONTAINER} already exists and does not run \`lockstep bootstrap\`; rename or remove it`,
      );
    }
    if (name !== COORDINATOR_CONTAINER && name !== BOOTSTRAP_CONTAINER && runsLockstep(c)) {
      throw new InjectError(
        `${at}: init container ${name ?? '(unnamed)'} already runs lockstep; remove it and inject again (lockstep names its own ${COORDINATOR_CONTAINER} and ${BOOTSTRAP_CONTAINER})`,
      );
    }
  }
  // Wanted order: the coordinator sidecar first (bootstrap joins it), the user's own init containers, bootstrap last
  // so the start barrier opens only when every pod is about to start its engine.
  const others = inits.filter((c) => {
    const name = containerName(c);
    return name !== COORDINATOR_CONTAINER && name !== BOOTSTRAP_CONTAINER;
  });
  const wanted: Json[] = [];
  if (plan.coordinator !== 'never') {
    wanted.push(merged(inits, coordinatorContainer(options.image, plan, tls)));
  }
  wanted.push(...others, merged(inits, bootstrapContainer(options.image, plan, tls)));
  const hadCoordinator = inits.some((c) => containerName(c) === COORDINATOR_CONTAINER);
  const hadBootstrap = inits.some((c) => containerName(c) === BOOTSTRAP_CONTAINER);
  if (deepEqual(inits, wanted)) return;
  inits.splice(0, inits.length, ...wanted);
  if (plan.coordinator === 'never' && hadCoordinator) {
    change(`removed native sidecar ${COORDINATOR_CONTAINER} (this template is not the leader's)`);
  }
  if (plan.coordinator !== 'never') {
    const how =
      plan.coordinator === 'rank0'
        ? 'on every pod of this template; it coordinates on rank 0 and idles elsewhere (--only-rank=0)'
        : 'on the leader';
    change(`${hadCoordinator ? 'updated' : 'added'} native sidecar ${COORDINATOR_CONTAINER} (${how})`);
  }
  change(
    `${hadBootstrap ? 'updated' : 'added'} init container ${BOOTSTRAP_CONTAINER} (joins the group and writes ${MOUNTS.run.mountPath}/group.env before the engine starts)`,
  );
}

/** The wanted container, keeping fields an API server added to an earlier injection (so re-injecting is quiet). */
function merged(existing: readonly Json[], wanted: JsonObject): JsonObject {
  const before = existing.find((c) => containerName(c) === wanted.name);
  return isObject(before) ? { ...before, ...wanted } : wanted;
}

function runsLockstep(c: JsonObject): boolean {
  const argv = [...(stringArray(c.command) ?? []), ...(stringArray(c.args) ?? [])];
  const image = stringAt(c, 'image') ?? '';
  return /(^|\/)lockstep(:|@|$)/.test(image) && argv.some((a) => a === 'bootstrap' || a === 'coordinator');
}

function mainContainer(containers: Json[], template: JsonObject, at: string): JsonObject {
  const objects = containers.filter(isObject);
  const named = stringAt(
    objectAt(objectAt(template, 'metadata'), 'annotations'),
    'kubectl.kubernetes.io/default-container',
  );
  if (named !== undefined) {
    const found = objects.find((c) => c.name === named);
    if (!found) {
      throw new InjectError(`${at}: kubectl.kubernetes.io/default-container names ${named}, which is not a container`);
    }
    return found;
  }
  if (objects.length === 1) return objects[0]!;
  const engineOf = (c: JsonObject) =>
    isWrapped(c) || detectEngine([...(stringArray(c.command) ?? []), ...(stringArray(c.args) ?? [])]) !== undefined;
  return objects.find(engineOf) ?? objects[0]!;
}

function isWrapped(c: JsonObject): boolean {
  const command = stringArray(c.command);
  return command !== undefined && command[0] === LOCKSTEP_BIN && command[1] === 'run';
}

/** The --command for a command-less container: one naming its template or itself, else the one without a target. */
function commandFor(options: InjectOptions, targets: readonly string[]): CommandChoice | undefined {
  const choices = options.commands ?? [];
  return (
    choices.find((c) => c.target !== undefined && targets.includes(c.target)) ??
    choices.find((c) => c.target === undefined)
  );
}

function wrapCommand(
  main: JsonObject,
  plan: TemplatePlan,
  options: InjectOptions,
  report: InjectReport,
  at: string,
  change: (what: string) => void,
): void {
  const name = stringAt(main, 'name') ?? '(unnamed)';
  if (!report.commandTargets) report.commandTargets = [];
  report.commandTargets.push(...(plan.targets ?? []), name);
  if (isWrapped(main)) return;
  if (main.command !== undefined && stringArray(main.command) === undefined) {
    throw new InjectError(`${at}: container ${name} has a command that is not a list of strings`);
  }
  let command = stringArray(main.command);
  const args = stringArray(main.args) ?? [];
  let fromFlag = false;
  if (!command || command.length === 0) {
    const targets = [...(plan.targets ?? []), name];
    const chosen = commandFor(options, targets);
    if (!chosen || chosen.words.length === 0) {
      throw new InjectError(
        `${at}: container ${name} has no command to wrap (its image's entrypoint runs); pass --engine and --command with the entrypoint, e.g. --engine vllm --command "vllm serve" (--command "${targets[0]}=vllm serve" for this one alone)`,
      );
    }
    if (!report.commandless) report.commandless = [];
    report.commandless.push({ where: at, container: name, targets, chosen });
    command = [...chosen.words];
    fromFlag = true;
  }
  const chosen = options.engine && options.engine !== 'auto' ? options.engine : undefined;
  const detected = chosen ? undefined : detectEngine([...command, ...args]);
  if (!chosen && !detected) {
    // never half-inject: a group whose engine nobody restarts would stop for good at its first in-place restart
    report.warnings.push(
      `${at}: container ${name}: no engine recognised in \`${[...command, ...args].join(' ').slice(0, 120)}\`; wrapped with \`lockstep run --engine=none\`, which runs it as written with the group's variables and restarts it with the group (pass --engine to have its command line adapted)`,
    );
  }
  // `lockstep run` adapts an engine's own command line (adds flags, runs Ray's head or worker); a shell script it
  // cannot rewrite, so the script runs as written with the group's variables (LOCKSTEP_*_ARGS, MASTER_ADDR, …)
  const script = isShellScript(command);
  const engine = chosen ?? (script || !detected ? 'none' : detected);
  main.command = [LOCKSTEP_BIN, 'run', `--engine=${engine}`, '--', ...command];
  const how = fromFlag
    ? ' (command from --command)'
    : chosen
      ? ''
      : !detected
        ? " (no engine recognised: it runs as written, with the group's variables)"
        : script
          ? ` (a shell script running ${detected}: it runs as written, with the group's variables)`
          : ' (engine detected)';
  change(
    `container ${name}: command wrapped with \`lockstep run --engine=${engine} --\`${how}; it starts and restarts the engine with the group`,
  );
}

/** `sh -c …`, `bash -ec …`: a shell running a script given inline. */
function isShellScript(command: readonly string[]): boolean {
  const shell = /(^|\/)(sh|bash|dash|ash|zsh)$/.test(command[0] ?? '');
  return shell && command.slice(1).some((a) => /^-[a-z]*c[a-z]*$/.test(a));
}

/**
 * Group variables the container sets itself win over the group's in `lockstep run` (its value is the user's
 * decision); say which, since a fixed value is the same in every group instance of the workload.
 */
function reportOwnGroupVariables(main: JsonObject, plan: TemplatePlan, at: string, report: InjectReport): void {
  const env = arrayAt(main, 'env') ?? [];
  const own = ENGINE_ENV_NAMES.filter((n) => env.some((e) => containerName(e) === n));
  if (own.length === 0) return;
  const name = stringAt(main, 'name') ?? '(unnamed)';
  report.warnings.push(
    `${at}: container ${name} sets ${own.join(', ')} itself: its values win over the group's (lockstep run keeps them and logs the difference), the same in every ${plan.groupLabel} group instance; remove them to have lockstep set them for each group`,
  );
}

function ensureMainEnvAndMounts(
  main: JsonObject,
  tls: TemplateTls | undefined,
  at: string,
  change: (what: string) => void,
): void {
  const name = stringAt(main, 'name') ?? '(unnamed)';
  const env = childArray(main, 'env');
  if (tls && !env.some((have) => containerName(have) === TLS_CA_ENV)) {
    env.push(tlsCaEnv());
    change(`container ${name}: env ${TLS_CA_ENV} (lockstep run verifies the coordinator's certificate)`);
  }
  const missing = downwardEnv().filter((e) => !env.some((have) => containerName(have) === e.name));
  if (missing.length > 0) {
    env.push(...missing);
    change(`container ${name}: env ${missing.map((e) => e.name).join(', ')} from the downward API`);
  }
  const mounts = childArray(main, 'volumeMounts');
  for (const wanted of [...runAndTokenMounts(), ...(tls ? [tlsCaMount()] : [])]) {
    const clash = mounts.find((m) => isObject(m) && m.mountPath === wanted.mountPath);
    if (clash !== undefined) {
      if (containerName(clash) !== wanted.name) {
        throw new InjectError(
          `${at}: container ${name} already mounts volume ${containerName(clash)} at ${String(wanted.mountPath)}, where lockstep mounts ${String(wanted.name)}`,
        );
      }
      continue;
    }
    mounts.push(wanted);
    change(`container ${name}: mounts ${String(wanted.name)} at ${String(wanted.mountPath)}`);
  }
}
