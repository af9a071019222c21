import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CoordinatorMessage, MemberInfo } from '../../../leader/protocol/messages.js';
import { cachingReleaseSerializer } from '../../../leader/protocol/release-encoding.js';
import { groupService } from '../../../leader/protocol/service.js';

const { responseSerialize, responseDeserialize } = groupService().Session;

const member = fc.record({
  rank: fc.nat(100_000),
  pod: fc.string(),
  ip: fc.string(),
  node: fc.string(),
  hostname: fc.string(),
  gpus: fc.nat(64),
  tpus: fc.nat(64),
});

describe('release encoding with a shared member list', () => {
  it('decodes to exactly what the plain encoding decodes to', () => {
    const fast = cachingReleaseSerializer(responseSerialize);
    fc.assert(
      fc.property(
        fc.array(member, { minLength: 0, maxLength: 300 }),
        fc.record({ epoch: fc.nat(), rank: fc.nat(300), group: fc.string(), masterPort: fc.nat(65535) }),
        fc.dictionary(fc.stringMatching(/^[A-Z_]{1,8}$/), fc.string()),
        (members: MemberInfo[], r, extraEnv) => {
          const message: CoordinatorMessage = {
            kind: 'release',
            release: { ...r, namespace: 'ns', size: members.length, members, extraEnv },
          };
          expect(responseDeserialize(fast(message))).toEqual(responseDeserialize(responseSerialize(message)));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('encodes the member list once for all members of an epoch', () => {
    let calls = 0;
    const counting = (m: CoordinatorMessage) => {
      calls++;
      return responseSerialize(m);
    };
    const fast = cachingReleaseSerializer(counting);
    const members = Array.from({ length: 64 }, (_, rank) => ({
      rank,
      pod: `p-${rank}`,
      ip: '',
      node: '',
      hostname: '',
      gpus: 0,
      tpus: 0,
    }));
    for (let rank = 0; rank < 64; rank++) {
      fast({
        kind: 'release',
        release: { epoch: 1, group: 'g', namespace: '', size: 64, rank, members, masterPort: 1, extraEnv: {} },
      });
    }
    // once for the shared list, once per member for the rest
    expect(calls).toBe(65);
  });
});
