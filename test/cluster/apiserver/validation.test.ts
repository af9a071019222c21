import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { itRecorded } from '../../support/recorded.js';
import { StatusError } from './errors.js';
import { type ApiServer, startApiServer } from './index.js';

/** A valid slice; each case below breaks one thing and expects the real server's field path. */
function slice(mut: (s: Record<string, unknown>) => void = () => {}): Record<string, unknown> {
  const s: Record<string, unknown> = {
    apiVersion: 'resource.k8s.io/v1',
    kind: 'ResourceSlice',
    metadata: { generateName: 'node-a-lockstep.dev-' },
    spec: {
      driver: 'lockstep.dev',
      nodeName: 'node-a',
      pool: { name: 'node-a', generation: 1, resourceSliceCount: 1 },
      devices: [
        {
          name: 'gpu-0',
          attributes: { type: { string: 'gpu' }, 'resource.kubernetes.io/pcieRoot': { string: 'pci0000:00' } },
          capacity: { memory: { value: '80Gi' } },
        },
      ],
    },
  };
  mut(s);
  return s;
}

type Spec = {
  driver?: unknown;
  nodeName?: unknown;
  allNodes?: unknown;
  nodeSelector?: unknown;
  perDeviceNodeSelection?: unknown;
  pool: Record<string, unknown>;
  devices: Record<string, unknown>[];
};
const spec = (s: Record<string, unknown>) => s.spec as Spec;
const dev0 = (s: Record<string, unknown>) => spec(s).devices[0];

function devices(n: number, taint = false): Record<string, unknown>[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `gpu-${i}`,
    ...(taint && i === 0 ? { taints: [{ key: 'lockstep.dev/unhealthy', value: 'xid-79', effect: 'NoSchedule' }] } : {}),
  }));
}

const attrs = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`a${i}`, { int: i }]));

const REJECTED: [string, (s: Record<string, unknown>) => void, string, string][] = [
  ['empty driver', (s) => (spec(s).driver = ''), 'spec.driver', 'FieldValueRequired'],
  ['driver not a DNS subdomain', (s) => (spec(s).driver = 'lockstep_dev'), 'spec.driver', 'FieldValueInvalid'],
  ['driver longer than 63', (s) => (spec(s).driver = `${'a'.repeat(60)}.dev`), 'spec.driver', 'FieldValueTooLong'],
  ['missing pool name', (s) => (spec(s).pool.name = ''), 'spec.pool.name', 'FieldValueRequired'],
  ['pool name not a subdomain', (s) => (spec(s).pool.name = 'Node_A'), 'spec.pool.name', 'FieldValueInvalid'],
  ['negative generation', (s) => (spec(s).pool.generation = -1), 'spec.pool.generation', 'FieldValueInvalid'],
  [
    'zero resourceSliceCount',
    (s) => (spec(s).pool.resourceSliceCount = 0),
    'spec.pool.resourceSliceCount',
    'FieldValueInvalid',
  ],
  ['no node selection', (s) => delete spec(s).nodeName, 'spec', 'FieldValueRequired'],
  ['nodeName and allNodes', (s) => (spec(s).allNodes = true), 'spec', 'FieldValueInvalid'],
  [
    'allNodes false',
    (s) => {
      delete spec(s).nodeName;
      spec(s).allNodes = false;
    },
    'spec.allNodes',
    'FieldValueInvalid',
  ],
  ['empty nodeName', (s) => (spec(s).nodeName = ''), 'spec.nodeName', 'FieldValueInvalid'],
  [
    'nodeSelector with two terms',
    (s) => {
      delete spec(s).nodeName;
      spec(s).nodeSelector = { nodeSelectorTerms: [{ matchExpressions: [] }, { matchExpressions: [] }] };
    },
    'spec.nodeSelector.nodeSelectorTerms',
    'FieldValueInvalid',
  ],
  ['129 devices', (s) => (spec(s).devices = devices(129)), 'spec.devices', 'FieldValueTooMany'],
  ['device name upper case', (s) => (dev0(s).name = 'GPU-0'), 'spec.devices[0].name', 'FieldValueInvalid'],
  ['device name too long', (s) => (dev0(s).name = 'g'.repeat(64)), 'spec.devices[0].name', 'FieldValueInvalid'],
  ['duplicate device', (s) => spec(s).devices.push({ name: 'gpu-0' }), 'spec.devices[1]', 'FieldValueDuplicate'],
  ['33 attributes', (s) => (dev0(s).attributes = attrs(33)), 'spec.devices[0]', 'FieldValueInvalid'],
  ['32 attributes + 1 capacity', (s) => (dev0(s).attributes = attrs(32)), 'spec.devices[0]', 'FieldValueInvalid'],
  [
    'attribute name not a C identifier',
    (s) => (dev0(s).attributes = { 'pcie-root': { string: 'x' } }),
    'spec.devices[0].attributes',
    'FieldValueInvalid',
  ],
  [
    'attribute id longer than 32',
    (s) => (dev0(s).attributes = { [`a${'b'.repeat(32)}`]: { int: 1 } }),
    'spec.devices[0].attributes',
    'FieldValueTooLong',
  ],
  [
    'attribute domain not a subdomain',
    (s) => (dev0(s).attributes = { 'Lockstep_Dev/x': { int: 1 } }),
    'spec.devices[0].attributes',
    'FieldValueInvalid',
  ],
  [
    'attribute name with two slashes',
    (s) => (dev0(s).attributes = { 'a.b/c/d': { int: 1 } }),
    'spec.devices[0].attributes',
    'FieldValueInvalid',
  ],
  [
    'attribute with two values',
    (s) => (dev0(s).attributes = { type: { string: 'gpu', bool: true } }),
    'spec.devices[0].attributes[type]',
    'FieldValueInvalid',
  ],
  [
    'attribute with no value',
    (s) => (dev0(s).attributes = { type: {} }),
    'spec.devices[0].attributes[type]',
    'FieldValueInvalid',
  ],
  [
    'string value of 65',
    (s) => (dev0(s).attributes = { model: { string: 'x'.repeat(65) } }),
    'spec.devices[0].attributes[model].string',
    'FieldValueTooLong',
  ],
  [
    'version not semver',
    (s) => (dev0(s).attributes = { driverVersion: { version: '550.54' } }),
    'spec.devices[0].attributes[driverVersion].version',
    'FieldValueInvalid',
  ],
  [
    'version of 65',
    (s) => (dev0(s).attributes = { v: { version: `1.0.0-${'a'.repeat(59)}` } }),
    'spec.devices[0].attributes[v].version',
    'FieldValueTooLong',
  ],
  [
    'capacity name invalid',
    (s) => (dev0(s).capacity = { 'mem ory': { value: '1' } }),
    'spec.devices[0].capacity',
    'FieldValueInvalid',
  ],
  [
    'per-device nodeName without perDeviceNodeSelection',
    (s) => (dev0(s).nodeName = 'node-a'),
    'spec.devices[0]',
    'FieldValueInvalid',
  ],
];

describe('ResourceSlice validation (as k8s pkg/apis/resource/validation)', () => {
  let api: ApiServer;
  let tainted: ApiServer;
  beforeAll(async () => {
    api = await startApiServer({ tls: false });
    tainted = await startApiServer({ tls: false, featureGates: { DRADeviceTaints: true } });
  });
  afterAll(async () => {
    await api.stop();
    await tainted.stop();
  });

  it('accepts a valid slice and gives it a generated name, uid, generation 1', () => {
    const created = api.store.create('resourceslices', slice());
    expect(created.metadata.name).toMatch(/^node-a-lockstep\.dev-[a-z0-9]{5}$/);
    expect(created.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.metadata.generation).toBe(1);
    expect(Number(created.metadata.resourceVersion)).toBeGreaterThan(0);
  });

  it.each(REJECTED)('rejects %s at %s', (_name, mutate, field, reason) => {
    let err: unknown;
    try {
      api.store.create('resourceslices', slice(mutate));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StatusError);
    const status = (err as StatusError).status();
    expect(status.code).toBe(422);
    expect(status.reason).toBe('Invalid');
    expect(status.message).toMatch(/^ResourceSlice\.resource\.k8s\.io ".*" is invalid: /);
    expect(status.details?.causes?.map((c) => [c.field, c.reason])).toContainEqual([field, reason]);
  });

  it('keeps 128 devices and 32 attributes + capacities at the limit', () => {
    expect(() =>
      api.store.create(
        'resourceslices',
        slice((s) => (spec(s).devices = devices(128))),
      ),
    ).not.toThrow();
    expect(() =>
      api.store.create(
        'resourceslices',
        slice((s) => {
          dev0(s).attributes = attrs(31);
        }),
      ),
    ).not.toThrow();
  });

  it('drops taints silently without the DRADeviceTaints gate', () => {
    const created = api.store.create(
      'resourceslices',
      slice((s) => (spec(s).devices = devices(2, true))),
    );
    expect((created.spec as Spec).devices[0].taints).toBeUndefined();
  });

  it('with the gate: keeps taints, stamps timeAdded, limits a tainted slice to 64 devices, checks effects', () => {
    const created = tainted.store.create(
      'resourceslices',
      slice((s) => (spec(s).devices = devices(2, true))),
    );
    const taint = ((created.spec as Spec).devices[0].taints as Record<string, unknown>[])[0];
    expect(taint).toMatchObject({ key: 'lockstep.dev/unhealthy', value: 'xid-79', effect: 'NoSchedule' });
    expect(typeof taint.timeAdded).toBe('string');
    const causes = (mutate: (s: Record<string, unknown>) => void) => {
      try {
        tainted.store.create('resourceslices', slice(mutate));
        return [];
      } catch (e) {
        return ((e as StatusError).details?.causes ?? []).map((c) => [c.field, c.reason]);
      }
    };
    expect(causes((s) => (spec(s).devices = devices(65, true)))).toEqual([['spec.devices', 'FieldValueTooMany']]);
    expect(causes((s) => (dev0(s).taints = [{ key: 'k', effect: 'PreferNoSchedule' }]))).toEqual([
      ['spec.devices[0].taints[0].effect', 'FieldValueNotSupported'],
    ]);
    expect(causes((s) => (dev0(s).taints = [{ key: 'bad key!', effect: 'NoExecute' }]))).toContainEqual([
      'spec.devices[0].taints[0].key',
      'FieldValueInvalid',
    ]);
    expect(
      causes((s) => (dev0(s).taints = Array.from({ length: 5 }, (_, i) => ({ key: `k${i}`, effect: 'NoExecute' })))),
    ).toEqual([['spec.devices[0].taints', 'FieldValueTooMany']]);
  });

  it('makes spec.driver, spec.pool.name and spec.nodeName immutable', () => {
    const created = api.store.create('resourceslices', slice());
    const changed = structuredClone(created);
    (changed.spec as Spec).driver = 'other.dev';
    (changed.spec as Spec).nodeName = 'node-b';
    let err: StatusError | undefined;
    try {
      api.store.update('resourceslices', changed);
    } catch (e) {
      err = e as StatusError;
    }
    expect(err?.code).toBe(422);
    expect(err?.details?.causes?.map((c) => c.field).sort()).toEqual(['spec.driver', 'spec.nodeName']);
    expect(err?.message).toContain('field is immutable');
  });

  itRecorded(
    'drops unknown fields with a warning, and answers 400 to a JSON type error',
    () => {
      const result = api.registry.create(
        api.store.kind('resourceslices'),
        undefined,
        slice((s) => {
          (s.spec as Record<string, unknown>).color = 'blue';
          (dev0(s) as Record<string, unknown>).shape = 'round';
        }),
        { user: { username: 'u', groups: [] } },
      );
      expect([...result.warnings].sort()).toEqual([
        'unknown field "spec.color"',
        'unknown field "spec.devices[0].shape"',
      ]);
      expect((result.object.spec as Record<string, unknown>).color).toBeUndefined();
      try {
        api.store.create(
          'resourceslices',
          slice((s) => (spec(s).pool.generation = 'one')),
        );
        expect.unreachable();
      } catch (e) {
        expect((e as StatusError).code).toBe(400);
        expect((e as StatusError).message).toContain(
          'cannot unmarshal string into Go struct field ResourcePool.spec.pool.generation of type int64',
        );
      }
    },
    { needs: 'k8s' },
  );
});

describe('DeviceClass, ResourceClaim and LeaderWorkerSet validation', () => {
  let api: ApiServer;
  beforeAll(async () => {
    api = await startApiServer({ tls: false });
  });
  afterAll(() => api.stop());

  const fieldsOf = (fn: () => unknown) => {
    try {
      fn();
      return [];
    } catch (e) {
      return ((e as StatusError).details?.causes ?? []).map((c) => c.field);
    }
  };

  it('checks DeviceClass CEL selectors compile and opaque config names a driver', () => {
    const dc =
      (selectors: unknown[], config: unknown[] = []) =>
      () =>
        api.store.create('deviceclasses', {
          metadata: { name: `c${Math.random().toString(36).slice(2, 8)}` },
          spec: { selectors, config },
        });
    expect(fieldsOf(dc([{ cel: { expression: "device.driver == 'lockstep.dev'" } }]))).toEqual([]);
    expect(fieldsOf(dc([{ cel: { expression: 'device.driver ==' } }]))).toEqual(['spec.selectors[0].cel.expression']);
    expect(new Set(fieldsOf(dc([], [{ opaque: { driver: '', parameters: {} } }])))).toEqual(
      new Set(['spec.config[0].opaque.driver']),
    );
  });

  it('checks ResourceClaim requests and keeps the spec immutable', () => {
    const claim = (requests: unknown[]) => ({ metadata: { generateName: 'c-' }, spec: { devices: { requests } } });
    expect(fieldsOf(() => api.store.create('resourceclaims', claim([{ name: 'gpu' }])))).toEqual([
      'spec.devices.requests[0]',
    ]);
    expect(
      fieldsOf(() =>
        api.store.create('resourceclaims', claim([{ name: 'GPU', exactly: { deviceClassName: 'gpu.lockstep.dev' } }])),
      ),
    ).toEqual(['spec.devices.requests[0].name']);
    const ok = api.store.create(
      'resourceclaims',
      claim([{ name: 'gpu', exactly: { deviceClassName: 'gpu.lockstep.dev' } }]),
    );
    const changed = structuredClone(ok);
    (changed.spec as { devices: { requests: { name: string }[] } }).devices.requests[0].name = 'other';
    expect(fieldsOf(() => api.store.update('resourceclaims', changed))).toEqual(['spec']);
  });

  itRecorded(
    'validates LeaderWorkerSets against the real CRD schema, applying its defaults',
    () => {
      const lws = (spec: unknown) => ({
        apiVersion: 'leaderworkerset.x-k8s.io/v1',
        kind: 'LeaderWorkerSet',
        metadata: { generateName: 'vllm-' },
        spec,
      });
      const template = { spec: { containers: [{ name: 'vllm', image: 'vllm/vllm-openai' }] } };
      const created = api.store.create(
        'leaderworkersets',
        lws({ replicas: 1, leaderWorkerTemplate: { size: 2, workerTemplate: template } }),
      );
      expect((created.spec as { startupPolicy?: string }).startupPolicy).toBe('LeaderCreated');
      expect(
        fieldsOf(() =>
          api.store.create(
            'leaderworkersets',
            lws({ replicas: 'two', leaderWorkerTemplate: { workerTemplate: template } }),
          ),
        ),
      ).toContain('spec.replicas');
      expect(fieldsOf(() => api.store.create('leaderworkersets', lws({ leaderWorkerTemplate: {} })))).toContain(
        'spec.leaderWorkerTemplate.workerTemplate',
      );
    },
    { needs: 'k8s' },
  );
});
