import type { DetectedEngine } from './engine.js';

export interface InjectOptions {
  /** lockstep image for the coordinator and bootstrap containers */
  image: string;
  /** engine for `lockstep run --engine`; undefined (or 'auto') = detect from the command */
  engine?: DetectedEngine | 'torch' | 'none' | 'auto';
  /** words of the command to wrap when the main container has none (it relies on its image's entrypoint) */
  command?: readonly string[];
  /** leave a LeaderWorkerSet's restartPolicy as it is */
  keepRestartPolicy?: boolean;
  /** leave objects that run pods but are no kind inject handles (Deployment, RayCluster, …) as they are, with a warning */
  passThrough?: boolean;
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
}
