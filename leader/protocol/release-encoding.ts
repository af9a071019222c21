/**
 * Encoding a Release for every member of a large group costs O(N²) when each message encodes the whole member list
 * again (256 members: 65,536 MemberInfo encodings per epoch). The list is the same for every member of an epoch, so it
 * is encoded once and spliced in: protobuf lets a message's fields appear in any order, and a repeated field is just
 * its entries one after another, so `Release without members` + `encoded members` decodes to the full Release.
 */
import type { CoordinatorMessage, MemberInfo, Release } from './messages.js';

/** CoordinatorMessage.release is field 2, length-delimited. */
const RELEASE_TAG = (2 << 3) | 2;

function readVarint(buf: Buffer, at: number): { value: number; next: number } {
  let value = 0;
  let shift = 0;
  let i = at;
  for (;;) {
    const byte = buf[i++]!;
    value += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) return { value, next: i };
    shift += 7;
  }
}

function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

/** The body of the Release inside an encoded `CoordinatorMessage { release }`. */
function releaseBody(encoded: Buffer): Buffer {
  if (encoded.length === 0) return encoded;
  if (encoded[0] !== RELEASE_TAG) throw new Error('not an encoded release');
  const { value, next } = readVarint(encoded, 1);
  return encoded.subarray(next, next + value);
}

/** Wraps a serializer so releases reuse the encoded member list of their epoch. */
export function cachingReleaseSerializer(base: (m: CoordinatorMessage) => Buffer): (m: CoordinatorMessage) => Buffer {
  const cache = new WeakMap<MemberInfo[], Buffer>();
  return (message) => {
    if (message.kind !== 'release' || message.release.members.length < 8) return base(message);
    const { members } = message.release;
    let encodedMembers = cache.get(members);
    if (!encodedMembers) {
      // only the members key: protobufjs encodes every key present, defaults included, and those would override
      // the real values when spliced after them
      const onlyMembers = { members } as unknown as Release;
      encodedMembers = Buffer.from(releaseBody(base({ kind: 'release', release: onlyMembers })));
      cache.set(members, encodedMembers);
    }
    const rest = releaseBody(base({ kind: 'release', release: { ...message.release, members: [] } }));
    return Buffer.concat([
      Buffer.from([RELEASE_TAG]),
      varint(rest.length + encodedMembers.length),
      rest,
      encodedMembers,
    ]);
  };
}
