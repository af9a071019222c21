import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import type { JsonObject } from '../../src/inject/json.js';
import { InjectError } from '../../src/inject/options.js';
import { injectText } from '../../src/inject/text.js';

const IMAGE = 'ghcr.io/lockstep-dev/lockstep:v0.0.0-test';

function podTemplate(extra: JsonObject = {}, container: JsonObject = {}): JsonObject {
  return {
    spec: {
      containers: [{ name: 'main', image: 'vllm/vllm-openai:v0.11.0', command: ['vllm', 'serve', 'm'], ...container }],
      ...extra,
    },
  };
}

function sts(spec: JsonObject, template: JsonObject = podTemplate()): JsonObject {
  return {
    apiVersion: 'apps/v1',
    kind: 'StatefulSet',
    metadata: { name: 'web' },
    spec: { replicas: 2, serviceName: 'web', template, ...spec },
  };
}

function lws(lwt: JsonObject): JsonObject {
  return {
    apiVersion: 'leaderworkerset.x-k8s.io/v1',
    kind: 'LeaderWorkerSet',
    metadata: { name: 'lws' },
    spec: { leaderWorkerTemplate: { size: 2, workerTemplate: podTemplate(), ...lwt } },
  };
}

function job(spec: JsonObject, templateSpec: JsonObject = { subdomain: 'j' }): JsonObject {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name: 'j' },
    spec: { completionMode: 'Indexed', completions: 2, parallelism: 2, template: podTemplate(templateSpec), ...spec },
  };
}

function jobset(spec: JsonObject, jobSpec: JsonObject = {}): JsonObject {
  return {
    apiVersion: 'jobset.x-k8s.io/v1alpha2',
    kind: 'JobSet',
    metadata: { name: 'js' },
    spec: {
      replicatedJobs: [
        {
          name: 'w',
          replicas: 1,
          template: { spec: { completions: 2, parallelism: 2, template: podTemplate(), ...jobSpec } },
        },
      ],
      ...spec,
    },
  };
}

function refused(object: JsonObject, options: Partial<Parameters<typeof injectText>[1]> = {}): string {
  try {
    injectText(stringify(object), { image: IMAGE, ...options });
  } catch (err) {
    expect(err).toBeInstanceOf(InjectError);
    return (err as Error).message;
  }
  throw new Error('inject accepted the manifest');
}

describe('inject refuses what it cannot wire, with the object, the field and the fix', () => {
  it.each([
    [
      'LWS size not set',
      lws({ size: undefined as unknown as JsonObject }),
      'LeaderWorkerSet/lws: cannot determine the group size: spec.leaderWorkerTemplate.size is not set; set it to the number of pods per group, leader included',
    ],
    [
      'LWS size templated',
      lws({ size: '{{ .Values.size }}' }),
      'spec.leaderWorkerTemplate.size is "{{ .Values.size }}", not a positive integer',
    ],
    [
      'LWS without workerTemplate',
      lws({ workerTemplate: null }),
      'spec.leaderWorkerTemplate.workerTemplate is not set',
    ],
    [
      'StatefulSet replicas not set',
      sts({ replicas: undefined as unknown as number }),
      'StatefulSet/web: cannot determine the group size: spec.replicas is not set',
    ],
    ['StatefulSet replicas 0', sts({ replicas: 0 }), 'spec.replicas is 0, not a positive integer'],
    [
      'StatefulSet without serviceName',
      sts({ serviceName: undefined as unknown as string }),
      'StatefulSet/web: spec.serviceName is not set',
    ],
    [
      'Job not Indexed',
      job({ completionMode: undefined as unknown as string }),
      'Job/j spec: completionMode is not set (NonIndexed); lockstep needs completionMode: Indexed',
    ],
    [
      'Job completions not set',
      job({ completions: undefined as unknown as number }),
      'Job/j spec: cannot determine the group size: completions is not set',
    ],
    ['Job parallelism below completions', job({ parallelism: 1 }), 'parallelism (1) differs from completions (2)'],
    [
      'Job parallelism not set',
      job({ parallelism: undefined as unknown as number }),
      'parallelism (not set, so 1) differs from completions (2)',
    ],
    ['Job without subdomain', job({}, {}), 'Job/j: spec.template.spec.subdomain is not set'],
    [
      'JobSet without DNS hostnames',
      jobset({ network: { enableDNSHostnames: false } }),
      'JobSet/js: spec.network.enableDNSHostnames is false',
    ],
    [
      'JobSet NonIndexed',
      jobset({}, { completionMode: 'NonIndexed' }),
      'JobSet/js spec.replicatedJobs[0].template.spec: completionMode is NonIndexed',
    ],
    ['JobSet without jobs', jobset({ replicatedJobs: [] }), 'JobSet/js: spec.replicatedJobs is empty'],
    ['no name', { ...sts({}), metadata: {} }, 'StatefulSet: metadata.name is not set (the group is named after it)'],
    [
      'no containers',
      sts({}, { spec: { containers: [] } }),
      'StatefulSet/web spec.template: the pod template has no containers',
    ],
  ])('%s', (_what, object, message) => {
    expect(refused(object)).toContain(message);
  });

  it('a foreign init container with lockstep’s name', () => {
    const object = sts(
      {},
      podTemplate({ initContainers: [{ name: 'lockstep-bootstrap', image: 'busybox', command: ['true'] }] }),
    );
    expect(refused(object)).toBe(
      'StatefulSet/web spec.template: init container lockstep-bootstrap already exists and does not run `lockstep bootstrap`; rename or remove it',
    );
    const coordinator = sts(
      {},
      podTemplate({ initContainers: [{ name: 'lockstep-coordinator', image: 'x', args: ['serve'] }] }),
    );
    expect(refused(coordinator)).toContain(
      'init container lockstep-coordinator already exists and does not run `lockstep coordinator`',
    );
  });

  it('a hand-wired lockstep init container under another name', () => {
    const object = sts(
      {},
      podTemplate({
        initContainers: [{ name: 'join', image: 'ghcr.io/lockstep-dev/lockstep:v0.0.9', args: ['bootstrap'] }],
      }),
    );
    expect(refused(object)).toBe(
      'StatefulSet/web spec.template: init container join already runs lockstep; remove it and inject again (lockstep names its own lockstep-coordinator and lockstep-bootstrap)',
    );
  });

  it('a main container with no command asks for --engine and --command', () => {
    const object = sts({}, podTemplate({}, { command: undefined as unknown as string[], args: ['--model', 'm'] }));
    expect(refused(object)).toBe(
      'StatefulSet/web spec.template: container main has no command to wrap (its image\'s entrypoint runs); pass --engine and --command with the entrypoint, e.g. --engine vllm --command "vllm serve" (--command "web=vllm serve" for this one alone)',
    );
    // with them it wraps the given entrypoint and keeps the args
    const { output } = injectText(stringify(object), {
      image: IMAGE,
      engine: 'vllm',
      commands: [{ words: ['vllm', 'serve'] }],
    });
    expect(output).toContain('- /var/run/lockstep/bin/lockstep\n');
    expect(output).toMatch(/- --engine=vllm\n\s+- --\n\s+- vllm\n\s+- serve\n/);
  });

  describe('--command serves the template or container it names, and one without a target serves one container', () => {
    // an LWS whose leader and workers both rely on their images' entrypoints (llama.cpp's shape)
    const entrypoints = lws({
      size: 2,
      leaderTemplate: { spec: { containers: [{ name: 'rpc-leader', image: 'l', args: ['--port', '8080'] }] } },
      workerTemplate: { spec: { containers: [{ name: 'rpc-worker', image: 'w', args: ['--host', '0.0.0.0'] }] } },
    });
    const run = (commands: { target?: string; words: string[] }[]) =>
      injectText(stringify(entrypoints), { image: IMAGE, engine: 'none', commands });
    /** the command words after `lockstep run … --`, leader's then worker's */
    const wrapped = (output: string) => {
      const lwt = (parse(output) as { spec: { leaderWorkerTemplate: Record<string, JsonObject> } }).spec
        .leaderWorkerTemplate;
      return ['leaderTemplate', 'workerTemplate'].map((role) => {
        const command = ((lwt[role]!.spec as JsonObject).containers as { command: string[] }[])[0]!.command;
        return command.slice(command.indexOf('--') + 1);
      });
    };
    it.each([
      {
        name: 'by template',
        commands: [
          { target: 'leader', words: ['/llama-server'] },
          { target: 'worker', words: ['/rpc-server'] },
        ],
        want: [['/llama-server'], ['/rpc-server']],
      },
      {
        name: 'by container name, the rest by the untargeted one',
        commands: [{ target: 'rpc-worker', words: ['/rpc-server'] }, { words: ['/llama-server'] }],
        want: [['/llama-server'], ['/rpc-server']],
      },
    ])('$name', ({ commands, want }) => {
      expect(wrapped(run(commands).output)).toEqual(want);
    });
    it.each([
      {
        name: 'an untargeted command for two containers',
        commands: [{ words: ['/llama-server'] }],
        error:
          '--command "/llama-server" would start container rpc-leader (LeaderWorkerSet/lws spec.leaderWorkerTemplate.leaderTemplate) and container rpc-worker (LeaderWorkerSet/lws spec.leaderWorkerTemplate.workerTemplate); name the one it is for: --command "leader=…", --command "worker=…"',
      },
      {
        name: 'a target that names nothing',
        commands: [
          { target: 'leader', words: ['/llama-server'] },
          { target: 'workers', words: ['/rpc-server'] },
        ],
        error:
          /^LeaderWorkerSet\/lws spec.leaderWorkerTemplate.workerTemplate: container rpc-worker has no command to wrap/,
      },
      {
        name: 'a misspelt target when every container is served',
        commands: [
          { target: 'leader', words: ['/a'] },
          { target: 'worker', words: ['/b'] },
          { target: 'wrker', words: ['/c'] },
        ],
        error:
          '--command wrker="/c": nothing in the input is called wrker (templates and main containers: leader, rpc-leader, worker, rpc-worker)',
      },
    ])('refused: $name', ({ commands, error }) => {
      expect(() => run(commands)).toThrow(InjectError);
      expect(() => run(commands)).toThrow(error);
    });
    it('a --command no container needs is a warning, not a change', () => {
      const report = injectText(stringify(sts({})), { image: IMAGE, commands: [{ words: ['/x'] }] }).report;
      expect(report.warnings).toContain(
        '--command "/x" not used: every container it could serve has a command of its own',
      );
    });
  });

  it('volumes and mounts of lockstep’s names or paths that are something else', () => {
    expect(refused(sts({}, podTemplate({ volumes: [{ name: 'lockstep-run', hostPath: { path: '/x' } }] })))).toBe(
      'StatefulSet/web spec.template: volume lockstep-run already exists and is not an emptyDir; rename it',
    );
    expect(refused(sts({}, podTemplate({ volumes: [{ name: 'lockstep-token', emptyDir: {} }] })))).toContain(
      'volume lockstep-token already exists and is not a projected token with audience lockstep',
    );
    const clash = sts(
      {},
      podTemplate(
        { volumes: [{ name: 'cache', emptyDir: {} }] },
        { volumeMounts: [{ name: 'cache', mountPath: '/var/run/lockstep' }] },
      ),
    );
    expect(refused(clash)).toBe(
      'StatefulSet/web spec.template: container main already mounts volume cache at /var/run/lockstep, where lockstep mounts lockstep-run',
    );
  });

  it('a default-container annotation that names no container', () => {
    const object = sts(
      {},
      { metadata: { annotations: { 'kubectl.kubernetes.io/default-container': 'nope' } }, ...podTemplate() },
    );
    expect(refused(object)).toContain('kubectl.kubernetes.io/default-container names nope, which is not a container');
  });

  it('text that is not YAML or JSON', () => {
    expect(() => injectText('kind: [unclosed', { image: IMAGE })).toThrow(/^document 1 is not valid YAML: /);
    expect(() => injectText('{"kind": ', { image: IMAGE })).toThrow(/^input is not valid JSON: /);
  });
});

describe('objects that run pods but are no kind inject handles', () => {
  const container = { name: 'main', image: 'vllm/vllm-openai:v0.11.0', command: ['vllm', 'serve', 'm'] };
  const cases: [string, JsonObject, RegExp | undefined][] = [
    [
      'a Deployment',
      {
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: { name: 'd' },
        spec: { template: { spec: { containers: [container] } } },
      },
      /^Deployment\/d runs pods \(spec\.template\.spec\.containers\) but is no kind lockstep injects/,
    ],
    [
      'a bare Pod',
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [container] } },
      /^Pod\/p runs pods \(spec\.containers\)/,
    ],
    [
      'a RayCluster (pods deep in a custom resource)',
      {
        apiVersion: 'ray.io/v1',
        kind: 'RayCluster',
        metadata: { name: 'r' },
        spec: { headGroupSpec: { template: { spec: { containers: [container] } } } },
      },
      /^RayCluster\/r runs pods \(spec\.headGroupSpec\.template\.spec\.containers\)/,
    ],
    [
      'a Service',
      { apiVersion: 'v1', kind: 'Service', metadata: { name: 's' }, spec: { clusterIP: 'None' } },
      undefined,
    ],
    [
      'a ConfigMap',
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { containers: 'x' } },
      undefined,
    ],
  ];

  it.each(cases)('%s', (_what, object, refusal) => {
    const text = stringify(object);
    if (refusal === undefined) {
      expect(injectText(text, { image: IMAGE }).output).toBe(text);
      return;
    }
    expect(() => injectText(text, { image: IMAGE })).toThrow(InjectError);
    expect(() => injectText(text, { image: IMAGE })).toThrow(refusal);
    expect(() => injectText(text, { image: IMAGE })).toThrow(/pass --pass-through to leave it unchanged$/);
    const passed = injectText(text, { image: IMAGE, passThrough: true });
    expect(passed.output).toBe(text);
    expect(passed.report.warnings).toEqual([expect.stringMatching(/left unchanged \(--pass-through\)$/)]);
  });
});

describe('immutable fields of an object that exists', () => {
  it.each([
    ['read from a cluster (uid, resourceVersion)', { uid: 'u-1', resourceVersion: '42' }, 1],
    ['written by hand', {}, 0],
  ] as const)(
    'a StatefulSet %s: podManagementPolicy changed, with a warning only when it exists',
    (_what, meta, warnings) => {
      const object = sts({ podManagementPolicy: 'OrderedReady' });
      object.metadata = { ...(object.metadata as JsonObject), ...meta };
      const { output, report } = injectText(stringify(object), { image: IMAGE });
      expect(output).toContain('podManagementPolicy: Parallel');
      const found = report.warnings.filter((w) => /exists already/.test(w));
      expect(found.length).toBe(warnings);
      if (warnings) expect(found[0]).toMatch(/kubectl delete statefulset web --cascade=orphan, then apply this output/);
    },
  );
});

describe('immutable pod templates of Jobs and JobSets that exist', () => {
  const existing = { uid: 'u-1', resourceVersion: '42' };
  it.each([
    ['a Job read from a cluster', job({}), existing, /kubectl delete job j, then apply this output/],
    ['a Job written by hand', job({}), {}, undefined],
    ['a running JobSet read from a cluster', jobset({}), existing, /kubectl delete jobset js, then apply/],
    [
      'a suspended JobSet read from a cluster (it accepts new templates)',
      jobset({ suspend: true }),
      existing,
      undefined,
    ],
    ['a JobSet written by hand', jobset({}), {}, undefined],
  ] as const)('%s', (_what, object, meta, warning) => {
    object.metadata = { ...(object.metadata as JsonObject), ...meta };
    const { output, report } = injectText(stringify(object), { image: IMAGE });
    // the template is still injected: the warning says what the API server will do with it
    expect(output).toContain('lockstep');
    const found = report.warnings.filter((w) => /exists already/.test(w));
    if (warning === undefined) expect(found).toEqual([]);
    else expect(found).toEqual([expect.stringMatching(warning)]);
  });
});
