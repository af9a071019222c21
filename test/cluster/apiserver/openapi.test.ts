/**
 * Field schemas in /openapi/v3, through the client that reads them: real `kubectl explain` shows a kind's fields
 * and descends into them, and `kubectl apply --validate=strict` (kubectl's default) is refused for an unknown field
 * as a real server refuses it, while `--validate=warn` stores the object with a warning. The authored schemas are
 * checked for completeness against what users send: every manifest in deploy/ is accepted without a dropped field,
 * and, where ../shared/k8s exists, every field of the PodTemplateSpec the LeaderWorkerSet CRD embeds (written from
 * the real core/v1 types) is declared.
 */
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { itRecorded } from '../../support/recorded.js';
import { type ApiServer, startApiServer } from './index.js';
import { LWS_SCHEMA } from './lws-crd.js';
import { loadLwsSchema, resourceOpenApi } from './openapi.js';
import { AUTHORED_SCHEMAS, authoredKindSchema, withListAttributeFields } from './openapi-schemas.js';
import { rawRequest } from './raw-client.js';
import { isRecord } from './types.js';
import { type Schema, SchemaSet } from './validation/schema.js';

const run = promisify(execFile);
const REPO = join(import.meta.dirname, '..', '..', '..');

/** Runs real kubectl against a server, with `input` on stdin; never throws. */
async function kubectlAt(kubeconfig: string, args: string[], input?: string) {
  try {
    const pending = run('kubectl', ['--kubeconfig', kubeconfig, ...args], { timeout: 30_000 });
    pending.child.stdin?.end(input ?? '');
    const { stdout, stderr } = await pending;
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('OpenAPI v3 field schemas through real kubectl', () => {
  let api: ApiServer;
  const kubectl = (args: string[], input?: string) => kubectlAt(api.kubeconfigPath, args, input);

  beforeAll(async () => {
    api = await startApiServer({ namespaces: ['ml'] });
  });
  afterAll(() => api.stop());

  const explained: { what: string; kind: string; fields: string[] }[] = [
    { what: 'pods', kind: 'Pod', fields: ['apiVersion', 'kind', 'metadata', 'spec', 'status'] },
    { what: 'pods.spec', kind: 'Pod', fields: ['containers', 'resourceClaims', 'tolerations', 'nodeSelector'] },
    { what: 'pods.spec.containers.resources.claims', kind: 'Pod', fields: ['name', 'request'] },
    { what: 'deployments.spec.template.spec.containers', kind: 'Deployment', fields: ['image', 'command', 'env'] },
    { what: 'statefulsets.spec', kind: 'StatefulSet', fields: ['podManagementPolicy', 'serviceName', 'template'] },
    { what: 'jobs.spec', kind: 'Job', fields: ['completionMode', 'completions', 'template'] },
    { what: 'configmaps', kind: 'ConfigMap', fields: ['data', 'binaryData', 'immutable'] },
    { what: 'jobsets.spec', kind: 'JobSet', fields: ['replicatedJobs', 'successPolicy'] },
  ];
  for (const e of explained) {
    it(`kubectl explain ${e.what} lists its fields`, async () => {
      const r = await kubectl(['explain', e.what]);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`KIND:\\s+${e.kind}\\b`));
      const listed = [...r.stdout.matchAll(/^ {2}(\w+)\t</gm)].map((m) => m[1]);
      for (const f of e.fields) expect(listed).toContain(f);
    });
  }

  it('kubectl explain descends into a referenced type and shows the required marker', async () => {
    const r = await kubectl(['explain', 'pods.spec.containers']);
    expect(r.stdout).toMatch(/FIELD: containers <\[\]Container>/);
    expect(r.stdout).toMatch(/ {2}name\t<string> -required-/);
    expect(r.stdout).toMatch(/ {2}resources\t<ResourceRequirements>/);
  });

  it('kubectl explain of a field that does not exist fails as on a real server', async () => {
    const r = await kubectl(['explain', 'pods.spec.containerz']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('field "containerz" does not exist');
  });

  itRecorded(
    'kubectl explain resourceclaims and leaderworkersets (official and CRD schemas)',
    async () => {
      const claims = await kubectl(['explain', 'resourceclaims.spec.devices']);
      expect(claims.stdout).toMatch(/ {2}requests\t<\[\]DeviceRequest>/);
      const lws = await kubectl(['explain', 'leaderworkersets.spec']);
      expect(lws.stdout).toMatch(/ {2}leaderWorkerTemplate\t<Object> -required-/);
    },
    { needs: 'k8s' },
  );

  const podWith = (containerExtra: string) =>
    `apiVersion: v1\nkind: Pod\nmetadata: {name: typo, namespace: ml}\nspec:\n  containers:\n  - name: c\n    image: i\n${containerExtra}`;

  it('apply --validate=strict refuses an unknown field with the real message, and stores nothing', async () => {
    const r = await kubectl(['apply', '--validate=strict', '-f', '-'], podWith('    imagePullPolcy: Always\n'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.containers[0].imagePullPolcy"',
    );
    expect(api.store.find('pods', 'typo', 'ml')).toBeUndefined();
  });

  it.each([
    [
      'a number for a string (container image)',
      'Pod',
      podWith('    ports: [{containerPort: 80}]\n').replace('image: i', 'image: 5'),
      'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal number into Go struct field Container.spec.containers.image of type string',
    ],
    [
      'a string for an int32 (containerPort)',
      'Pod',
      podWith('    ports: [{containerPort: "80"}]\n'),
      'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal string into Go struct field ContainerPort.spec.containers.ports.containerPort of type int32',
    ],
    [
      'a number for a map value (nodeSelector)',
      'Pod',
      `${podWith('')}  nodeSelector: {gpu: 1}\n`,
      'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal number into Go struct field PodSpec.spec.nodeSelector of type string',
    ],
    [
      'a string for a bool (hostNetwork)',
      'Pod',
      `${podWith('')}  hostNetwork: "yes"\n`,
      'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal string into Go struct field PodSpec.spec.hostNetwork of type bool',
    ],
    [
      'an object for a list (containers)',
      'Pod',
      'apiVersion: v1\nkind: Pod\nmetadata: {name: typo, namespace: ml}\nspec:\n  containers: {name: c, image: i}\n',
      'Pod in version "v1" cannot be handled as a Pod: json: cannot unmarshal object into Go struct field PodSpec.spec.containers of type []v1.Container',
    ],
    [
      'a string for replicas',
      'Deployment',
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: typed, namespace: ml}\nspec:\n  replicas: "3"\n  selector: {matchLabels: {app: w}}\n  template:\n    metadata: {labels: {app: w}}\n    spec: {containers: [{name: c, image: i}]}\n',
      'Deployment in version "v1" cannot be handled as a Deployment: json: cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of type int32',
    ],
  ])(
    'apply --validate=strict refuses %s with the decoder message, and stores nothing',
    async (_what, kind, text, message) => {
      const r = await kubectl(['apply', '--validate=strict', '-f', '-'], text);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(message);
      expect(
        api.store.find(kind === 'Pod' ? 'pods' : 'deployments', kind === 'Pod' ? 'typo' : 'typed', 'ml'),
      ).toBeUndefined();
    },
  );

  it('int-or-string fields take a number or a name; quantities a string or a number', async () => {
    const probes = [
      '    ports: [{name: http, containerPort: 8000}]',
      '    livenessProbe: {httpGet: {path: /health, port: http}}',
      '    readinessProbe: {tcpSocket: {port: 8000}}',
      '    resources: {limits: {cpu: 2, memory: 1Gi}}',
      '',
    ].join('\n');
    const r = await kubectl(
      ['apply', '--validate=strict', '-f', '-'],
      podWith(probes).replace('name: typo', 'name: typed-ok'),
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const bad = await kubectl(
      ['apply', '--validate=strict', '-f', '-'],
      podWith('    readinessProbe: {tcpSocket: {port: true}}\n'),
    );
    expect(bad.stderr).toContain(
      'cannot unmarshal bool into Go struct field TCPSocketAction.spec.containers.readinessProbe.tcpSocket.port of type intstr.IntOrString',
    );
  });

  it('apply --validate=strict refuses unknown fields of a Deployment template and a ConfigMap', async () => {
    const deployment = [
      'apiVersion: apps/v1',
      'kind: Deployment',
      'metadata: {name: web, namespace: ml}',
      'spec:',
      '  selector: {matchLabels: {app: web}}',
      '  template:',
      '    metadata: {labels: {app: web}}',
      '    spec:',
      '      containers: [{name: c, image: i}]',
      '      nodeSelecter: {gpu: "true"}',
      '',
    ].join('\n');
    const d = await kubectl(['apply', '--validate=strict', '-f', '-'], deployment);
    expect(d.stderr).toContain('unknown field "spec.template.spec.nodeSelecter"');
    const cm = await kubectl(
      ['apply', '--validate=strict', '-f', '-'],
      'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: ml}\ndata: {a: b}\nextra: 1\n',
    );
    expect(cm.stderr).toContain('ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error');
    expect(cm.stderr).toContain('unknown field "extra"');
  });

  it('apply --validate=warn stores the object without the field and prints the warning', async () => {
    const r = await kubectl(['apply', '--validate=warn', '-f', '-'], podWith('    imagePullPolcy: Always\n'));
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('Warning: unknown field "spec.containers[0].imagePullPolcy"');
    const pod = api.store.get('pods', 'typo', 'ml') as unknown as { spec: { containers: Record<string, unknown>[] } };
    expect(pod.spec.containers[0]).not.toHaveProperty('imagePullPolcy');
  });

  it('every $ref of every served document resolves inside that document', async () => {
    const index = (await rawRequest(api, 'GET', '/openapi/v3')).json as { paths: Record<string, unknown> };
    expect(Object.keys(index.paths)).toContain('api/v1');
    for (const path of Object.keys(index.paths)) {
      const doc = (await rawRequest(api, 'GET', `/openapi/v3/${path}`)).json as {
        components: { schemas: Record<string, unknown> };
      };
      for (const ref of refsIn(doc)) expect(doc.components.schemas, `${path}: ${ref}`).toHaveProperty([ref]);
    }
  });
});

describe('authored resource.k8s.io and LeaderWorkerSet schemas (as on a fresh clone without ../shared)', () => {
  let api: ApiServer;
  const kubectl = (args: string[], input?: string) => kubectlAt(api.kubeconfigPath, args, input);

  beforeAll(async () => {
    // officialSchemas: false ignores ../shared/k8s even where it exists, so these checks run on the authored schemas
    api = await startApiServer({
      namespaces: ['ml'],
      officialSchemas: false,
      featureGates: { DRADeviceTaintRules: true },
    });
  });
  afterAll(() => api.stop());

  it.each([
    ['resourceclaims.spec', 'ResourceClaim', /^ {2}devices\t<DeviceClaim>/m],
    ['resourceclaims.spec.devices', 'ResourceClaim', /^ {2}requests\t<\[\]DeviceRequest>/m],
    ['resourceclaims.spec.devices.requests.exactly', 'ResourceClaim', /^ {2}deviceClassName\t<string> -required-/m],
    ['resourceclaimtemplates.spec.spec', 'ResourceClaimTemplate', /^ {2}devices\t<DeviceClaim>/m],
    ['resourceslices.spec', 'ResourceSlice', /^ {2}pool\t<ResourcePool> -required-/m],
    ['resourceslices.spec.devices.attributes', 'ResourceSlice', /^ {2}int\t<integer>/m],
    ['deviceclasses.spec', 'DeviceClass', /^ {2}selectors\t<\[\]DeviceSelector>/m],
    ['devicetaintrules.spec', 'DeviceTaintRule', /^ {2}taint\t<DeviceTaint> -required-/m],
    ['leaderworkersets.spec', 'LeaderWorkerSet', /^ {2}leaderWorkerTemplate\t<Object> -required-/m],
    ['leaderworkersets.spec.leaderWorkerTemplate', 'LeaderWorkerSet', /^ {2}workerTemplate\t<Object> -required-/m],
  ])('kubectl explain %s shows the authored fields', async (what, kind, field) => {
    const r = await kubectl(['explain', what]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`KIND:\\s+${kind}\\b`));
    expect(r.stdout).toMatch(field);
  });

  const claim = (request: string) =>
    `apiVersion: resource.k8s.io/v1\nkind: ResourceClaim\nmetadata: {name: gpus, namespace: ml}\nspec:\n  devices:\n    requests:\n    - name: gpu\n      exactly:\n        deviceClassName: gpu.lockstep.dev\n${request}`;
  const lws = (specExtra: string) =>
    `apiVersion: leaderworkerset.x-k8s.io/v1\nkind: LeaderWorkerSet\nmetadata: {name: train, namespace: ml}\nspec:\n${specExtra}  leaderWorkerTemplate:\n    size: 2\n    workerTemplate:\n      spec:\n        containers: [{name: w, image: i}]\n`;

  it.each([
    [
      'an unknown field of a ResourceClaim request',
      claim('        count: 2\n        alocationMode: ExactCount\n'),
      'ResourceClaim in version "v1" cannot be handled as a ResourceClaim: strict decoding error: unknown field "spec.devices.requests[0].exactly.alocationMode"',
    ],
    [
      'a string for an int64 (ResourceClaim count)',
      claim('        count: "two"\n'),
      'ResourceClaim in version "v1" cannot be handled as a ResourceClaim: json: cannot unmarshal string into Go struct field ExactDeviceRequest.spec.devices.requests.exactly.count of type int64',
    ],
    [
      'an unknown field of a LeaderWorkerSet spec',
      lws('  replicaz: 2\n'),
      'LeaderWorkerSet in version "v1" cannot be handled as a LeaderWorkerSet: strict decoding error: unknown field "spec.replicaz"',
    ],
    [
      'a string for an integer (LeaderWorkerSet replicas)',
      lws('  replicas: two\n'),
      'The LeaderWorkerSet "train" is invalid: spec.replicas: Invalid value: "two": spec.replicas in body must be of type integer: "string"',
    ],
    [
      'a value outside the enum (LeaderWorkerSet startupPolicy)',
      lws('  startupPolicy: Whenever\n'),
      'spec.startupPolicy: Unsupported value: "Whenever": supported values: "LeaderCreated", "LeaderReady"',
    ],
  ])('apply --validate=strict refuses %s and stores nothing', async (_what, manifest, message) => {
    const r = await kubectl(['apply', '--validate=strict', '-f', '-'], manifest);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(message);
    expect(api.store.find('resourceclaims.resource.k8s.io', 'gpus', 'ml')).toBeUndefined();
    expect(api.store.find('leaderworkersets.leaderworkerset.x-k8s.io', 'train', 'ml')).toBeUndefined();
  });

  it('a well-formed ResourceClaim and LeaderWorkerSet are stored, the LWS with its CRD defaults', async () => {
    const c = await kubectl(['apply', '--validate=strict', '-f', '-'], claim('        count: 2\n'));
    expect(c.stderr).toBe('');
    const l = await kubectl(['apply', '--validate=strict', '-f', '-'], lws(''));
    expect(l.stderr).toBe('');
    const stored = api.store.get('leaderworkersets.leaderworkerset.x-k8s.io', 'train', 'ml') as unknown as {
      spec: { replicas: number; startupPolicy: string; leaderWorkerTemplate: { restartPolicy: string } };
    };
    expect(stored.spec.replicas).toBe(1);
    expect(stored.spec.startupPolicy).toBe('LeaderCreated');
    expect(stored.spec.leaderWorkerTemplate.restartPolicy).toBe('RecreateGroupOnPodRestart');
  });

  it('serves no official document: every $ref of the generated resource.k8s.io/v1 document resolves', async () => {
    const doc = (await rawRequest(api, 'GET', '/openapi/v3/apis/resource.k8s.io/v1')).json as {
      info: { title: string };
      components: { schemas: Record<string, unknown> };
    };
    expect(doc.components.schemas).toHaveProperty(['io.k8s.api.resource.v1.ResourceClaim']);
    for (const ref of refsIn(doc)) expect(doc.components.schemas, ref).toHaveProperty([ref]);
  });
});

function refsIn(value: unknown, out = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) refsIn(v, out);
  else if (isRecord(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') out.add(v.replace('#/components/schemas/', ''));
      else refsIn(v, out);
    }
  }
  return out;
}

describe('authored schemas against what users send', () => {
  const set = new SchemaSet(AUTHORED_SCHEMAS, false);

  it('no field of any manifest in deploy/ (base, examples, injected and plain) is unknown to them', () => {
    const base = execFileSync('kubectl', ['kustomize', join(REPO, 'deploy/base')], { encoding: 'utf8' });
    const files = execFileSync('git', ['ls-files', 'deploy/examples/*.yaml'], { cwd: REPO, encoding: 'utf8' })
      .split('\n')
      .filter((f) => f !== '' && !f.endsWith('kustomization.yaml'));
    const texts = [base, ...files.map((f) => readFileSync(join(REPO, f), 'utf8'))];
    let checked = 0;
    for (const text of texts) {
      for (const doc of parseAllDocuments(text)) {
        const obj = doc.toJS() as { apiVersion?: string; kind?: string } | null;
        if (!obj?.apiVersion || !obj.kind) continue;
        const [group, version] = obj.apiVersion.includes('/') ? obj.apiVersion.split('/') : ['', obj.apiVersion];
        const name = authoredKindSchema(group ?? '', version ?? '', obj.kind);
        if (!name) continue;
        expect(set.prune(obj, set.named(name)), `${obj.kind}`).toEqual([]);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(5);
  });

  itRecorded(
    'every field of the PodTemplateSpec embedded in the LeaderWorkerSet CRD is declared',
    () => {
      const lws = loadLwsSchema();
      const template = dig(lws, ['spec', 'leaderWorkerTemplate', 'workerTemplate']);
      const missing = undeclared(template, AUTHORED_SCHEMAS['io.k8s.api.core.v1.PodTemplateSpec'] ?? {}, 'template');
      expect(missing).toEqual([]);
    },
    { needs: 'k8s' },
  );

  itRecorded(
    'the authored resource.k8s.io/v1 kinds declare exactly the fields of the official document',
    () => {
      // the official document is 1.34's: compare with the authored schemas less the list-typed attribute fields of
      // 1.36, and the document with those fields added with the authored schemas as they are
      const document = (resourceOpenApi() as { components: { schemas: Record<string, Schema> } }).components.schemas;
      for (const listFields of [false, true]) {
        const official = withListAttributeFields(document, listFields);
        const authored = withListAttributeFields(AUTHORED_SCHEMAS, listFields);
        for (const kind of ['DeviceClass', 'ResourceClaim', 'ResourceClaimTemplate', 'ResourceSlice']) {
          const name = authoredKindSchema('resource.k8s.io', 'v1', kind);
          expect(name).toBe(`io.k8s.api.resource.v1.${kind}`);
          const theirs = official[`io.k8s.api.resource.v1.${kind}`] ?? {};
          const ours = authored[name ?? ''] ?? {};
          expect(undeclared(theirs, ours, kind, official), `missing from ${kind}`).toEqual([]);
          expect(undeclared(ours, theirs, kind, authored, official), `extra in ${kind}`).toEqual([]);
        }
      }
    },
    { needs: 'k8s' },
  );

  itRecorded(
    'the authored LeaderWorkerSet schema declares the fields of the official CRD outside the pod templates',
    () => {
      const official = loadLwsSchema();
      expect(undeclared(official, LWS_SCHEMA, 'lws', {}, {})).toEqual([]);
      expect(undeclared(LWS_SCHEMA, official, 'lws', {}, {})).toEqual([]);
    },
    { needs: 'k8s' },
  );
});

function dig(schema: Schema, path: string[]): Schema {
  let cur: unknown = schema;
  for (const p of path) cur = isRecord(cur) && isRecord(cur.properties) ? cur.properties[p] : undefined;
  if (!isRecord(cur)) throw new Error(`no ${path.join('.')}`);
  return cur;
}

/** A schema with its `$ref` (bare or in an allOf) followed inside `pool`. */
function resolveIn(pool: Record<string, Schema>, s: Schema): Schema {
  const ref = Array.isArray(s.allOf) && isRecord(s.allOf[0]) ? s.allOf[0].$ref : s.$ref;
  if (typeof ref === 'string') return pool[ref.replace('#/components/schemas/', '')] ?? {};
  return s;
}

/**
 * Fields the reference schema declares that ours does not, walking both where ours is not left open; references are
 * followed in `referencePool` (theirs) and the authored schemas (ours) unless `ourPool` says otherwise.
 */
function undeclared(
  referenceSchema: Schema,
  ours: Schema,
  path: string,
  referencePool: Record<string, Schema> = {},
  ourPool: Record<string, Schema> = AUTHORED_SCHEMAS,
): string[] {
  const reference = resolveIn(referencePool, referenceSchema);
  const mine = resolveIn(ourPool, ours);
  if (mine['x-kubernetes-preserve-unknown-fields'] === true && !isRecord(mine.properties)) return [];
  if (reference.type === 'array' && isRecord(reference.items) && isRecord(mine.items))
    return undeclared(reference.items, mine.items, `${path}[]`, referencePool, ourPool);
  if (isRecord(reference.additionalProperties) && isRecord(mine.additionalProperties))
    return undeclared(reference.additionalProperties, mine.additionalProperties, `${path}{}`, referencePool, ourPool);
  if (!isRecord(reference.properties)) return [];
  const theirs = reference.properties as Record<string, Schema>;
  const declared = isRecord(mine.properties) ? (mine.properties as Record<string, Schema>) : {};
  const out: string[] = [];
  for (const [key, value] of Object.entries(theirs)) {
    const own = declared[key];
    if (!own) {
      if (mine['x-kubernetes-preserve-unknown-fields'] !== true) out.push(`${path}.${key}`);
      continue;
    }
    out.push(...undeclared(value, own, `${path}.${key}`, referencePool, ourPool));
  }
  return out;
}
