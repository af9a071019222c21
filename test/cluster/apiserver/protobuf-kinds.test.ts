import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeKindBody, ProtobufDecodeError } from './protobuf-kinds.js';

/** A minimal protobuf writer for hand-built bodies: (field, value) pairs, nested messages as Buffers. */
function varint(n: bigint): Buffer {
  const out: number[] = [];
  let v = BigInt.asUintN(64, n);
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return Buffer.from(out);
}
function field(n: number, value: string | Buffer | bigint): Buffer {
  if (typeof value === 'bigint') return Buffer.concat([varint(BigInt(n << 3)), varint(value)]);
  const bytes = typeof value === 'string' ? Buffer.from(value) : value;
  return Buffer.concat([varint(BigInt((n << 3) | 2)), varint(BigInt(bytes.length)), bytes]);
}
const message = (...parts: Buffer[]) => Buffer.concat(parts);
const entry = (k: string, v: string | Buffer) => message(field(1, k), field(2, v));

describe('protobuf bodies of the kinds kubectl creates', () => {
  it('a ConfigMap as Go marshals it: zero non-pointer fields are dropped, pointer fields kept', () => {
    const meta = message(
      field(1, 'settings'),
      field(2, ''), // generateName, always written
      field(3, 'ml'),
      field(7, 0n), // generation
      field(8, Buffer.alloc(0)), // creationTimestamp: the zero Time
      field(11, entry('app', 'x')),
    );
    const body = message(
      field(1, meta),
      field(2, entry('level', '1')),
      field(3, entry('blob', Buffer.from([0, 1]))),
      field(4, 0n),
    );
    expect(decodeKindBody('v1', 'ConfigMap', body)).toEqual({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'settings', namespace: 'ml', labels: { app: 'x' } },
      data: { level: '1' },
      binaryData: { blob: 'AAE=' },
      immutable: false,
    });
  });

  it('a Deployment: replicas 0 is kept (a pointer), IntOrString and Quantity decode to their JSON forms', () => {
    const container = message(
      field(1, 'web'),
      field(2, 'nginx:1.27'),
      field(8, message(field(1, entry('cpu', message(field(1, '500m')))))),
      field(16, 0n), // stdin false: dropped
    );
    const spec = message(
      field(1, 0n),
      field(2, message(field(1, entry('app', 'web')))),
      field(3, message(field(1, message()), field(2, message(field(2, container))))),
      field(
        4,
        message(
          field(1, 'RollingUpdate'),
          field(
            2,
            message(field(1, message(field(1, 0n), field(2, 1n))), field(2, message(field(1, 1n), field(3, '25%')))),
          ),
        ),
      ),
    );
    const out = decodeKindBody('apps/v1', 'Deployment', message(field(1, message(field(1, 'web'))), field(2, spec)));
    expect(out.spec).toEqual({
      replicas: 0,
      selector: { matchLabels: { app: 'web' } },
      template: {
        metadata: {},
        spec: { containers: [{ name: 'web', image: 'nginx:1.27', resources: { limits: { cpu: '500m' } } }] },
      },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1, maxSurge: '25%' } },
    });
  });

  it('a field the tables do not know: tolerated when zero, 415 when it holds data', () => {
    const zero = message(field(1, message(field(1, 'a'), field(15, ''))));
    expect(decodeKindBody('v1', 'Namespace', zero).metadata).toEqual({ name: 'a' });
    const data = message(field(1, message(field(1, 'a'), field(15, 'cluster-x'))));
    expect(() => decodeKindBody('v1', 'Namespace', data)).toThrow(
      expect.objectContaining({ status: 415, message: expect.stringContaining('protobuf field 15 of ObjectMeta') }),
    );
  });

  it('kinds without message tables are 415', () => {
    expect(() => decodeKindBody('v1', 'Pod', Buffer.alloc(0))).toThrow(expect.objectContaining({ status: 415 }));
  });

  it('arbitrary bytes never crash the decoder: a value or a ProtobufDecodeError', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.constantFrom('ConfigMap', 'Deployment', 'Secret', 'RoleBinding'),
        (bytes, kind) => {
          try {
            decodeKindBody('v1', kind, Buffer.from(bytes));
          } catch (err) {
            expect(err).toBeInstanceOf(ProtobufDecodeError);
          }
        },
      ),
    );
  });
});
