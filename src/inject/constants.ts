import { COORDINATOR_PORT, TOKEN_AUDIENCE } from '../contract/names.js';
import { SERVICE_ACCOUNT_DIR } from '../kube/in-cluster.js';

/**
 * The names `lockstep inject` writes into pod templates. They are fixed so a second injection finds (and leaves
 * alone) what the first wrote, and so the kustomize component (generated from the same code) matches.
 */
export const COORDINATOR_CONTAINER = 'lockstep-coordinator';
export const BOOTSTRAP_CONTAINER = 'lockstep-bootstrap';

/**
 * The volumes `lockstep inject` adds, each as the containers mount it: its name, where it is mounted and whether
 * read-only, stated together once.
 */
export const MOUNTS = {
  /** emptyDir shared by bootstrap (writes the group environment) and run (reads it); defaults of --env-file. */
  run: { name: 'lockstep-run', mountPath: '/var/run/lockstep' },
  /** Projected service-account token with audience `lockstep`; default of --token-file is `<dir>/token`. */
  token: { name: 'lockstep-token', mountPath: '/var/run/secrets/lockstep', readOnly: true },
  /**
   * The coordinator's API credentials. The pod's automatic token is switched off (`automountServiceAccountToken:
   * false`): it would sit in every container, the engine's included, with every grant of the group's service account.
   * This projected volume, laid out as the kubelet lays out its own (token, `ca.crt` from `kube-root-ca.crt`,
   * `namespace`), is mounted only into the coordinator sidecar, where the in-cluster client looks for it. The token
   * is bound to the pod and lives the shortest time the API allows (the kubelet renews it at 80 % of that).
   */
  apiAccess: { name: 'lockstep-api-access', mountPath: SERVICE_ACCOUNT_DIR, readOnly: true },
  /**
   * TLS between members and the coordinator (`lockstep inject --tls-secret NAME`): the coordinator alone mounts the
   * Secret (`tls.crt`, `tls.key`: a kubernetes.io/tls Secret, as cert-manager writes it); members get only its
   * `ca.crt`, through a projected volume that selects that one key, so no engine container can read the private key.
   */
  tls: { name: 'lockstep-tls', mountPath: '/var/run/secrets/lockstep-tls', readOnly: true },
  tlsCa: { name: 'lockstep-tls-ca', mountPath: '/var/run/secrets/lockstep-tls-ca', readOnly: true },
} as const;

/** The token's file in MOUNTS.token, and its lifetime. */
export const TOKEN_PATH = 'token';
export const TOKEN_EXPIRATION_SECONDS = 3600;
export { TOKEN_AUDIENCE };

/** Lifetime of the token in MOUNTS.apiAccess: the shortest the API allows. */
export const API_TOKEN_EXPIRATION_SECONDS = 600;
/** The ConfigMap kube-controller-manager publishes in every namespace with the API server's CA. */
export const ROOT_CA_CONFIGMAP = 'kube-root-ca.crt';

/** Env twin of `--tls-ca` for bootstrap and run. */
export const TLS_CA_ENV = 'LOCKSTEP_TLS_CA';

/**
 * Where the engine container finds `lockstep`: the engine's image does not ship it, so the bootstrap init container
 * places a launcher in the shared volume before the engine starts.
 */
export const LOCKSTEP_BIN = `${MOUNTS.run.mountPath}/bin/lockstep`;

/** Env var carrying this pod's rank (the `--rank` twin), filled from the downward API where the workload fixes it. */
export const RANK_ENV = 'LOCKSTEP_RANK';

export const COORDINATOR_PORT_NAME = 'lockstep';
export { COORDINATOR_PORT };

/**
 * Downward-API variables every lockstep container gets, by what they hold, in the order inject writes them: the
 * Kubernetes-convention twins of the pod-identity flags (src/commands/shared-flags.ts), which read the same names.
 */
export const DOWNWARD_ENV = {
  podName: { name: 'POD_NAME', fieldPath: 'metadata.name' },
  namespace: { name: 'POD_NAMESPACE', fieldPath: 'metadata.namespace' },
  podIp: { name: 'POD_IP', fieldPath: 'status.podIP' },
  nodeName: { name: 'NODE_NAME', fieldPath: 'spec.nodeName' },
} as const;

/** Kubernetes' own index label/annotation on StatefulSet and indexed Job pods. */
export const STS_POD_INDEX_LABEL = 'apps.kubernetes.io/pod-index';
export const JOB_COMPLETION_INDEX_ANNOTATION = 'batch.kubernetes.io/job-completion-index';
export const JOBSET_JOB_INDEX_LABEL = 'jobset.sigs.k8s.io/job-index';
