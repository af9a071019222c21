/**
 * Chaos with an attacker: a real group (coordinator and two `lockstep run` members, real processes on loopback, with
 * the API server double, the product's RBAC and pod-bound tokens) forms and then recovers from a killed engine while
 * an attacker who knows the pod names (they are in every pod list) keeps trying to join it or fail it:
 *
 * - floods of joins in a real member's name without a token, and with a forged one;
 * - a member's real token replayed with another address and node (a stolen token);
 * - Session attaches as a real member with no or a guessed session secret, each reporting ENGINE_EXITED;
 * - Status calls fishing for the members' addresses.
 *
 * The group must form and recover as if the attacker were not there, no attacker request may be admitted, the
 * attacker's address may reach no member, and Status must give it counts only.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, credentials, status as grpcStatus, Metadata, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { queryStatus } from '../../../leader/member/client.js';
import { readEnvFile } from '../../../leader/member/env-file.js';
import type { JoinReply, JoinRequest, MemberIdentity } from '../../../leader/protocol/messages.js';
import { groupService, PROTOCOL_VERSION } from '../../../leader/protocol/service.js';
import { type ApiServer, startApiServer } from '../../cluster/apiserver/index.js';
import {
  freePort,
  killAll,
  lockstep,
  type Proc,
  recoveryArgs,
  type StartedCoordinator,
  startCoordinator,
} from '../support/processes.js';
import { clusterCoordinatorArgs, createPod, groupStatus, seedNamespace, until, writeToken } from './group-cluster.js';

const NS = 'attack';
const SIZE = 2;
const pod = (rank: number) => `svc-${rank}`;
const ipOf = (rank: number) => `127.0.0.${90 + rank}`;
const ATTACKER_IP = '6.6.6.6';

/** A plain engine: prints its epoch and pid (the shell's, read as cut's parent: run expands `$$`), then sleeps. */
const SLEEPER = [
  '/bin/sh',
  '-c',
  'echo "serving epoch=$LOCKSTEP_EPOCH pid=$(cut -d" " -f4 /proc/self/stat)"; exec sleep 600',
];

let api: ApiServer;
let work: string;
let coordinator: StartedCoordinator;
const members: Proc[] = [];
const envDirs: string[] = [];
const tokens: string[] = [];

interface Tally {
  admitted: number;
  refused: number;
  codes: Set<string>;
}

/**
 * The attacker: rounds of concurrent requests until stopped, each request counted as admitted (the coordinator
 * answered it as it answers a member) or refused (with its gRPC code).
 */
class Attacker {
  readonly tally = new Map<string, Tally>();
  readonly statusReplies: Array<{ membersShown: boolean; members: number }> = [];
  private running = true;
  private loop: Promise<void> | undefined;
  private readonly client: Client;

  constructor(
    private readonly address: string,
    private readonly stolenToken: string,
  ) {
    this.client = new Client(address, credentials.createInsecure());
  }

  start(): void {
    this.loop = (async () => {
      while (this.running) {
        await this.round();
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    this.client.close();
  }

  private count(kind: string, admitted: boolean, code?: number): void {
    const t = this.tally.get(kind) ?? { admitted: 0, refused: 0, codes: new Set<string>() };
    if (admitted) t.admitted++;
    else {
      t.refused++;
      t.codes.add(grpcStatus[code ?? grpcStatus.UNKNOWN] ?? String(code));
    }
    this.tally.set(kind, t);
  }

  private identity(rank: number, ip: string, node: string): MemberIdentity {
    return {
      pod: pod(rank),
      namespace: NS,
      ip,
      node,
      rankSource: '',
      devices: [],
      group: 'svc',
      groupSize: SIZE,
      hostname: '',
    };
  }

  private join(kind: string, token: string, identity: MemberIdentity): Promise<void> {
    const method = groupService().Join;
    const request: JoinRequest = { protocolVersion: PROTOCOL_VERSION, member: identity, token, role: 'ROLE_BOOTSTRAP' };
    return new Promise((resolve) => {
      this.client.makeUnaryRequest<JoinRequest, JoinReply>(
        method.path,
        method.requestSerialize,
        method.responseDeserialize,
        request,
        new Metadata(),
        { deadline: Date.now() + 3000 },
        (err) => {
          this.count(kind, !err, err?.code);
          resolve();
        },
      );
    });
  }

  /** A Session attach as a real member, then five forged ENGINE_EXITED reports; admitted if anything comes back. */
  private attach(kind: string, secret: string): Promise<void> {
    const method = groupService().Session;
    const call = this.client.makeBidiStreamRequest(method.path, method.requestSerialize, method.responseDeserialize);
    let answered = false;
    call.on('data', () => {
      answered = true;
    });
    return new Promise((resolve) => {
      let counted = false;
      const done = (err?: ServiceError) => {
        if (counted) return;
        counted = true;
        // admitted: the coordinator sent it anything (an ack, a release) or let the stream end cleanly
        this.count(kind, answered || !err, err?.code);
        resolve();
      };
      call.on('error', (err: ServiceError) => done(err));
      call.on('end', () => done());
      call.write({
        kind: 'attach',
        attach: {
          memberId: pod(1),
          role: 'ROLE_RUN',
          epoch: 0,
          protocolVersion: PROTOCOL_VERSION,
          sessionSecret: secret,
        },
      });
      for (let i = 0; i < 5; i++) {
        call.write({
          kind: 'engine',
          engine: { epoch: 1, state: 'ENGINE_EXITED', exitCode: 1, signal: '', message: 'forged' },
        });
      }
      setTimeout(() => call.cancel(), 3000).unref();
    });
  }

  private async round(): Promise<void> {
    const forged = `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from('{"sub":"x"}').toString('base64url')}.c2ln`;
    // the token-carrying attempts go out before the flood: after it, the per-address join budget refuses them all
    // before their tokens are looked at (RESOURCE_EXHAUSTED), and the credential check would never be exercised
    await Promise.all([
      this.join('join with a forged token', forged, this.identity(1, ipOf(1), '')),
      this.join(
        'join with a replayed token from another address',
        this.stolenToken,
        this.identity(1, ATTACKER_IP, 'evil-node'),
      ),
      // a flood in member 1's name, without a token
      ...Array.from({ length: 50 }, () => this.join('join without a token', '', this.identity(1, ipOf(1), ''))),
      this.attach('attach without a secret', ''),
      this.attach('attach with a guessed secret', 'A'.repeat(43)),
      queryStatus(this.address)
        .then((s) => this.statusReplies.push({ membersShown: s.membersShown, members: s.members.length }))
        .catch(() => undefined),
    ]);
  }
}

function startMember(rank: number): Proc {
  return lockstep(
    [
      'run',
      '--engine',
      'none',
      '--grace-period',
      '2s',
      '--leader-address',
      coordinator.address,
      '--pod-name',
      pod(rank),
      '--pod-ip',
      ipOf(rank),
      '--namespace',
      NS,
      '--token-file',
      tokens[rank]!,
      '--timeout',
      '10m',
      '--',
      ...SLEEPER,
    ],
    { LOCKSTEP_ENV_FILE: join(envDirs[rank]!, 'group.env'), LOCKSTEP_LOG_LEVEL: 'info' },
  );
}

/** Every member's engine pid in `epoch`, from their output. */
function enginePids(epoch: number): number[] | undefined {
  const pids = members.map((m) => Number(new RegExp(`serving epoch=${epoch} pid=(\\d+)`).exec(m.stdout())?.[1] ?? 0));
  return pids.every((p) => p > 0) ? pids : undefined;
}

/**
 * The group status on the leader pod once it shows `epoch` running. The coordinator publishes it after the release,
 * on its own schedule: a warm engine of a sleeper serves within milliseconds of the release, before the PATCH lands.
 */
function publishedStatus(epoch: number) {
  return until(`the status of epoch ${epoch} published`, () => {
    const s = groupStatus(api, NS, pod(0));
    return s?.state === 'Running' && s.epoch === epoch ? s : undefined;
  });
}

let attacker: Attacker;

describe('chaos: an attacker during formation and recovery', () => {
  beforeAll(async () => {
    api = await startApiServer({ namespaces: [NS] });
    seedNamespace(api, NS);
    work = mkdtempSync(join(tmpdir(), 'lockstep-attack-'));
    for (let r = 0; r < SIZE; r++) {
      createPod(api, NS, pod(r), 'svc');
      // the API server knows each member's address, as the kubelet reports it
      api.store.patch('pods', pod(r), { status: { podIP: ipOf(r), podIPs: [{ ip: ipOf(r) }] } }, 'merge', {
        namespace: NS,
        subresource: 'status',
      });
      envDirs[r] = mkdtempSync(join(work, `m${r}-`));
      tokens[r] = writeToken(api, NS, pod(r), work);
    }
    coordinator = await startCoordinator([
      ...clusterCoordinatorArgs(api, NS, pod(0)),
      '--group-size',
      String(SIZE),
      '--master-port',
      String(await freePort()),
      ...recoveryArgs({ heartbeatTimeout: '1s', restartBudget: 5 }),
    ]);
    // the attacker is at work before any member arrives
    attacker = new Attacker(coordinator.address, readFileSync(tokens[1]!, 'utf8'));
    attacker.start();
  }, 60_000);

  afterAll(async () => {
    await attacker?.stop();
    killAll();
    await api?.stop();
  });

  it('the group forms with its two members only', async () => {
    for (let r = 0; r < SIZE; r++) members[r] = startMember(r);
    await until('both engines serving epoch 1', () => enginePids(1), 60_000);
    const s = await publishedStatus(1);
    expect(s).toMatchObject({ state: 'Running', epoch: 1, size: SIZE });
    expect(s?.members.map((m) => m.address).sort()).toEqual([ipOf(0), ipOf(1)]);
    for (let r = 0; r < SIZE; r++) {
      const file = await readEnvFile(join(envDirs[r]!, 'group.env'));
      expect(JSON.stringify(file?.release)).not.toContain(ATTACKER_IP);
      expect(file?.env.MASTER_ADDR).toBe(ipOf(0));
    }
  }, 90_000);

  it('the group recovers from a killed engine in the next epoch, the attacker still at work', async () => {
    const before = attacker.tally.get('attach without a secret')?.refused ?? 0;
    const [, pid1] = enginePids(1)!;
    process.kill(pid1!, 'SIGKILL');
    await until('both engines serving epoch 2', () => enginePids(2), 60_000);
    const s = await publishedStatus(2);
    expect(s).toMatchObject({ state: 'Running', epoch: 2, restarts: 1 });
    expect(s?.lastReason).toMatch(/rank 1 .*engine killed by SIGKILL/);
    // the attacker kept going through the recovery
    await until('more attacks during and after the recovery', () =>
      (attacker.tally.get('attach without a secret')?.refused ?? 0) > before + 2 ? true : undefined,
    );
  }, 90_000);

  it('refused every attacker request, and Status told it counts only', async () => {
    await attacker.stop();
    // refusals by the coordinator, or the attacker's own deadline (3 s) running out while it is held off; never more
    const notAdmitted = [
      'UNAUTHENTICATED',
      'PERMISSION_DENIED',
      'RESOURCE_EXHAUSTED',
      'NOT_FOUND',
      'DEADLINE_EXCEEDED',
      'CANCELLED',
    ];
    const kinds = [
      'join without a token',
      'join with a forged token',
      'join with a replayed token from another address',
      'attach without a secret',
      'attach with a guessed secret',
    ];
    expect([...attacker.tally.keys()].sort()).toEqual([...kinds].sort());
    for (const kind of kinds) {
      const t = attacker.tally.get(kind)!;
      expect({ kind, admitted: t.admitted }).toEqual({ kind, admitted: 0 });
      expect({ kind, codes: [...t.codes].filter((c) => !notAdmitted.includes(c)) }).toEqual({ kind, codes: [] });
      expect({ kind, refused: t.refused > 0 }).toEqual({ kind, refused: true });
    }
    // the credential checks themselves said no, not only timeouts
    for (const kind of ['join with a forged token', 'attach without a secret', 'attach with a guessed secret']) {
      expect({ kind, unauthenticated: attacker.tally.get(kind)!.codes.has('UNAUTHENTICATED') }).toEqual({
        kind,
        unauthenticated: true,
      });
    }
    expect(attacker.tally.get('join without a token')!.refused).toBeGreaterThan(100);
    expect(attacker.statusReplies.length).toBeGreaterThan(0);
    expect(attacker.statusReplies.every((r) => !r.membersShown && r.members === 0)).toBe(true);
    // the forged engine reports changed nothing: still epoch 2, no more restarts
    expect(groupStatus(api, NS, pod(0))).toMatchObject({ state: 'Running', epoch: 2, restarts: 1 });
  }, 30_000);
});
