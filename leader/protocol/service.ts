import type { MethodDefinition, ServiceDefinition } from '@grpc/grpc-js';
import { loadSync } from '@grpc/proto-loader';
import { protoPath } from '../../src/proto/index.js';
import type {
  CoordinatorMessage,
  JoinReply,
  JoinRequest,
  MemberMessage,
  StatusReply,
  StatusRequest,
} from './messages.js';

/** The protocol version this build speaks, and the oldest member it still admits. */
export const PROTOCOL_VERSION = 1;
export const MIN_PROTOCOL_VERSION = 1;

/** The version two sides speak: the lower one. undefined = the peer is too old to talk to. */
export function negotiateVersion(
  peer: number,
  mine = PROTOCOL_VERSION,
  min = MIN_PROTOCOL_VERSION,
): number | undefined {
  // a peer that sends no version (0) predates versioning, which never existed: treat as 1
  const theirs = peer > 0 ? peer : 1;
  if (theirs < min) return undefined;
  return Math.min(theirs, mine);
}

/** Protocol version in which each coordinator command first appeared: never send a member a case it cannot know. */
export const COMMAND_SINCE: Record<CoordinatorMessage['kind'], number> = { progress: 1, release: 1, stop: 1, ack: 1 };

const SERVICE_NAME = 'lockstep.group.v1.GroupCoordinator';

export interface GroupMethods {
  Join: MethodDefinition<JoinRequest, JoinReply>;
  Session: MethodDefinition<MemberMessage, CoordinatorMessage>;
  Status: MethodDefinition<Partial<StatusRequest>, StatusReply>;
}

let cached: (ServiceDefinition & GroupMethods) | undefined;

/** The service definition, loaded once from group.proto (src/proto/ or beside the bundle). */
export function groupService(): ServiceDefinition & GroupMethods {
  if (cached) return cached;
  const definition = loadSync(protoPath('group.proto'), {
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  cached = definition[SERVICE_NAME] as unknown as ServiceDefinition & GroupMethods;
  return cached;
}

/**
 * Encodes and decodes one Stop; returns it decoded. protobufjs generates a message type's codec at its first use (a
 * millisecond of CPU, more on a loaded host): without this, a run's first Stop pays it in the coordinator and again
 * in every member, on the path every other engine of the group waits on. Called once a process is up and idle
 * (never within start-up's own budget).
 */
export function warmStopCodec(): CoordinatorMessage {
  const session = groupService().Session;
  const stop: CoordinatorMessage = { kind: 'stop', stop: { epoch: 1, reason: 'codec warm-up', gracePeriodMs: 1 } };
  return session.responseDeserialize(session.responseSerialize(stop));
}
