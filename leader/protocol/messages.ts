/**
 * TypeScript shapes of src/proto/group.proto as @grpc/proto-loader hands them over (camelCase fields, enums as
 * strings, 64-bit integers as numbers, the chosen `oneof` case named in `kind`). Fields a sender leaves out decode as
 * their defaults, so readers of an older peer's message see zeros and empty strings, never undefined.
 */
export type Role = 'ROLE_UNSPECIFIED' | 'ROLE_BOOTSTRAP' | 'ROLE_RUN';
export type EngineState =
  | 'ENGINE_STATE_UNSPECIFIED'
  | 'ENGINE_STARTING'
  | 'ENGINE_RUNNING'
  | 'ENGINE_EXITED'
  | 'ENGINE_STOPPED';

export interface Device {
  id: string;
  kind: string;
}

export interface MemberIdentity {
  pod: string;
  namespace: string;
  ip: string;
  node: string;
  rankHint?: number;
  rankSource: string;
  devices: Device[];
  group: string;
  groupSize: number;
  hostname: string;
}

export interface JoinRequest {
  protocolVersion: number;
  member: MemberIdentity;
  token: string;
  role: Role;
  /** the last epoch this member ran (0 = none); decoded as 0 from members that predate it */
  lastEpoch?: number;
}

export interface JoinReply {
  protocolVersion: number;
  memberId: string;
  rank: number;
  rankFinal: boolean;
  group: string;
  groupSize: number;
  heartbeatIntervalMs: number;
  epoch: number;
  /** proves the Join on Attach and Status; new at every Join */
  sessionSecret: string;
}

interface Attach {
  memberId: string;
  role: Role;
  epoch: number;
  protocolVersion: number;
  sessionSecret: string;
}

interface Heartbeat {
  epoch: number;
  sequence: number;
  engine: EngineState;
}

export interface EngineEvent {
  epoch: number;
  state: EngineState;
  exitCode: number;
  signal: string;
  message: string;
}

export type MemberMessage =
  | { kind: 'attach'; attach: Attach }
  | { kind: 'heartbeat'; heartbeat: Heartbeat }
  | { kind: 'engine'; engine: EngineEvent };

export interface Progress {
  joined: number;
  size: number;
  missingRanks: number[];
  state: string;
  epoch: number;
}

export interface MemberInfo {
  rank: number;
  pod: string;
  ip: string;
  node: string;
  hostname: string;
  gpus: number;
  tpus: number;
}

export interface Release {
  epoch: number;
  group: string;
  namespace: string;
  size: number;
  rank: number;
  members: MemberInfo[];
  masterPort: number;
  extraEnv: Record<string, string>;
}

export interface Stop {
  epoch: number;
  reason: string;
  gracePeriodMs: number;
}

export type CoordinatorMessage =
  | { kind: 'progress'; progress: Progress }
  | { kind: 'release'; release: Release }
  | { kind: 'stop'; stop: Stop }
  | { kind: 'ack'; ack: { sequence: number } };

interface MemberStatusMessage {
  rank: number;
  pod: string;
  node: string;
  address: string;
  ready: boolean;
  state: string;
  reason: string;
}

export interface StatusRequest {
  memberId: string;
  sessionSecret: string;
}

export interface StatusReply {
  protocolVersion: number;
  group: string;
  namespace: string;
  size: number;
  epoch: number;
  state: string;
  members: MemberStatusMessage[];
  restarts: number;
  lastReason: string;
  lastChange: string;
  joined: number;
  ready: number;
  /** false: the caller is no member and got counts only */
  membersShown: boolean;
}
