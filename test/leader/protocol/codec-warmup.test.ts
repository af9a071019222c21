/**
 * The Stop codec is generated ahead (warmStopCodec, called once the coordinator listens and once a run's session is
 * kept), so that the first Stop of a recovery does not pay for it on the path every other engine waits on. What can
 * be asserted without timing: the warm-up really runs the Stop message through both directions of the Session
 * codec, and a real Stop encodes and decodes the same afterwards.
 */
import { describe, expect, it } from 'vitest';
import type { CoordinatorMessage } from '../../../leader/protocol/messages.js';
import { groupService, warmStopCodec } from '../../../leader/protocol/service.js';

describe('Stop codec warm-up', () => {
  it('round-trips a Stop through the Session codec', () => {
    expect(warmStopCodec()).toEqual({
      kind: 'stop',
      stop: { epoch: 1, reason: 'codec warm-up', gracePeriodMs: 1 },
    });
  });

  it('leaves the codec as it was for the Stops that follow', () => {
    warmStopCodec();
    const session = groupService().Session;
    const stop: CoordinatorMessage = {
      kind: 'stop',
      stop: { epoch: 7, reason: 'rank 1 (pod w-1): engine killed by SIGKILL', gracePeriodMs: 30_000 },
    };
    expect(session.responseDeserialize(session.responseSerialize(stop))).toEqual(stop);
  });
});
