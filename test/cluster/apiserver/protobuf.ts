/**
 * Just enough of the Kubernetes protobuf encoding to read the review requests kubectl sends that way
 * (`kubectl auth can-i`, `kubectl auth whoami`): the `k8s\0` envelope (runtime.Unknown) and the
 * SelfSubjectAccessReview / SubjectAccessReview spec fields (k8s.io/api authorization/v1 generated.proto).
 * Every other protobuf body is refused with 415, so clients fall back to JSON or fail clearly.
 */

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

type Fields = Map<number, (Buffer | bigint)[]>;

function readVarint(buf: Buffer, pos: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const b = buf[pos++];
    result |= BigInt(b & 0x7f) << shift;
    if ((b & 0x80) === 0) return [result, pos];
    shift += 7n;
  }
}

export function decodeFields(buf: Buffer): Fields {
  const out: Fields = new Map();
  let pos = 0;
  while (pos < buf.length) {
    const [tag, next] = readVarint(buf, pos);
    pos = next;
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    let value: Buffer | bigint;
    if (wire === 0) [value, pos] = readVarint(buf, pos);
    else if (wire === 2) {
      const [len, start] = readVarint(buf, pos);
      value = buf.subarray(start, start + Number(len));
      pos = start + Number(len);
    } else if (wire === 1) {
      value = buf.subarray(pos, pos + 8);
      pos += 8;
    } else if (wire === 5) {
      value = buf.subarray(pos, pos + 4);
      pos += 4;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
    const list = out.get(field) ?? [];
    list.push(value);
    out.set(field, list);
  }
  return out;
}

function str(f: Fields, n: number): string | undefined {
  const v = f.get(n)?.[0];
  return Buffer.isBuffer(v) ? v.toString('utf8') : undefined;
}

function msg(f: Fields, n: number): Fields | undefined {
  const v = f.get(n)?.[0];
  return Buffer.isBuffer(v) ? decodeFields(v) : undefined;
}

function strings(f: Fields, n: number): string[] {
  return (f.get(n) ?? []).filter(Buffer.isBuffer).map((b) => b.toString('utf8'));
}

/** The envelope: apiVersion, kind and the raw message. Undefined when the body is not Kubernetes protobuf. */
export function decodeEnvelope(body: Buffer): { apiVersion: string; kind: string; raw: Buffer } | undefined {
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC)) return undefined;
  const unknown = decodeFields(body.subarray(4));
  const typeMeta = msg(unknown, 1);
  const raw = unknown.get(2)?.[0];
  return {
    apiVersion: (typeMeta && str(typeMeta, 1)) ?? '',
    kind: (typeMeta && str(typeMeta, 2)) ?? '',
    raw: Buffer.isBuffer(raw) ? raw : Buffer.alloc(0),
  };
}

function resourceAttributes(f: Fields): Record<string, string> {
  const names = ['namespace', 'verb', 'group', 'version', 'resource', 'subresource', 'name'];
  const out: Record<string, string> = {};
  names.forEach((name, i) => {
    const v = str(f, i + 1);
    if (v !== undefined) out[name] = v;
  });
  return out;
}

/** A SelfSubjectAccessReview / SubjectAccessReview / SelfSubjectReview body as JSON. */
export function decodeReview(kind: string, raw: Buffer): Record<string, unknown> {
  const top = decodeFields(raw);
  const spec = msg(top, 2);
  if (!spec || kind === 'SelfSubjectReview') return { kind, spec: {} };
  const out: Record<string, unknown> = {};
  const ra = msg(spec, 1);
  const nra = msg(spec, 2);
  if (ra) out.resourceAttributes = resourceAttributes(ra);
  if (nra) out.nonResourceAttributes = { path: str(nra, 1) ?? '', verb: str(nra, 2) ?? '' };
  if (kind === 'SubjectAccessReview') {
    // SubjectAccessReviewSpec: user=3, groups=4, extra=5, uid=6
    out.user = str(spec, 3) ?? '';
    out.groups = strings(spec, 4);
    const uid = str(spec, 6);
    if (uid) out.uid = uid;
  }
  return { kind, spec: out };
}
