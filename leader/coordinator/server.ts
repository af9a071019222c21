/**
 * The coordinator's gRPC service: a thin shell around GroupTable. Join admits, Session streams progress and releases
 * to members and takes their heartbeats and engine reports, Status answers with the group status.
 *
 * Threats, each with its test:
 * - Join with a forged/foreign token, a replayed token claiming another IP or node, floods in a member's name:
 *   token-review.ts and claims.ts (test/leader/auth/token-review.test.ts, flood.test.ts, coordinator/claims.test.ts);
 * - Session attach as a member without its Join's secret (reading the release, forging ENGINE_EXITED), or from
 *   another host; a second attach: session-keys.ts (test/leader/coordinator/session-auth.test.ts);
 * - Status read by anyone for members, IPs and nodes: counts only without a member's secret (session-auth.test.ts);
 * - half-open connections, connection floods, oversized messages: connection-guard.ts and the server options below
 *   (connection-guard.test.ts, bench row coordinator-half-open-rss);
 * - escape sequences and megabytes in engine messages reaching logs and the group status: cleaned and capped on
 *   receipt (src/text/untrusted.ts, claims.test.ts).
 */
import {
  status as GrpcStatus,
  type Metadata,
  Server,
  ServerCredentials,
  type ServerDuplexStream,
  type ServerUnaryCall,
  type sendUnaryData,
} from '@grpc/grpc-js';
import { errorMessage } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import { peerHost } from '../../src/net/host-port.js';
import { cleanName, cleanText } from '../../src/text/untrusted.js';
import type {
  CoordinatorMessage,
  EngineEvent,
  JoinReply,
  JoinRequest,
  MemberIdentity,
  MemberMessage,
  Role,
  StatusReply,
  StatusRequest,
} from '../protocol/messages.js';
import { cachingReleaseSerializer } from '../protocol/release-encoding.js';
import { COMMAND_SINCE, groupService, negotiateVersion, PROTOCOL_VERSION, warmStopCodec } from '../protocol/service.js';
import { bindClaims, type VerifiedPod } from './claims.js';
import {
  ConnectionGuard,
  type ConnectionLimits,
  connectionCapFor,
  DEFAULT_CONNECTION_LIMITS,
  type GuardedServer,
} from './connection-guard.js';
import { type GroupTable, JoinRefused, type Member, type RefusalCode } from './group-table.js';
import { type SessionCheck, SessionKeys } from './session-keys.js';

/**
 * Checks a member's credentials before admission (TokenReview + group labels). Throws JoinRefused; resolves with the
 * pod's IPs and node as the API has them, which the member's claims must match.
 */
export type Authenticator = (request: {
  token: string;
  identity: MemberIdentity;
  metadata: Metadata;
  peer: string;
}) => Promise<VerifiedPod | undefined>;

/** Where recovery plugs in; every hook is optional and called after the table changed. */
export interface CoordinatorHooks {
  /** a pod joined again (restarted bootstrap / recreated pod); `released` = it had been released before */
  onRejoin?(member: Member, released: boolean): void;
  /** a member's run session ended (without reporting an exit first when `clean` is false) */
  onSessionClosed?(member: Member, role: Role, clean: boolean): void;
  onEngineEvent?(member: Member, event: EngineEvent): void;
  onHeartbeat?(member: Member): void;
  /** the barrier opened a new epoch */
  onRelease?(epoch: number): void;
  /** a session attached (after the table noted the member as seen) */
  /** `epoch`: the epoch the session says it already runs (0 = none) */
  onAttach?(member: Member, role: Role, epoch: number): void;
  /**
   * The group is whole for the first time. When set, the hook opens the barrier itself (recovery persists the epoch
   * on the API first, so it keeps increasing across coordinator restarts); else the server opens it at once.
   */
  openBarrier?(): void;
}

export interface CoordinatorServerOptions {
  table: GroupTable;
  log: Logger;
  heartbeatIntervalMs: number;
  /** coalesce progress broadcasts to at most one per interval */
  progressIntervalMs?: number;
  authenticate?: Authenticator;
  hooks?: CoordinatorHooks;
  /** the table changed: the status publisher listens here */
  onChange?: () => void;
  /** TLS (`--tls-cert`/`--tls-key`); plaintext without */
  credentials?: ServerCredentials;
  /** connection bounds; defaults in connection-guard.ts */
  limits?: Partial<ConnectionLimits> & { idleTimeoutMs?: number };
}

/** Largest message the coordinator accepts from anyone (a Join with 256 devices is a few KiB). */
const MAX_RECEIVED_MESSAGE = 64 * 1024;

interface Session {
  memberId: string;
  role: Role;
  version: number;
  call: ServerDuplexStream<MemberMessage, CoordinatorMessage>;
  /** the epoch this session was last released into */
  releasedEpoch: number;
  reportedExit: boolean;
  /** a newer attach of the same member took over: this one's end is not the member's */
  replaced: boolean;
}

/** Most characters of an engine's message kept (status, reasons, logs): the end of a traceback, not all of it. */
const ENGINE_MESSAGE_LIMIT = 512;

const GRPC_CODE: Record<RefusalCode, GrpcStatus> = {
  ALREADY_EXISTS: GrpcStatus.ALREADY_EXISTS,
  OUT_OF_RANGE: GrpcStatus.OUT_OF_RANGE,
  FAILED_PRECONDITION: GrpcStatus.FAILED_PRECONDITION,
  INVALID_ARGUMENT: GrpcStatus.INVALID_ARGUMENT,
  UNAUTHENTICATED: GrpcStatus.UNAUTHENTICATED,
  PERMISSION_DENIED: GrpcStatus.PERMISSION_DENIED,
  RESOURCE_EXHAUSTED: GrpcStatus.RESOURCE_EXHAUSTED,
  ABORTED: GrpcStatus.ABORTED,
};

export class CoordinatorServer {
  private readonly server: Server;
  readonly guard: ConnectionGuard;
  /** one session per member: a newer authenticated attach replaces the older one */
  private readonly sessions = new Map<string, Session>();
  private readonly keys = new SessionKeys();
  private progressTimer: NodeJS.Timeout | undefined;
  private boundPort = 0;

  constructor(private readonly options: CoordinatorServerOptions) {
    this.server = new Server({
      'grpc.keepalive_permit_without_calls': 1,
      // a member needs a Join and a session at a time; nothing it sends comes near 64 KiB (a release is sent, not received)
      'grpc.max_concurrent_streams': 16,
      'grpc.max_receive_message_length': MAX_RECEIVED_MESSAGE,
      // connections with no call for this long are closed (members keep their session stream open)
      'grpc.max_connection_idle_ms': options.limits?.idleTimeoutMs ?? 120_000,
      'grpc-node.max_session_memory': 4,
    });
    this.guard = new ConnectionGuard({
      ...DEFAULT_CONNECTION_LIMITS,
      maxConnections: connectionCapFor(options.table.size),
      ...options.limits,
    });
    const base = groupService();
    // every member's release shares one encoded member list (O(N) per epoch, not O(N²))
    const service = {
      ...base,
      Session: { ...base.Session, responseSerialize: cachingReleaseSerializer(base.Session.responseSerialize) },
    };
    this.server.addService(service, {
      Join: (call: ServerUnaryCall<JoinRequest, JoinReply>, callback: sendUnaryData<JoinReply>) => {
        this.join(call, callback).catch((err: unknown) => callback(toServiceError(err)));
      },
      Session: (call: ServerDuplexStream<MemberMessage, CoordinatorMessage>) => this.session(call),
      Status: (call: ServerUnaryCall<Partial<StatusRequest>, StatusReply>, callback: sendUnaryData<StatusReply>) => {
        const { memberId = '', sessionSecret = '' } = call.request ?? {};
        const member = memberId !== '' && this.keys.check(memberId, sessionSecret, peerHost(call.getPeer())) === 'ok';
        callback(null, this.statusReply(member));
      },
    });
  }

  /** Binds `host:port` (port 0 = any); returns the bound port. */
  async listen(address: string): Promise<number> {
    this.boundPort = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(address, this.options.credentials ?? ServerCredentials.createInsecure(), (err, port) =>
        err ? reject(new Error(`cannot listen on ${address}: ${err.message}`)) : resolve(port),
      );
    });
    // grpc-js keeps its node http2 servers to itself and turns their timeouts off: the guard bounds their sockets
    const internals = this.server as unknown as { http2Servers?: Map<GuardedServer, unknown> };
    if (!internals.http2Servers || internals.http2Servers.size === 0) {
      throw new Error('cannot bound connections: this grpc-js keeps no http2Servers map');
    }
    for (const http2 of internals.http2Servers.keys()) this.guard.watch(http2);
    // the first Stop of a recovery must not wait for its codec to be generated
    setImmediate(warmStopCodec).unref();
    return this.boundPort;
  }

  get port(): number {
    return this.boundPort;
  }

  async close(): Promise<void> {
    if (this.progressTimer) clearTimeout(this.progressTimer);
    for (const s of this.sessions.values()) s.call.end();
    this.sessions.clear();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 1000);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Sends every attached member the release of the current epoch it has not received yet. */
  broadcastReleases(): void {
    const releases = this.options.table.releases();
    for (const [id, s] of this.sessions) {
      const release = releases.get(id);
      if (!release || s.releasedEpoch >= release.epoch) continue;
      s.releasedEpoch = release.epoch;
      this.send(s, { kind: 'release', release });
    }
  }

  /** Sends a command to every session of a member (recovery's stop goes through here). */
  sendTo(memberId: string, message: CoordinatorMessage): number {
    const s = this.sessions.get(memberId);
    return s && this.send(s, message) ? 1 : 0;
  }

  private async join(call: ServerUnaryCall<JoinRequest, JoinReply>, callback: sendUnaryData<JoinReply>) {
    const request = call.request;
    const { table, log } = this.options;
    const version = negotiateVersion(request.protocolVersion);
    if (version === undefined) {
      throw new JoinRefused(
        'FAILED_PRECONDITION',
        `member speaks protocol ${request.protocolVersion}, this coordinator needs at least ${PROTOCOL_VERSION}: upgrade the member's lockstep`,
      );
    }
    const claimed = normaliseIdentity(request.member);
    const from = peerHost(call.getPeer());
    // names are checked before anything logs them or asks the API about them
    bindClaims(claimed, undefined, from);
    const verified = this.options.authenticate
      ? await this.options.authenticate({
          token: request.token,
          identity: claimed,
          metadata: call.metadata,
          peer: call.getPeer(),
        })
      : undefined;
    const identity = bindClaims(claimed, verified, from);
    const wasReleased = (table.member(identity.pod)?.epoch ?? 0) > 0;
    const outcome = table.join(identity);
    // a member that ran a later epoch than this coordinator knows (it restarted without an API): continue above it
    if (request.lastEpoch) table.noteMemberEpoch(request.lastEpoch);
    const { member } = outcome;
    log.info(
      {
        pod: member.id,
        rank: member.rank,
        ip: identity.ip,
        node: identity.node,
        joined: table.joinedCount(),
        size: table.size,
      },
      outcome.rejoined ? 'member joined again' : 'member joined',
    );
    callback(null, {
      protocolVersion: version,
      memberId: member.id,
      rank: member.rank,
      rankFinal: member.rankFinal,
      group: table.group,
      groupSize: table.size,
      heartbeatIntervalMs: this.options.heartbeatIntervalMs,
      epoch: table.epoch,
      sessionSecret: this.keys.issue(member.id, peerHost(call.getPeer())),
    });
    if (outcome.rejoined) this.options.hooks?.onRejoin?.(member, wasReleased);
    this.afterChange();
  }

  /** After any admission: open the barrier when the group is whole, else tell the waiting members. */
  private afterChange(): void {
    const { table, log } = this.options;
    if (table.state === 'Forming' && table.isComplete() && this.options.hooks?.openBarrier) {
      this.options.hooks.openBarrier();
    } else if (table.state === 'Forming' && table.isComplete()) {
      const epoch = table.openEpoch();
      log.info({ epoch, size: table.size }, 'group complete: released');
      this.broadcastReleases();
      this.options.hooks?.onRelease?.(epoch);
    } else {
      this.scheduleProgress();
    }
    this.options.onChange?.();
  }

  /** What members are told of the barrier changed outside a Join (the pod watch): tell those waiting, coalesced. */
  progressChanged(): void {
    this.scheduleProgress();
  }

  private scheduleProgress(): void {
    if (this.progressTimer) return;
    this.progressTimer = setTimeout(() => {
      this.progressTimer = undefined;
      const progress = this.options.table.progress();
      for (const s of this.sessions.values()) {
        if (s.releasedEpoch < progress.epoch || progress.epoch === 0) this.send(s, { kind: 'progress', progress });
      }
    }, this.options.progressIntervalMs ?? 200);
    this.progressTimer.unref();
  }

  private session(call: ServerDuplexStream<MemberMessage, CoordinatorMessage>): void {
    const { table, log } = this.options;
    let session: Session | undefined;
    call.on('data', (message: MemberMessage) => {
      if (!session) {
        // an 'error' on a server stream ends it with that status (grpc-js)
        if (message.kind !== 'attach') {
          call.emit('error', {
            code: GrpcStatus.INVALID_ARGUMENT,
            details: 'the first message of a session must be attach',
          });
          return;
        }
        const { attach } = message;
        const member = table.member(attach.memberId);
        const from = peerHost(call.getPeer());
        const check = member ? this.keys.check(member.id, attach.sessionSecret, from) : 'unknown-member';
        if (!member || check !== 'ok') {
          const refusal = attachRefusal(check, cleanName(attach.memberId));
          log.warn({ pod: cleanName(attach.memberId), from, check }, `session attach refused: ${refusal.details}`);
          call.emit('error', refusal);
          return;
        }
        const previous = this.sessions.get(member.id);
        if (previous) {
          previous.replaced = true;
          log.warn(
            { pod: member.id, role: attach.role, previousRole: previous.role, from },
            'a new session of this member replaces its earlier one',
          );
          previous.call.emit('error', {
            code: GrpcStatus.ABORTED,
            details: `replaced by a newer session of pod ${member.id}`,
          });
        }
        session = {
          memberId: member.id,
          role: attach.role,
          version: negotiateVersion(attach.protocolVersion) ?? PROTOCOL_VERSION,
          call,
          releasedEpoch: attach.epoch,
          reportedExit: false,
          replaced: false,
        };
        this.sessions.set(member.id, session);
        table.seen(member.id);
        // a member attaching after the barrier opened gets its release at once, else where the barrier stands
        const release = table.releases().get(member.id);
        if (release && session.releasedEpoch < release.epoch) {
          session.releasedEpoch = release.epoch;
          this.send(session, { kind: 'release', release });
        } else if (!release) {
          this.send(session, { kind: 'progress', progress: table.progress() });
        }
        this.options.hooks?.onAttach?.(member, session.role, attach.epoch);
        return;
      }
      const member = table.member(session.memberId);
      if (!member) return;
      if (message.kind === 'heartbeat') {
        table.seen(member.id);
        this.options.hooks?.onHeartbeat?.(member);
      } else if (message.kind === 'engine') {
        // the member's words go into the group status, recovery reasons and logs: cleaned and capped once, here
        const engine = {
          ...message.engine,
          signal: cleanText(message.engine.signal, 16),
          message: cleanText(message.engine.message, ENGINE_MESSAGE_LIMIT),
        };
        if (engine.state === 'ENGINE_EXITED' || engine.state === 'ENGINE_STOPPED') {
          session.reportedExit = true;
        }
        table.recordEngine(member.id, engine);
        // recovery first: an engine's end makes it stop every other engine of the group, which wait for nothing else
        this.options.hooks?.onEngineEvent?.(member, engine);
        log.info({ pod: member.id, rank: member.rank, engine }, 'engine event');
        this.send(session, { kind: 'ack', ack: { sequence: 0 } });
        this.options.onChange?.();
      }
    });
    const closed = () => {
      if (!session) return;
      const s = session;
      session = undefined;
      if (this.sessions.get(s.memberId) === s) this.sessions.delete(s.memberId);
      const member = table.member(s.memberId);
      if (member && !s.replaced)
        this.options.hooks?.onSessionClosed?.(member, s.role, s.reportedExit || s.role === 'ROLE_BOOTSTRAP');
      if (!call.writableEnded) call.end();
    };
    call.on('end', closed);
    call.on('error', closed);
    call.on('cancelled', closed);
  }

  private send(session: Session, message: CoordinatorMessage): boolean {
    if (COMMAND_SINCE[message.kind] > session.version) return false;
    if (session.call.writableEnded || session.call.destroyed) return false;
    session.call.write(message);
    return true;
  }

  /**
   * The group's status for a member (`membersShown`), or what anyone may know: how far the group is, not who is in it,
   * where they run, or why they failed.
   */
  private statusReply(membersShown: boolean): StatusReply {
    const s = this.options.table.snapshot();
    const states = new Map(membersShown ? this.options.table.members().map((m) => [m.id, m.state]) : []);
    return {
      protocolVersion: PROTOCOL_VERSION,
      group: s.group,
      namespace: s.namespace,
      size: s.size,
      epoch: s.epoch,
      state: s.state,
      members: membersShown
        ? s.members.map((m) => ({
            rank: m.rank,
            pod: m.pod,
            node: m.node ?? '',
            address: m.address ?? '',
            ready: m.ready,
            state: states.get(m.pod) ?? '',
            reason: m.reason ?? '',
          }))
        : [],
      restarts: s.restarts,
      lastReason: membersShown ? (s.lastReason ?? '') : '',
      lastChange: s.lastChange,
      joined: this.options.table.joinedCount(),
      ready: s.members.filter((m) => m.ready).length,
      membersShown,
    };
  }
}

/** The identity as sent, with defaults for what an older member leaves out. */
function normaliseIdentity(identity: MemberIdentity | undefined): MemberIdentity {
  const base: MemberIdentity = identity ?? {
    pod: '',
    namespace: '',
    ip: '',
    node: '',
    rankSource: '',
    devices: [],
    group: '',
    groupSize: 0,
    hostname: '',
  };
  return { ...base, devices: base.devices ?? [] };
}

/** Why an attach is refused, as the member sees it; the same words whatever secret was tried. */
function attachRefusal(check: SessionCheck, pod: string): { code: GrpcStatus; details: string } {
  if (check === 'unknown-member') return { code: GrpcStatus.NOT_FOUND, details: `unknown member ${pod}: join first` };
  if (check === 'other-address') {
    return {
      code: GrpcStatus.PERMISSION_DENIED,
      details: `pod ${pod}: a session must come from the address its Join came from`,
    };
  }
  return {
    code: GrpcStatus.UNAUTHENTICATED,
    details: `pod ${pod}: the session secret is missing or not the one its latest Join returned: join again`,
  };
}

function toServiceError(err: unknown): Error & { code: GrpcStatus; details: string } {
  if (err instanceof JoinRefused) {
    return Object.assign(new Error(err.message), { code: GRPC_CODE[err.code], details: err.message });
  }
  const message = errorMessage(err);
  return Object.assign(new Error(message), { code: GrpcStatus.INTERNAL, details: message });
}
