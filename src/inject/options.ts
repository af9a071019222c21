import type { DetectedEngine } from './engine.js';
import type { GangPlan } from './gang.js';
import type { GpuClaimsMode } from './gpu-claims.js';
import type { JsonObject } from './json.js';

export interface InjectOptions {
  /** lockstep image for the coordinator and bootstrap containers */
  image: string;
  /** engine for `lockstep run --engine`; undefined (or 'auto') = detect from the command */
  engine?: DetectedEngine | 'torch' | 'none' | 'auto';
  /**
   * Commands to wrap in main containers that have none (they rely on their image's entrypoint), each for one template
   * or container (`--command leader=…`); one without a target serves the only such container there is.
   */
  commands?: readonly CommandChoice[];
  /** keep each group's pods within one domain of this node label (required pod affinity per group instance) */
  topologyKey?: string;
  /** leave a LeaderWorkerSet's restartPolicy as it is */
  keepRestartPolicy?: boolean;
  /** leave objects that run pods but are no kind inject handles (Deployment, RayCluster, …) as they are, with a warning */
  passThrough?: boolean;
  /**
   * Secret (kubernetes.io/tls with `ca.crt`, as cert-manager writes it) the coordinator serves TLS with; members
   * verify it with its `ca.crt`. Undefined: plaintext, unless an earlier injection set it (kept).
   */
  tlsSecret?: string;
  /** gang scheduling: the scheduling.k8s.io version to write a group's PodGroup in, or why not (gang.ts) */
  gang?: GangPlan;
  /** turn `nvidia.com/gpu: N` limits into a ResourceClaimTemplate of N lockstep GPUs (`nic`: each with a NIC) */
  gpuClaims?: GpuClaimsMode;
}

/** One `--command`: `[TARGET=]COMMAND`, the target naming a template (leader, worker, a replicated job) or container. */
export interface CommandChoice {
  target?: string;
  words: readonly string[];
}

/** A bad input that inject refuses: the message names the object and the field. */
export class InjectError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InjectError';
  }
}

/** What inject did to one object (or document): every change, and the things it chose not to do. */
export interface InjectReport {
  changes: string[];
  warnings: string[];
  /** what the user must do besides applying the output (RBAC), printed with the explanation */
  notes: string[];
  /** main containers with no command of their own, and the --command each got, checked once the input is done */
  commandless?: CommandlessContainer[];
  /** every name --command could target in the input (template names, main containers) */
  commandTargets?: string[];
  /** objects to add to the output (a PodGroup…), appended after the input's documents (added-objects.ts) */
  objects?: JsonObject[];
  /** identities of the input's objects (objectIdentity), so an added object already there is not added twice */
  inputObjects?: string[];
}

/** A main container that relies on its image's entrypoint: where, the names --command can pick it by, what it got. */
interface CommandlessContainer {
  where: string;
  container: string;
  targets: readonly string[];
  chosen?: CommandChoice;
}
