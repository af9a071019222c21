import { afterEach, describe, expect, it } from 'vitest';
import type { KubernetesVersion } from '../versions.js';
import { apiServerGates, servesListAttributeFields } from '../versions.js';
import { StatusError } from './errors.js';
import { type ApiServer, startApiServer } from './index.js';
import type { KubeObject } from './types.js';
import { prepareSliceListAttributes } from './validation/resource.js';

/**
 * The API server double's DRAListTypeAttributes gate (KEP-5491), as kubernetes/kubernetes has it: the list-typed
 * DeviceAttribute fields exist from 1.36 and are dropped on write while the gate is off (registry strategy
 * dropDisableDRAListTypeAttributesFields), so an attribute that held only a list is left empty and refused ("exactly
 * one value must be specified"); 1.35 does not know the fields (pruned as unknown) nor the gate (refused at start).
 * With the gate on, list entries count against the 48 attribute values of a device and a slice with a list attribute
 * holds at most 64 devices (pkg/apis/resource/validation numEntriesDeviceAttribute, haveListAttributes).
 */
let api: ApiServer | undefined;
afterEach(async () => {
  await api?.stop();
  api = undefined;
});

function slice(devices: Record<string, unknown>[]): Record<string, unknown> {
  return {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceSlice',
    metadata: { generateName: 'n1-lockstep.dev-' },
    spec: {
      driver: 'lockstep.dev',
      nodeName: 'n1',
      pool: { name: 'n1', generation: 1, resourceSliceCount: 1 },
      devices,
    },
  };
}

const gpu = (attributes: Record<string, unknown>, name = 'gpu-0') => ({ name, attributes });
/** a fresh object each time: the server's write path and the drop mutate what they are given */
const numaList = () => ({ 'resource.kubernetes.io/numaNode': { ints: [0, 1] } });

/** The Status of a refused write, or undefined when it was stored. */
function refusal(server: ApiServer, body: Record<string, unknown>): StatusError | undefined {
  try {
    server.store.create('resourceslices', body);
    return undefined;
  } catch (error) {
    if (error instanceof StatusError) return error;
    throw error;
  }
}

const causes = (error: StatusError | undefined) =>
  (error?.status().details?.causes ?? []).map((c) => `${c.field}: ${c.message}`);

describe('the DRAListTypeAttributes gate per emulated release', () => {
  it.each([
    // version, explicit gate, gate in force, list fields in the types
    [undefined, undefined, false, false],
    [undefined, true, true, true],
    ['1.35', undefined, false, false],
    ['1.36', undefined, false, true],
    ['1.36', true, true, true],
    ['1.37', undefined, false, true],
    ['1.37', true, true, true],
    ['1.37', false, false, true],
  ] as const)('%s with %s: gate %s, fields %s', (version, explicit, gate, fields) => {
    const gates = apiServerGates(version, explicit === undefined ? {} : { DRAListTypeAttributes: explicit });
    expect(gates.DRAListTypeAttributes).toBe(gate);
    expect(servesListAttributeFields(version, gates.DRAListTypeAttributes)).toBe(fields);
  });

  it.each([true, false])('1.35 refuses the gate as unknown (set to %s), as its kube-apiserver does', (value) => {
    expect(() => apiServerGates('1.35', { DRAListTypeAttributes: value })).toThrow(
      'unrecognized feature gate: DRAListTypeAttributes',
    );
  });

  it.each([
    // version, gate, official schemas, stored list (else refused as empty)
    ['1.35', undefined, false, false],
    ['1.35', undefined, true, false],
    ['1.36', undefined, false, false],
    ['1.36', undefined, true, false],
    ['1.36', true, false, true],
    ['1.36', true, true, true],
    ['1.37', undefined, true, false],
    ['1.37', true, false, true],
    ['1.37', true, true, true],
  ] as const)(
    '%s, gate %s, official schemas %s: numaNode {ints: [0, 1]} stored: %s',
    async (version, gate, official, kept) => {
      api = await startApiServer({
        tls: false,
        version: version as KubernetesVersion,
        officialSchemas: official,
        ...(gate === undefined ? {} : { featureGates: { DRAListTypeAttributes: gate } }),
      });
      const error = refusal(api, slice([gpu({ ...numaList(), type: { string: 'gpu' } })]));
      if (kept) {
        expect(error).toBeUndefined();
        const [stored] = api.store.list('resourceslices') as unknown as {
          spec: { devices: { attributes: Record<string, unknown> }[] };
        }[];
        expect(stored?.spec.devices[0]?.attributes['resource.kubernetes.io/numaNode']).toEqual({ ints: [0, 1] });
      } else {
        expect(error?.status().code).toBe(422);
        expect(causes(error)).toEqual([
          'spec.devices[0].attributes[resource.kubernetes.io/numaNode]: Invalid value: "": exactly one value must be specified',
        ]);
      }
    },
  );

  it('1.35 does not know the fields: a strict write names the unknown field (400), a lax one drops it and is refused as empty (422)', async () => {
    api = await startApiServer({ tls: false, version: '1.35' });
    const post = (validation: string) =>
      fetch(`${api?.url}/apis/resource.k8s.io/v1/resourceslices?fieldValidation=${validation}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${api?.adminToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(slice([gpu({ ...numaList(), type: { string: 'gpu' } })])),
      });
    const strict = await post('Strict');
    expect(strict.status).toBe(400);
    expect(((await strict.json()) as { message: string }).message).toContain(
      'unknown field "spec.devices[0].attributes[resource.kubernetes.io/numaNode].ints"',
    );
    const lax = await post('Warn');
    expect(lax.status).toBe(422);
    const body = (await lax.json()) as { details?: { causes?: { field: string; message: string }[] } };
    expect(body.details?.causes?.map((c) => c.field)).toEqual([
      'spec.devices[0].attributes[resource.kubernetes.io/numaNode]',
    ]);
  });
});

describe('list-typed attributes with the gate on (1.37)', () => {
  const start = async () => {
    api = await startApiServer({ tls: false, version: '1.37', featureGates: { DRAListTypeAttributes: true } });
    return api;
  };
  const attrs = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`a${i}`, { int: i }]));
  const devices = (n: number, attributes: (i: number) => Record<string, unknown>) =>
    Array.from({ length: n }, (_, i) => gpu(attributes(i), `gpu-${i}`));

  it.each([
    [
      'an empty list',
      { numa: { ints: [] } },
      ['spec.devices[0].attributes[numa].ints: Invalid value: []: must not be empty if specified'],
    ],
    [
      'a scalar and a list at once',
      { numa: { int: 0, ints: [0] } },
      ['spec.devices[0].attributes[numa]: Invalid value: {"int":0,"ints":[0]}: exactly one value must be specified'],
    ],
    [
      'a version list with a bad entry',
      { v: { versions: ['1.0.0', 'one'] } },
      [
        'spec.devices[0].attributes[v].versions[1]: Invalid value: "one": must be a string compatible with semver.org spec 2.0.0',
      ],
    ],
    [
      'a string list entry over 64 bytes',
      { s: { strings: ['ok', 'x'.repeat(65)] } },
      ['spec.devices[0].attributes[s].strings[1]: Too long: may not be more than 64 bytes'],
    ],
    [
      '49 attribute values (a 20-entry list and 29 scalars)',
      { list: { ints: Array.from({ length: 20 }, (_, i) => i) }, ...attrs(29) },
      ['spec.devices[0]: Invalid value: 49: the total number of attribute values must not exceed 48'],
    ],
  ])('refuses %s', async (_name, attributes, want) => {
    const server = await start();
    expect(causes(refusal(server, slice([gpu(attributes)])))).toEqual(want);
  });

  it.each([
    [
      '48 attribute values (a 20-entry list and 28 scalars)',
      [gpu({ list: { ints: [...Array(20).keys()] }, ...attrs(28) })],
    ],
    [
      'a list of each type',
      [gpu({ i: { ints: [1] }, b: { bools: [true] }, s: { strings: ['a'] }, v: { versions: ['1.2.3'] } })],
    ],
    ['64 devices, one with a list', devices(64, (i) => (i === 0 ? numaList() : {}))],
    ['128 devices without lists', devices(128, () => ({ numa: { int: 0 } }))],
  ])('stores %s', async (_name, list) => {
    const server = await start();
    expect(causes(refusal(server, slice(list)))).toEqual([]);
  });

  it('a slice with a list attribute holds at most 64 devices (as one with taints)', async () => {
    const server = await start();
    const error = refusal(server, slice(devices(65, (i) => (i === 0 ? numaList() : {}))));
    expect(causes(error)).toEqual(['spec.devices: Too many: 65: must have at most 64 items']);
  });
});

describe('prepareSliceListAttributes (the gate-off drop)', () => {
  const withList = () => ({ spec: { devices: [gpu({ ...numaList(), type: { string: 'gpu' } })] } });
  const numaOf = (obj: { spec: { devices: { attributes: Record<string, unknown> }[] } }) =>
    obj.spec.devices[0]?.attributes['resource.kubernetes.io/numaNode'];

  it.each([
    // gate, stored slice already uses a list, list kept
    [true, false, true],
    [true, true, true],
    [false, false, false],
    [false, true, true],
  ])('gate %s, in use before %s: kept %s', (gate, inUse, kept) => {
    const obj = withList() as unknown as KubeObject & ReturnType<typeof withList>;
    const old = inUse ? withList() : { spec: { devices: [gpu({ type: { string: 'gpu' } })] } };
    prepareSliceListAttributes(obj, old as unknown as KubeObject, gate);
    expect(numaOf(obj)).toEqual(kept ? { ints: [0, 1] } : {});
    expect(obj.spec.devices[0]?.attributes.type).toEqual({ string: 'gpu' });
  });
});
