import type { MemberIdentity } from '../../../leader/protocol/messages.js';

/** A member identity with everything defaulted, as proto-loader would decode it. */
export function identity(pod: string, extra: Partial<MemberIdentity> = {}): MemberIdentity {
  return {
    pod,
    namespace: '',
    ip: '',
    node: '',
    rankSource: '',
    devices: [],
    group: '',
    groupSize: 0,
    hostname: '',
    ...extra,
  };
}
