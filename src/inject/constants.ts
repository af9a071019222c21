import { COORDINATOR_PORT, TOKEN_AUDIENCE } from '../contract/names.js';

/**
 * The names `lockstep inject` writes into pod templates. They are fixed so a second injection finds (and leaves
 * alone) what the first wrote, and so the kustomize component (generated from the same code) matches.
 */
export const COORDINATOR_CONTAINER = 'lockstep-coordinator';
export const BOOTSTRAP_CONTAINER = 'lockstep-bootstrap';

/** emptyDir shared by bootstrap (writes the group environment) and run (reads it); defaults of --env-file. */
export const RUN_VOLUME = 'lockstep-run';
export const RUN_DIR = '/var/run/lockstep';

/** Projected service-account token with audience `lockstep`; default of --token-file is `<dir>/token`. */
export const TOKEN_VOLUME = 'lockstep-token';
export const TOKEN_DIR = '/var/run/secrets/lockstep';
export const TOKEN_PATH = 'token';
export const TOKEN_EXPIRATION_SECONDS = 3600;
export { TOKEN_AUDIENCE };

/**
 * Where the engine container finds `lockstep`: the engine's image does not ship it, so the bootstrap init container
 * places a launcher in the shared volume before the engine starts.
 */
export const LOCKSTEP_BIN = `${RUN_DIR}/bin/lockstep`;

/** Env var carrying this pod's rank (the `--rank` twin), filled from the downward API where the workload fixes it. */
export const RANK_ENV = 'LOCKSTEP_RANK';

export const COORDINATOR_PORT_NAME = 'lockstep';
export { COORDINATOR_PORT };

/** Downward-API variables every lockstep container gets (the flags' Kubernetes-convention twins). */
export const DOWNWARD_ENV: readonly { name: string; fieldPath: string }[] = [
  { name: 'POD_NAME', fieldPath: 'metadata.name' },
  { name: 'POD_NAMESPACE', fieldPath: 'metadata.namespace' },
  { name: 'POD_IP', fieldPath: 'status.podIP' },
  { name: 'NODE_NAME', fieldPath: 'spec.nodeName' },
];

/** Kubernetes' own index label/annotation on StatefulSet and indexed Job pods. */
export const STS_POD_INDEX_LABEL = 'apps.kubernetes.io/pod-index';
export const JOB_COMPLETION_INDEX_ANNOTATION = 'batch.kubernetes.io/job-completion-index';
export const JOBSET_JOB_INDEX_LABEL = 'jobset.sigs.k8s.io/job-index';
