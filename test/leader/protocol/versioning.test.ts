/**
 * Versioning: the coordinator admits members that send only what an older protocol knew, and a member decodes a
 * coordinator message carrying a command it does not know without failing (it is simply ignored).
 */
import { Client, credentials, Metadata } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { Coordinator } from '../../../leader/coordinator/coordinator.js';
import type { JoinReply } from '../../../leader/protocol/messages.js';
import {
  COMMAND_SINCE,
  groupService,
  MIN_PROTOCOL_VERSION,
  negotiateVersion,
  PROTOCOL_VERSION,
} from '../../../leader/protocol/service.js';
import { coordinatorOptions } from '../support/coordinator.js';

const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

describe('protocol versions', () => {
  it('speaks the lower of the two versions and refuses members older than the minimum', () => {
    expect(negotiateVersion(PROTOCOL_VERSION)).toBe(PROTOCOL_VERSION);
    expect(negotiateVersion(PROTOCOL_VERSION + 5)).toBe(PROTOCOL_VERSION);
    expect(negotiateVersion(0)).toBe(1);
    expect(negotiateVersion(1, 3, 2)).toBeUndefined();
    expect(negotiateVersion(2, 3, 2)).toBe(2);
    expect(MIN_PROTOCOL_VERSION).toBeLessThanOrEqual(PROTOCOL_VERSION);
    expect(Object.values(COMMAND_SINCE).every((v) => v >= 1 && v <= PROTOCOL_VERSION)).toBe(true);
  });

  it('ignores a coordinator command from a newer protocol when decoding', () => {
    const decode = groupService().Session.responseDeserialize;
    // field 15, length-delimited, empty: a oneof case this build has never heard of
    const unknown = decode(Buffer.from([0x7a, 0x00]));
    expect((unknown as { kind?: string }).kind).toBeUndefined();
    // and a known case next to it still decodes
    const progress = decode(Buffer.from([0x0a, 0x02, 0x08, 0x03]));
    expect(progress).toMatchObject({ kind: 'progress', progress: { joined: 3 } });
  });

  it('admits a Join that carries only the pod name and nothing newer', async () => {
    const coordinator = new Coordinator(coordinatorOptions());
    const port = await coordinator.start();
    stops.push(() => coordinator.stop());
    const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
    stops.push(async () => client.close());
    const method = groupService().Join;
    // JoinRequest { member (2) { pod (1) = "old-1" } }: no version, devices, rank hint or size
    const raw = Buffer.from([0x12, 0x07, 0x0a, 0x05, ...Buffer.from('old-1')]);
    const reply = await new Promise<JoinReply>((resolve, reject) =>
      client.makeUnaryRequest(
        method.path,
        () => raw,
        method.responseDeserialize,
        {},
        new Metadata(),
        {},
        (err, r) => (err || !r ? reject(err) : resolve(r)),
      ),
    );
    expect(reply).toMatchObject({ protocolVersion: 1, memberId: 'old-1', rank: 0, rankFinal: false, groupSize: 2 });
    // the address falls back to where the connection came from
    expect(coordinator.table.member('old-1')?.identity.ip).toBe('127.0.0.1');
  });
});
