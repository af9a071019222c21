import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { JsonObject } from '../../src/inject/json.js';
import { injectText } from '../../src/inject/text.js';

const IMAGE = 'ghcr.io/lockstep-dev/lockstep:v0.0.0-test';

const command = fc.constantFrom(
  ['vllm', 'serve', 'm', '--tensor-parallel-size=8'],
  ['python3', '-m', 'sglang.launch_server', '--model-path', 'm'],
  ['torchrun', '--nproc-per-node=8', 'train.py'],
  ['sh', '-c', 'ray start --head --block'],
  ['python3', '-c', 'import jax; jax.distributed.initialize()'],
  ['/bin/server', '--port=1'],
);

const container = fc.record({
  name: fc.constantFrom('main', 'engine', 'server'),
  image: fc.constant('example/engine:1'),
  command,
  env: fc.option(fc.constant([{ name: 'A', value: '1' }]), { nil: undefined }),
  volumeMounts: fc.option(fc.constant([{ name: 'dshm', mountPath: '/dev/shm' }]), { nil: undefined }),
});

const podTemplate = fc
  .record({
    containers: fc.tuple(container),
    initContainers: fc.option(fc.constant([{ name: 'fetch', image: 'busybox', command: ['true'] }]), {
      nil: undefined,
    }),
    volumes: fc.option(fc.constant([{ name: 'dshm', emptyDir: { medium: 'Memory' } }]), { nil: undefined }),
    subdomain: fc.constant('g'),
  })
  .map((spec) => ({ metadata: { labels: { app: 'g' } }, spec: JSON.parse(JSON.stringify(spec)) as JsonObject }));

const workload: fc.Arbitrary<JsonObject> = fc.oneof(
  fc
    .record({ t: podTemplate, w: podTemplate, leader: fc.boolean(), size: fc.integer({ min: 1, max: 64 }) })
    .map(({ t, w, leader, size }) => ({
      apiVersion: 'leaderworkerset.x-k8s.io/v1',
      kind: 'LeaderWorkerSet',
      metadata: { name: 'g' },
      spec: { leaderWorkerTemplate: { size, workerTemplate: w, ...(leader ? { leaderTemplate: t } : {}) } },
    })),
  fc.record({ t: podTemplate, n: fc.integer({ min: 1, max: 64 }) }).map(({ t, n }) => ({
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'g' },
    spec: { replicas: n, serviceName: 'g', selector: { matchLabels: { app: 'g' } }, template: t },
  })),
  fc.record({ t: podTemplate, n: fc.integer({ min: 1, max: 64 }) }).map(({ t, n }) => ({
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'g' },
    spec: { completionMode: 'Indexed', completions: n, parallelism: n, template: t },
  })),
  fc.record({ t: podTemplate, n: fc.integer({ min: 1, max: 64 }) }).map(({ t, n }) => ({
    apiVersion: 'jobset.x-k8s.io/v1alpha2',
    kind: 'JobSet',
    metadata: { name: 'g' },
    spec: {
      replicatedJobs: [{ name: 'w', replicas: 2, template: { spec: { completions: n, parallelism: n, template: t } } }],
    },
  })),
);

describe('inject on generated workloads', () => {
  it('is idempotent, and YAML and JSON input give the same objects', () => {
    fc.assert(
      fc.property(workload, fc.boolean(), (object, indentSeq) => {
        const yaml = stringify(object, { indentSeq });
        const once = injectText(yaml, { image: IMAGE });
        const twice = injectText(once.output, { image: IMAGE });
        expect(twice.output).toBe(once.output);
        expect(twice.report.changes).toEqual([]);
        const viaJson = injectText(JSON.stringify(object), { image: IMAGE });
        expect(parse(once.output)).toEqual(JSON.parse(viaJson.output));
        // the input's own fields all survive
        const out = parse(once.output) as JsonObject;
        expect(out.metadata).toEqual(object.metadata);
      }),
      { numRuns: 150 },
    );
  });
});
