/**
 * TypeScript shapes of src/proto/group.proto as @grpc/proto-loader hands them over (camelCase fields, enums as
 * strings, 64-bit integers as numbers, the chosen `oneof` case named in `kind`). The messages are generated from the
 * .proto (src/proto/generated/group.ts, `node scripts/generate-proto.mjs`); this module only narrows them where
 * proto-loader's options say more than the generator knows: message fields that are always set, `optional` fields an
 * older peer leaves out, and the `oneof` envelopes with their `kind`. Fields a sender leaves out decode as their
 * defaults, so readers of an older peer's message see zeros and empty strings, never undefined.
 */
import type * as wire from '../../src/proto/generated/group.js';

export type Role = wire.Role;
export type EngineState = wire.EngineState;

/** A device a member brings (`id`, `kind`), as the Join names it. */
export type MemberDevice = wire.Device;

export type MemberIdentity = wire.MemberIdentity;

export interface JoinRequest extends Omit<wire.JoinRequest, 'member' | 'lastEpoch'> {
  member: MemberIdentity;
  /** the last epoch this member ran (0 = none); decoded as 0 from members that predate it */
  lastEpoch?: number;
}

export type JoinReply = wire.JoinReply;

type Attach = wire.Attach;
type Heartbeat = wire.Heartbeat;
export type EngineEvent = wire.EngineEvent;

export type MemberMessage =
  | { kind: 'attach'; attach: Attach }
  | { kind: 'heartbeat'; heartbeat: Heartbeat }
  | { kind: 'engine'; engine: EngineEvent };

export type Progress = wire.Progress;
export type MemberInfo = wire.MemberInfo;
export type Release = wire.Release;
export type Stop = wire.Stop;

export type CoordinatorMessage =
  | { kind: 'progress'; progress: Progress }
  | { kind: 'release'; release: Release }
  | { kind: 'stop'; stop: Stop }
  | { kind: 'ack'; ack: wire.Ack };

export type StatusRequest = wire.StatusRequest;
export type StatusReply = wire.StatusReply;
