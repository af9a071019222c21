/** `lockstep coordinator`: resolves the group from flags and the leader pod, then runs until SIGTERM. */
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { ServerCredentials } from '@grpc/grpc-js';
import type { tokenReviewAuthenticator } from '../../../leader/auth/token-review.js';
import { Coordinator } from '../../../leader/coordinator/coordinator.js';
import type { KubeStatusSink } from '../../../leader/coordinator/kube-sink.js';
import type { KubeGroupPodActions } from '../../../leader/coordinator/pod-actions.js';
import type { PodWatch } from '../../../leader/coordinator/pod-watch.js';
import type { Authenticator } from '../../../leader/coordinator/server.js';
import {
  epochFromWorkload,
  epochStore,
  factsFromPod,
  groupFromPodName,
  sizeFromOwner,
  type WorkloadFacts,
} from '../../../leader/coordinator/workload.js';
import { rankHint } from '../../../leader/member/identity.js';
import { CliError, usageError } from '../../cli/errors.js';
import { errorMessage } from '../../errors.js';
import type { KubeClient } from '../../kube/client.js';
import { PODS, resourcePath } from '../../kube/resources.js';
import type { Pod } from '../../kube/types.js';
import type { Logger } from '../../log.js';
import { nextTermination, onTermination } from '../../signals.js';
import type { CoordinatorFlags } from './index.js';

/** `--tls-cert` + `--tls-key` → TLS credentials; neither → plaintext (undefined); one alone or unreadable → usage error. */
function serverTls(opts: Pick<CoordinatorFlags, 'tlsCert' | 'tlsKey'>): ServerCredentials | undefined {
  if (!opts.tlsCert && !opts.tlsKey) return undefined;
  if (!opts.tlsCert || !opts.tlsKey) {
    throw usageError(
      `--tls-cert and --tls-key go together: only ${opts.tlsCert ? '--tls-cert' : '--tls-key'} was given`,
    );
  }
  const read = (flag: string, path: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw usageError(`cannot read ${flag} ${path}: ${errorMessage(err)}`);
    }
  };
  const cert = read('--tls-cert', opts.tlsCert);
  const key = read('--tls-key', opts.tlsKey);
  try {
    return ServerCredentials.createSsl(null, [{ cert_chain: cert, private_key: key }], false);
  } catch (err) {
    throw usageError(`--tls-cert ${opts.tlsCert} / --tls-key ${opts.tlsKey}: ${errorMessage(err)}`);
  }
}

/**
 * `--only-rank n`: one pod template for every pod (StatefulSet, Job) carries the coordinator sidecar; only the pod of
 * rank n coordinates. Returns this pod's rank, or undefined when it cannot be told.
 */
function ownRank(env: NodeJS.ProcessEnv, podName: string | undefined): number | undefined {
  return rankHint(undefined, false, env, podName)?.rank;
}

/** Idles until SIGTERM/SIGINT (a native sidecar on a pod that does not coordinate), then exits 0. */
async function idle(log: Logger, reason: string): Promise<number> {
  // a pending timer keeps the event loop (and so the sidecar) alive without using CPU
  const keepAlive = setInterval(() => {}, 1 << 30);
  const terminated = nextTermination();
  // said once the handlers are in place: whoever waits for this line may terminate it at once
  log.info(reason);
  await terminated;
  clearInterval(keepAlive);
  return 0;
}

export async function runCoordinator(opts: CoordinatorFlags, env: NodeJS.ProcessEnv, log: Logger): Promise<number> {
  if (opts.onlyRank !== undefined) {
    const rank = ownRank(env, opts.podName);
    if (rank === undefined) {
      throw usageError(
        `--only-rank ${opts.onlyRank}: this pod's rank is unknown (set LOCKSTEP_RANK, LWS_WORKER_INDEX or JOB_COMPLETION_INDEX, or give a pod name ending in its ordinal via --pod-name / POD_NAME)`,
      );
    }
    if (rank !== opts.onlyRank) {
      return idle(log, `this pod is rank ${rank}; only rank ${opts.onlyRank} coordinates: idling until terminated`);
    }
  }
  // bad TLS flags are a usage error before anything starts
  const serverCredentials = serverTls(opts);
  // the API is used when there is one to use: an explicit kubeconfig, or a service account in a pod
  const useApi = Boolean(opts.kubeconfig) || Boolean(env.KUBERNETES_SERVICE_HOST);
  const api = useApi ? await loadApi() : undefined;
  const kube = api ? new api.KubeClient(api.loadKubeConfig({ kubeconfig: opts.kubeconfig, env })) : undefined;
  const namespace = opts.namespace || readServiceAccountNamespace() || 'default';
  let facts: WorkloadFacts = {};
  let leaderPod: Pod | undefined;
  if (kube && opts.podName) {
    let pod: Pod;
    try {
      pod = await kube.get<Pod>(resourcePath(PODS, { namespace, name: opts.podName }));
    } catch (err) {
      throw new CliError(1, `cannot read the leader pod ${namespace}/${opts.podName}: ${String(err)}`);
    }
    facts = factsFromPod(pod);
    leaderPod = pod;
    if (!opts.groupSize && facts.size === undefined && facts.owner) {
      const owner = facts.owner;
      const path =
        owner.kind === 'StatefulSet'
          ? `/apis/apps/v1/namespaces/${namespace}/statefulsets/${owner.name}`
          : `/apis/batch/v1/namespaces/${namespace}/jobs/${owner.name}`;
      try {
        const object = await kube.get<{ spec?: Record<string, unknown> }>(path);
        facts.size = sizeFromOwner(owner.kind, object);
        facts.sizeSource = `${owner.kind} ${owner.name}`;
      } catch (err) {
        log.warn({ err: String(err), owner: owner.name }, 'cannot read the workload for the group size');
      }
    }
  }
  if (opts.group && facts.group && opts.group !== facts.group) {
    // admission compares members' groups with this one: a coordinator of another name would refuse every member
    throw usageError(
      `--group ${opts.group} disagrees with this pod's own group ${facts.group} (its lockstep.dev/group label and its workload's instance labels); drop --group or fix the label`,
    );
  }
  const group = opts.group || facts.group || groupFromPodName(opts.podName, env);
  if (!group) throw usageError('the group has no name: pass --group or run in the leader pod (--pod-name / POD_NAME)');
  // the epoch lives on the workload (it outlives RecreateGroup and a deleted leader pod); the pod's own is a floor too
  const store = leaderPod ? epochStore(leaderPod, namespace, group) : undefined;
  if (kube && store) {
    try {
      const stored = epochFromWorkload(await kube.get(store.path), store.key);
      if (stored !== undefined && stored > (facts.lastEpoch ?? 0)) facts.lastEpoch = stored;
    } catch (err) {
      log.warn({ err: String(err), workload: store.describe }, 'cannot read the epoch stored on the workload');
    }
  }
  const size = opts.groupSize ?? facts.size;
  if (!size) {
    throw usageError(
      'the group size is unknown: pass --group-size, set LWS_GROUP_SIZE, or run in a pod of a LeaderWorkerSet, StatefulSet or indexed Job with API access',
    );
  }
  const podWatch: PodWatch | undefined =
    kube && api
      ? new api.PodWatch({
          client: kube,
          namespace,
          isMember: (pod): boolean => coordinator.table.member(pod) !== undefined,
          onLost: (pod, reason, kind) => {
            if (kind === 'pod-deleted') coordinator.publisher?.podGone(pod);
            coordinator.recovery?.lose(pod, reason, kind);
          },
          onPresent: (pod) => {
            coordinator.publisher?.podBack(pod);
            coordinator.recovery?.podPresent(pod);
          },
          group,
          onHeldUp: (pod, why) => coordinator.heldUp(pod, why),
          log,
        })
      : undefined;
  const authenticate: Authenticator | undefined =
    kube && api && opts.authenticate === 'token-review'
      ? api.tokenReviewAuthenticator({
          client: kube,
          namespace,
          group,
          audience: opts.tokenAudience,
          cachedPod: (name): Pod | undefined => podWatch?.pod(name),
        })
      : undefined;
  if (kube && !authenticate) log.warn('members are admitted without checking their tokens (--authenticate none)');
  const coordinator: Coordinator = new Coordinator({
    group,
    namespace,
    size,
    leaderPod: opts.podName,
    masterPort: opts.masterPort,
    lastEpoch: facts.lastEpoch,
    listen: opts.listen,
    serverCredentials,
    log,
    // four heartbeats fit in the timeout, so one lost packet never looks like a lost member
    heartbeatIntervalMs: Math.max(100, Math.floor(opts.heartbeatTimeout / 4)),
    sink: kube && api ? new api.KubeStatusSink(kube, namespace) : undefined,
    authenticate,
    recovery: {
      heartbeatTimeoutMs: opts.heartbeatTimeout,
      runAttachTimeoutMs: opts.runAttachTimeout,
      policy: opts.recovery,
      budget: opts.restartBudget,
      windowMs: opts.restartWindow,
      backoffInitialMs: opts.backoffInitial,
      backoffMaxMs: Math.max(opts.backoffMax, opts.backoffInitial),
      actions:
        kube && api
          ? new api.KubeGroupPodActions(kube, namespace, opts.podName, group, store, (message, fields) =>
              log.warn(fields, message),
            )
          : undefined,
    },
  });
  // handlers first: a SIGTERM right after start-up must still stop cleanly
  let stopListening = () => {};
  const stopped = new Promise<void>((resolve) => {
    stopListening = onTermination((signal) => {
      log.info({ signal }, 'stopping');
      resolve();
    });
  });
  let metrics: Server | undefined;
  if (opts.metricsAddress) {
    // before anything else starts: a port already taken ends the coordinator with nothing left running
    const { groupMetrics, serveMetrics } = await import('../../../leader/coordinator/metrics.js');
    metrics = await serveMetrics(opts.metricsAddress, groupMetrics(coordinator.table), log);
  }
  try {
    podWatch?.start();
    await coordinator.start();
    await stopped;
  } finally {
    stopListening();
    metrics?.close();
    metrics?.closeAllConnections();
  }
  await coordinator.stop();
  await podWatch?.stop();
  kube?.close();
  return 0;
}

/**
 * client-node's undici needs small shims on Node < 22 (development machines; a no-op on the image's Node 24) that
 * must run before it loads: dynamic imports keep that order even when the bundle is split into chunks.
 */
async function loadApi(): Promise<{
  KubeClient: typeof KubeClient;
  loadKubeConfig: typeof import('../../kube/config.js')['loadKubeConfig'];
  KubeStatusSink: typeof KubeStatusSink;
  PodWatch: typeof PodWatch;
  KubeGroupPodActions: typeof KubeGroupPodActions;
  tokenReviewAuthenticator: typeof tokenReviewAuthenticator;
}> {
  const [
    { KubeClient },
    { loadKubeConfig },
    { KubeStatusSink },
    { PodWatch },
    { KubeGroupPodActions },
    { tokenReviewAuthenticator },
  ] = await Promise.all([
    import('../../kube/client.js'),
    import('../../kube/config.js'),
    import('../../../leader/coordinator/kube-sink.js'),
    import('../../../leader/coordinator/pod-watch.js'),
    import('../../../leader/coordinator/pod-actions.js'),
    import('../../../leader/auth/token-review.js'),
  ]);
  return { KubeClient, loadKubeConfig, KubeStatusSink, PodWatch, KubeGroupPodActions, tokenReviewAuthenticator };
}

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

function readServiceAccountNamespace(): string | undefined {
  try {
    return readFileSync(SERVICE_ACCOUNT_NAMESPACE, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}
