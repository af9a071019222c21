import type { MemberInfo } from '../protocol/messages.js';

/** What an engine needs to know about the group, as seen from one member (built from a Release). */
export interface GroupView {
  group: string;
  namespace: string;
  size: number;
  rank: number;
  epoch: number;
  /** every member, by rank */
  members: MemberInfo[];
  /** rank 0's address: where every engine's rendezvous lives */
  leaderAddress: string;
  /** rendezvous port on rank 0 (torch.distributed, vLLM, SGLang) */
  masterPort: number;
  /** this member's own address */
  selfAddress: string;
  /** GPUs of the whole group (0 = unknown) */
  gpus: number;
}

/** Bad input for an engine (conflicting flags, a bad variable): shown to the user as is. */
export class EngineError extends Error {
  override name = 'EngineError';
}

export interface Engine {
  readonly name: string;
  /** does this command line start this engine? (for --engine auto) */
  detect(argv: readonly string[]): boolean;
  /** variables this engine reads, added to every member's group environment */
  environment(view: GroupView): Record<string, string>;
  /** the command line to run on this member; throws EngineError when the user's flags contradict the group */
  adapt(argv: readonly string[], view: GroupView, env: NodeJS.ProcessEnv): string[];
}
