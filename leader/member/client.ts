/**
 * The member side of the protocol: find the coordinator, join (retrying while the leader's DNS name does not resolve
 * or the coordinator is not up), wait at the barrier with progress lines, and keep a session for heartbeats and
 * engine reports. Imports only gRPC and node: this is bootstrap's start-up path.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import {
  type ChannelCredentials,
  type ChannelOptions,
  Client,
  type ClientDuplexStream,
  credentials,
  status as GrpcStatus,
  Metadata,
  type ServiceError,
} from '@grpc/grpc-js';
import { formatHostPort } from '../../src/net/host-port.js';
import type {
  CoordinatorMessage,
  EngineEvent,
  EngineState,
  JoinReply,
  JoinRequest,
  MemberIdentity,
  MemberMessage,
  Progress,
  Release,
  Role,
  Stop,
} from '../protocol/messages.js';
import { progressMessage } from '../protocol/progress.js';
import { groupService, PROTOCOL_VERSION, warmStopCodec } from '../protocol/service.js';
import type { CoordinatorTarget } from './locate.js';

/** The coordinator said no (duplicate rank, other group…): retrying cannot help. */
export class JoinRefusedError extends Error {
  override name = 'JoinRefusedError';
}

/** The group this pod belongs to has failed (its restart budget is spent): joining cannot help. */
export class GroupFailedError extends JoinRefusedError {
  override name = 'GroupFailedError';
}

/** The wait was abandoned (SIGTERM): not a failure of the group. */
class JoinAbortedError extends Error {
  override name = 'JoinAbortedError';
}

/** The deadline passed; the message says what was still missing. */
export class JoinTimeoutError extends Error {
  override name = 'JoinTimeoutError';
}

const FATAL = new Set<number>([
  GrpcStatus.ALREADY_EXISTS,
  GrpcStatus.OUT_OF_RANGE,
  GrpcStatus.FAILED_PRECONDITION,
  GrpcStatus.INVALID_ARGUMENT,
  GrpcStatus.UNAUTHENTICATED,
  GrpcStatus.PERMISSION_DENIED,
]);

export interface JoinOptions {
  target: CoordinatorTarget;
  identity: MemberIdentity;
  token: string;
  role: Role;
  timeoutMs: number;
  /** a progress line every this often (and on the first change) */
  progressIntervalMs: number;
  onProgress: (line: string) => void;
  /** host → address; tests replace DNS here */
  resolve?: (host: string) => Promise<string>;
  /** the moment Join is first sent (the start-up benchmark reads it) */
  onJoinSent?: () => void;
  /** gRPC channel options (the benchmark gives each in-process member its own connection) */
  channelOptions?: ChannelOptions;
  /** the coordinator's CA: TLS instead of plaintext */
  ca?: Buffer;
  /** the last epoch this member ran (from its environment file): a restarted coordinator continues above it */
  lastEpoch?: number;
  /** abandons the join at once (run's SIGTERM): rejects with JoinAbortedError */
  signal?: AbortSignal;
}

/** How a member reaches a coordinator: TLS with its CA and the name its certificate carries, or plaintext. */
export interface MemberTls {
  ca: Buffer;
  /** the name to verify when the channel connects to a resolved IP (the leader's DNS name) */
  serverName?: string;
}

function channel(tls: MemberTls | undefined, base?: ChannelOptions): [ChannelCredentials, ChannelOptions | undefined] {
  if (!tls) return [credentials.createInsecure(), base];
  const options = tls.serverName ? { ...base, 'grpc.ssl_target_name_override': tls.serverName } : base;
  return [credentials.createSsl(tls.ca), options];
}

export interface Joined {
  reply: JoinReply;
  release: Release;
  session: MemberSession;
  address: string;
}

async function defaultResolve(host: string): Promise<string> {
  if (isIP(host)) return host;
  const { address } = await lookup(host);
  return address;
}

/**
 * Waits `ms`, or less once `signal` aborts: an abandoned join (SIGTERM) must not sit out a backoff or a DNS timeout
 * with a timer that keeps the process alive.
 */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Joins and waits for the release. Resolves with the release and an open session (bootstrap closes it, run keeps
 * it); rejects with JoinRefusedError (GroupFailedError for a failed group), JoinTimeoutError, or JoinAbortedError
 * once `signal` aborts (whatever it was waiting for: DNS, the coordinator, the barrier).
 */
export async function joinGroup(options: JoinOptions): Promise<Joined> {
  const signal = options.signal;
  if (!signal) return joinUntil(options, { current: undefined });
  if (signal.aborted) throw new JoinAbortedError('the join was abandoned');
  const open: { current: { close(): void } | undefined } = { current: undefined };
  let onAbort = () => {};
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => {
      open.current?.close();
      reject(new JoinAbortedError('the join was abandoned'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
  });
  const joining = joinUntil(options, open);
  // the loop notices the abort at its next step; its late outcome goes nowhere
  joining.catch(() => undefined);
  try {
    return await Promise.race([joining, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

async function joinUntil(options: JoinOptions, open: { current: { close(): void } | undefined }): Promise<Joined> {
  const resolve = options.resolve ?? defaultResolve;
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  const where = `${options.target.host}:${options.target.port}`;
  let waiting = `looking up ${options.target.host}`;
  let lastLine = '';
  let lastPrinted = 0;
  const report = (line: string, force = false) => {
    waiting = line;
    const now = Date.now();
    if (force || (line !== lastLine && lastPrinted === 0) || now - lastPrinted >= options.progressIntervalMs) {
      options.onProgress(line);
      lastLine = line;
      lastPrinted = now;
    }
  };
  const ticker = setInterval(() => report(waiting, true), options.progressIntervalMs);
  ticker.unref();
  let delay = 100;
  let sentOnce = false;
  try {
    for (;;) {
      if (options.signal?.aborted) throw new JoinAbortedError('the join was abandoned');
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new JoinTimeoutError(`gave up after ${formatMs(options.timeoutMs)}: ${waiting}`);
      }
      let address: string;
      try {
        address = await withTimeout(resolve(options.target.host), left, options.signal);
      } catch (err) {
        report(
          `waiting for the leader's DNS name ${options.target.host} to resolve (${options.target.source}): ${errorText(err)}`,
        );
        await sleep(Math.min(delay, Math.max(0, deadline - Date.now())), options.signal);
        delay = Math.min(delay * 2, 1000);
        continue;
      }
      // the certificate names the leader (its DNS name), not the address it resolved to
      const tls = options.ca
        ? { ca: options.ca, serverName: options.target.host !== address ? options.target.host : undefined }
        : undefined;
      const client = new Client(formatHostPort(address, options.target.port), ...channel(tls, options.channelOptions));
      open.current = client;
      let session: MemberSession | undefined;
      try {
        const request: JoinRequest = {
          protocolVersion: PROTOCOL_VERSION,
          member: options.identity,
          token: options.token,
          role: options.role,
          lastEpoch: options.lastEpoch ?? 0,
        };
        if (!sentOnce) {
          sentOnce = true;
          options.onJoinSent?.();
        }
        const reply = await unaryJoin(client, request, Math.min(5000, Math.max(1, deadline - Date.now())));
        delay = 100;
        report(`joined group ${reply.group} as rank ${reply.rank}; waiting for the other members`, true);
        session = new MemberSession(client, reply, options.role);
        open.current = session;
        const release = await session.waitForRelease(deadline, (p) =>
          report(`${progressMessage(p)} (this pod is rank ${reply.rank})`),
        );
        return { reply: { ...reply, rank: release.rank }, release, session, address };
      } catch (err) {
        // an open stream would keep the process alive: cancel it, not just the channel
        session?.close();
        client.close();
        if (err instanceof JoinTimeoutError) {
          throw new JoinTimeoutError(`gave up after ${formatMs(options.timeoutMs)}: ${waiting}`);
        }
        if (err instanceof JoinRefusedError) throw err;
        if (options.signal?.aborted) throw new JoinAbortedError('the join was abandoned');
        const e = err as Partial<ServiceError>;
        if (e.code === GrpcStatus.ABORTED) {
          throw new GroupFailedError(`the coordinator at ${where} refused this pod: ${e.details || e.message}`);
        }
        if (e.code !== undefined && FATAL.has(e.code)) {
          throw new JoinRefusedError(`the coordinator at ${where} refused this pod: ${e.details || e.message}`);
        }
        // a deadline while connecting (the last try before the timeout has little time left) is the same symptom as
        // an unreachable coordinator: keep saying so, with the TLS hint, rather than "lost"
        const unreachable = e.code === GrpcStatus.UNAVAILABLE || e.code === GrpcStatus.DEADLINE_EXCEEDED;
        report(
          unreachable
            ? `waiting for the coordinator at ${where} (${options.target.source}) to come up: ${e.details || 'unavailable'}${
                // a plaintext member and a TLS coordinator (or a wrong CA) look like a coordinator that is not up
                options.ca
                  ? ' (TLS: does --tls-ca sign its certificate?)'
                  : ' (plaintext: if the coordinator serves TLS, pass --tls-ca)'
              }`
            : `lost the coordinator at ${where}: ${e.details || errorText(err)}; joining again`,
        );
        await sleep(Math.min(delay, Math.max(0, deadline - Date.now())), options.signal);
        delay = Math.min(delay * 2, 1000);
      }
    }
  } finally {
    clearInterval(ticker);
  }
}

function unaryJoin(client: Client, request: JoinRequest, timeoutMs: number): Promise<JoinReply> {
  const method = groupService().Join;
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      request,
      new Metadata(),
      { deadline: Date.now() + timeoutMs },
      (err, reply) => (err || !reply ? reject(err ?? new Error('empty Join reply')) : resolve(reply)),
    );
  });
}

/**
 * Reads the group status from a coordinator (the Status RPC). With a member's credentials (its pod name and the
 * session secret of its latest Join) the answer names every member; without, it carries counts only.
 */
export function queryStatus(address: string, member?: { memberId: string; sessionSecret: string }, timeoutMs = 5000) {
  const method = groupService().Status;
  const client = new Client(address, credentials.createInsecure());
  return new Promise<import('../protocol/messages.js').StatusReply>((resolve, reject) => {
    client.makeUnaryRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      member ?? {},
      new Metadata(),
      { deadline: Date.now() + timeoutMs },
      (err, reply) => {
        client.close();
        if (err || !reply) reject(err ?? new Error('empty Status reply'));
        else resolve(reply);
      },
    );
  });
}

export interface SessionHandlers {
  /** a new epoch opened (after a recovery): recovery restarts the engine here */
  onRelease?(release: Release): void;
  onStop?(stop: Stop): void;
  onProgress?(progress: Progress): void;
  /** the stream broke; the session re-attaches by itself */
  onDisconnect?(reason: string): void;
}

/**
 * One member's stream to the coordinator. Waits for the release, then (for run) heartbeats and reports the engine;
 * re-attaches when the stream breaks, until closed.
 */
export class MemberSession {
  private call: ClientDuplexStream<MemberMessage, CoordinatorMessage> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;
  private sequence = 0;
  private epoch = 0;
  private engineState: EngineState = 'ENGINE_STATE_UNSPECIFIED';
  private closed = false;
  private handlers: SessionHandlers = {};
  private reconnect: NodeJS.Timeout | undefined;
  private acks: Array<() => void> = [];

  constructor(
    private readonly client: Client,
    readonly joined: Pick<JoinReply, 'memberId' | 'heartbeatIntervalMs' | 'protocolVersion' | 'sessionSecret'>,
    private readonly role: Role,
  ) {}

  /** Attaches and resolves with the first release; rejects when the stream fails or the deadline passes. */
  waitForRelease(deadline: number, onProgress: (p: Progress) => void): Promise<Release> {
    return new Promise<Release>((resolve, reject) => {
      const timer = setTimeout(() => reject(new JoinTimeoutError('deadline')), Math.max(0, deadline - Date.now()));
      timer.unref();
      this.open(0, {
        onProgress: (p) => {
          if (p.state === 'Failed') {
            // the group failed while this member waited at the barrier: it never opens again
            clearTimeout(timer);
            reject(new GroupFailedError(`group failed while waiting at the barrier (epoch ${p.epoch})`));
            return;
          }
          onProgress(p);
        },
        onRelease: (release) => {
          clearTimeout(timer);
          this.epoch = release.epoch;
          resolve(release);
        },
        onError: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
    });
  }

  /** Keeps the session for run: heartbeats every interval, commands to the handlers, re-attach on breaks. */
  keep(epoch: number, handlers: SessionHandlers): void {
    this.epoch = epoch;
    this.handlers = handlers;
    if (!this.call) this.attachForRun();
    const interval = Math.max(100, this.joined.heartbeatIntervalMs || 1000);
    this.heartbeat = setInterval(() => {
      this.write({
        kind: 'heartbeat',
        heartbeat: { epoch: this.epoch, sequence: ++this.sequence, engine: this.engineState },
      });
    }, interval);
    this.heartbeat.unref();
    // the first Stop must not wait for its codec to be generated: run's session is the one that receives it
    setImmediate(warmStopCodec).unref();
  }

  /**
   * Reports the engine's state; resolves when the coordinator acknowledged it or after `waitMs`. The event names the
   * epoch of the engine it is about, never the session's current one: an engine of epoch N can be reported stopped
   * after the Release of N+1 arrived, and stamped N+1 it would read as a loss of the new epoch.
   */
  reportEngine(event: EngineEvent, waitMs = 0): Promise<void> {
    this.engineState = event.state;
    const sent = this.write({ kind: 'engine', engine: event });
    if (!sent || waitMs <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, waitMs);
      this.acks.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  close(): void {
    this.closed = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.reconnect) clearTimeout(this.reconnect);
    const call = this.call;
    this.call = undefined;
    if (call) {
      call.end();
      // the coordinator sees the session end at once; nothing is left pending to keep the process alive
      call.cancel();
    }
    this.client.close();
  }

  private attachForRun(): void {
    // a session closed from a handler must not attach again from the retry timer
    if (this.closed) return;
    this.open(this.epoch, {
      onProgress: (p) => this.handlers.onProgress?.(p),
      onRelease: (r) => {
        this.epoch = r.epoch;
        this.handlers.onRelease?.(r);
      },
      onError: (err) => {
        this.call = undefined;
        if (this.closed) return;
        this.handlers.onDisconnect?.(errorText(err));
        this.reconnect = setTimeout(() => this.attachForRun(), 1000);
        this.reconnect.unref();
      },
    });
  }

  private open(
    epoch: number,
    on: { onProgress(p: Progress): void; onRelease(r: Release): void; onError(err: unknown): void },
  ): void {
    const method = groupService().Session;
    const call = this.client.makeBidiStreamRequest(method.path, method.requestSerialize, method.responseDeserialize);
    this.call = call;
    let failed = false;
    const fail = (err: unknown) => {
      if (failed) return;
      failed = true;
      if (this.call === call) this.call = undefined;
      on.onError(err);
    };
    call.on('data', (message: CoordinatorMessage) => {
      switch (message.kind) {
        case 'progress':
          on.onProgress(message.progress);
          break;
        case 'release':
          on.onRelease(message.release);
          break;
        case 'stop':
          this.handlers.onStop?.(message.stop);
          break;
        case 'ack':
          this.acks.shift()?.();
          break;
        default:
          // a command from a newer coordinator that this member does not know: ignored by design
          break;
      }
    });
    call.on('error', fail);
    call.on('end', () => fail(new Error('the coordinator ended the session')));
    call.write({
      kind: 'attach',
      attach: {
        memberId: this.joined.memberId,
        role: this.role,
        epoch,
        protocolVersion: PROTOCOL_VERSION,
        sessionSecret: this.joined.sessionSecret,
      },
    });
  }

  private write(message: MemberMessage): boolean {
    const call = this.call;
    if (!call || call.writableEnded || call.destroyed) return false;
    call.write(message);
    return true;
  }
}

/**
 * A session for a member that joined earlier (run after bootstrap): attach with the member id and the session secret
 * its Join returned, no Join.
 */
export function attachSession(
  coordinator: string,
  member: { memberId: string; sessionSecret: string },
  heartbeatIntervalMs: number,
  role: Role,
  tls?: MemberTls,
): MemberSession {
  const client = new Client(coordinator, ...channel(tls));
  return new MemberSession(
    client,
    {
      memberId: member.memberId,
      sessionSecret: member.sessionSecret,
      heartbeatIntervalMs,
      protocolVersion: PROTOCOL_VERSION,
    },
    role,
  );
}

/** `promise`, or a rejection after `ms` or once `signal` aborts, whichever comes first. */
function withTimeout<T>(promise: Promise<T>, ms: number, signal?: AbortSignal): Promise<T> {
  return new Promise((resolve, reject) => {
    const settle = (finish: () => void) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', aborted);
      finish();
    };
    const aborted = () => settle(() => reject(new JoinAbortedError('the join was abandoned')));
    const timer = setTimeout(() => settle(() => reject(new Error(`no answer within ${formatMs(ms)}`))), ms);
    if (signal?.aborted) return aborted();
    signal?.addEventListener('abort', aborted, { once: true });
    promise.then(
      (v) => settle(() => resolve(v)),
      (e: unknown) => settle(() => reject(e)),
    );
  });
}

function errorText(err: unknown): string {
  const e = err as { code?: string; message?: string; details?: string };
  if (e?.details) return e.details;
  if (e?.code === 'ENOTFOUND') return 'not found';
  if (e?.code === 'EAI_AGAIN') return 'temporary DNS failure';
  return e?.message ?? String(err);
}

export function formatMs(ms: number): string {
  if (ms % 60_000 === 0 && ms >= 60_000) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
