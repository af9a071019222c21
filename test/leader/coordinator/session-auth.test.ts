/**
 * The coordinator's second door: Session and Status. An attacker who knows a member's pod name (it is in every pod
 * list) but holds none of its credentials attaches as that member, hoping for the release (every member's rank, IP and
 * node) and to report ENGINE_EXITED until the group fails; or asks Status for the members' addresses.
 */
import { Client, type ClientDuplexStream, credentials, Metadata, type ServiceError } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { Coordinator } from '../../../leader/coordinator/coordinator.js';
import { type SessionCheck, SessionKeys, sameHost } from '../../../leader/coordinator/session-keys.js';
import { joinGroup, queryStatus } from '../../../leader/member/client.js';
import type {
  CoordinatorMessage,
  JoinReply,
  MemberIdentity,
  MemberMessage,
  Role,
} from '../../../leader/protocol/messages.js';
import { groupService, PROTOCOL_VERSION } from '../../../leader/protocol/service.js';
import { coordinatorOptions } from '../support/coordinator.js';

const stops: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

function identity(pod: string, ip: string): MemberIdentity {
  return { pod, namespace: 'ns', ip, node: 'n1', rankSource: '', devices: [], group: 'g', groupSize: 2, hostname: '' };
}

async function start(hooks: { closed?: Array<{ pod: string; clean: boolean }> } = {}) {
  const coordinator = new Coordinator(
    coordinatorOptions({
      hooks: { onSessionClosed: (m, _role, clean) => hooks.closed?.push({ pod: m.id, clean }) },
    }),
  );
  const port = await coordinator.start();
  stops.push(() => coordinator.stop());
  return { coordinator, address: `127.0.0.1:${port}` };
}

/** Both members join for real and wait for the release: the group runs epoch 1. */
async function formedGroup(address: string, port: number) {
  const join = (pod: string, ip: string) =>
    joinGroup({
      target: { host: '127.0.0.1', port, source: 'test' },
      identity: identity(pod, ip),
      token: '',
      role: 'ROLE_BOOTSTRAP',
      timeoutMs: 10_000,
      progressIntervalMs: 60_000,
      onProgress: () => {},
    });
  const joined = await Promise.all([join('g-0', '10.0.0.1'), join('g-1', '10.0.0.2')]);
  for (const j of joined) stops.push(() => j.session.close());
  void address;
  return joined;
}

interface Stream {
  messages: CoordinatorMessage[];
  ended: Promise<ServiceError | undefined>;
  call: ClientDuplexStream<MemberMessage, CoordinatorMessage>;
}

/** A raw Session stream that sends an attach with whatever the caller puts in it. */
function rawAttach(address: string, memberId: string, sessionSecret: string, role: Role = 'ROLE_RUN'): Stream {
  const client = new Client(address, credentials.createInsecure());
  stops.push(() => client.close());
  const method = groupService().Session;
  const call = client.makeBidiStreamRequest(method.path, method.requestSerialize, method.responseDeserialize);
  stops.push(() => call.cancel());
  const messages: CoordinatorMessage[] = [];
  call.on('data', (m: CoordinatorMessage) => messages.push(m));
  const ended = new Promise<ServiceError | undefined>((resolve) => {
    call.on('error', (err: ServiceError) => resolve(err));
    call.on('end', () => resolve(undefined));
  });
  call.write({
    kind: 'attach',
    attach: { memberId, role, epoch: 0, protocolVersion: PROTOCOL_VERSION, sessionSecret },
  });
  return { messages, ended, call };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('session attach', () => {
  it.each([
    ['no secret', ''],
    ['a guessed secret', 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'],
  ])('refuses an attach with %s: no release, and its engine reports change nothing', async (_what, secret) => {
    const { coordinator, address } = await start();
    await formedGroup(address, Number(address.split(':')[1]));
    const attacker = rawAttach(address, 'g-1', secret);
    for (let i = 0; i < 5; i++) {
      attacker.call.write({
        kind: 'engine',
        engine: { epoch: 1, state: 'ENGINE_EXITED', exitCode: 1, signal: '', message: 'forged' },
      });
    }
    const err = await attacker.ended;
    expect(err?.code).toBe(16); // UNAUTHENTICATED
    expect(err?.details).toBe(
      'pod g-1: the session secret is missing or not the one its latest Join returned: join again',
    );
    expect(attacker.messages).toEqual([]);
    expect(coordinator.table.member('g-1')?.state).toBe('Released');
    expect(coordinator.table.state).toBe('Running');
  });

  it("admits the member's own secret, and refuses the secret of an earlier Join once it joined again", async () => {
    const { address } = await start();
    const [, second] = await formedGroup(address, Number(address.split(':')[1]));
    const own = rawAttach(address, 'g-1', second!.reply.sessionSecret);
    await until(() => own.messages.length > 0);
    expect(own.messages[0]).toMatchObject({ kind: 'release', release: { epoch: 1, rank: 1 } });
    // the pod joins again (its bootstrap restarted): the earlier secret is stale now
    const rejoin = await unaryJoin(address, identity('g-1', '10.0.0.2'));
    expect(rejoin.sessionSecret).not.toBe(second!.reply.sessionSecret);
    expect(rejoin.sessionSecret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const stale = rawAttach(address, 'g-1', second!.reply.sessionSecret);
    expect((await stale.ended)?.code).toBe(16);
  });

  it('a second attach of the same member replaces the first, which ends ABORTED without looking like a loss', async () => {
    const closed: Array<{ pod: string; clean: boolean }> = [];
    const { coordinator, address } = await start({ closed });
    const joined = await formedGroup(address, Number(address.split(':')[1]));
    const second = joined[1];
    for (const j of joined) j.session.close();
    await until(() => closed.length >= 2); // the two bootstrap sessions of the formation
    closed.length = 0;
    const first = rawAttach(address, 'g-1', second!.reply.sessionSecret);
    await until(() => first.messages.length > 0);
    const next = rawAttach(address, 'g-1', second!.reply.sessionSecret);
    const err = await first.ended;
    expect(err?.code).toBe(10); // ABORTED
    expect(err?.details).toBe('replaced by a newer session of pod g-1');
    await until(() => next.messages.length > 0);
    await sleep(100);
    expect(closed).toEqual([]);
    // the newer session is the one commands go to
    expect(coordinator.server.sendTo('g-1', { kind: 'ack', ack: { sequence: 7 } })).toBe(1);
    await until(() => next.messages.some((m) => m.kind === 'ack'));
  });
});

describe('Status', () => {
  it('tells anyone counts only, and members everything', async () => {
    const { address } = await start();
    const [first] = await formedGroup(address, Number(address.split(':')[1]));
    const anyone = await queryStatus(address);
    expect(anyone).toMatchObject({
      group: 'g',
      size: 2,
      joined: 2,
      ready: 2,
      state: 'Running',
      members: [],
      lastReason: '',
      membersShown: false,
    });
    expect(JSON.stringify(anyone)).not.toContain('10.0.0.');
    const forged = await queryStatus(address, { memberId: 'g-0', sessionSecret: 'x' });
    expect(forged.members).toEqual([]);
    const member = await queryStatus(address, first!.reply);
    expect(member.membersShown).toBe(true);
    expect(member.members.map((m) => [m.pod, m.address, m.node])).toEqual([
      ['g-0', '10.0.0.1', 'n1'],
      ['g-1', '10.0.0.2', 'n1'],
    ]);
  });
});

describe('SessionKeys', () => {
  const keys = new SessionKeys();
  const secret = keys.issue('web-1', '10.0.0.5');
  it.each<[string, string, string, string, SessionCheck]>([
    ['the secret from the address that joined', 'web-1', secret, '10.0.0.5', 'ok'],
    ['the secret replayed from another host', 'web-1', secret, '6.6.6.6', 'other-address'],
    ['no secret', 'web-1', '', '10.0.0.5', 'wrong-secret'],
    ['a secret one character off', 'web-1', `${secret.slice(0, -1)}x`, '10.0.0.5', 'wrong-secret'],
    ["another member's name", 'web-2', secret, '10.0.0.5', 'unknown-member'],
  ])('%s', (_what, member, presented, host, expected) => {
    expect(keys.check(member, presented, host)).toBe(expected);
  });

  it('treats loopback addresses as one host (the coordinator pod itself) and nothing else', () => {
    expect(sameHost('127.0.0.1', '::1')).toBe(true);
    expect(sameHost('127.0.0.1', '::ffff:127.0.0.9')).toBe(true);
    expect(sameHost('127.0.0.1', '10.0.0.1')).toBe(false);
    expect(sameHost('10.0.0.1', '10.0.0.1')).toBe(true);
  });
});

function unaryJoin(address: string, member: MemberIdentity): Promise<JoinReply> {
  const client = new Client(address, credentials.createInsecure());
  stops.push(() => client.close());
  const method = groupService().Join;
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      { protocolVersion: PROTOCOL_VERSION, member, token: '', role: 'ROLE_BOOTSTRAP' },
      new Metadata(),
      {},
      (err, r) => (err || !r ? reject(err) : resolve(r)),
    ),
  );
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(20);
  }
}
