/**
 * The coordinator's powers stay in the coordinator. A group's service account may patch and delete pods and review
 * tokens (deploy/base/coordinator-rbac.yaml); before, the pod's automatic token put those grants into every
 * container, the engine's included. Here each container of a pod built from a real `lockstep inject` output gets the
 * tokens the kubelet would give it (the automatic token unless the pod switches it off or a mount shadows it; every
 * projected service-account token mounted into it, requested bound to the pod), and tries each of the coordinator's
 * writes against the API server double with deploy/base's RBAC and admission policies: real HTTPS requests, real
 * authentication (audiences) and authorization.
 */
import { execFileSync } from 'node:child_process';
import { request } from 'node:https';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { injectText } from '../../src/inject/text.js';
import { SERVICE_ACCOUNT_DIR } from '../../src/kube/config.js';
import { type ApiServer, startApiServer } from '../cluster/apiserver/index.js';

const NS = 'ml';
const SA = 'ddp';
let api: ApiServer;

/** An authored two-pod StatefulSet running torchrun (the shape of test/inject/fixtures/statefulset-torchrun.yaml). */
function statefulSet(name: string): string {
  return `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: ${name}
  namespace: ${NS}
spec:
  serviceName: ${name}
  replicas: 2
  selector:
    matchLabels: {app: ${name}}
  template:
    metadata:
      labels: {app: ${name}}
    spec:
      serviceAccountName: ${SA}
      containers:
        - name: train
          image: pytorch/pytorch:2.4.0-cuda12.1-cudnn9-runtime
          command: [python3, -m, torch.distributed.run, --nproc-per-node=8, train.py]
`;
}

interface PodSpec {
  automountServiceAccountToken?: boolean;
  serviceAccountName?: string;
  initContainers?: Container[];
  containers: Container[];
  volumes?: Array<{
    name: string;
    projected?: { sources: Array<{ serviceAccountToken?: { audience?: string; expirationSeconds?: number } }> };
  }>;
}
interface Container {
  name: string;
  volumeMounts?: Array<{ name: string; mountPath: string }>;
}
interface Template {
  metadata: { labels: Record<string, string> };
  spec: PodSpec;
}

function templateOf(text: string): Template {
  const docs = text.split(/^---$/m).map((d) => d.trim());
  const sts = docs.find((d) => d.includes('kind: StatefulSet'))!;
  // the injected YAML through the server's own parser: the object the StatefulSet controller copies into pods
  const applied = api.store.apply(sts).applied[0] as unknown as { spec: { template: Template } };
  return applied.spec.template;
}

function createPod(name: string, template: Template, ordinal: number): void {
  api.store.create(
    'pods',
    {
      metadata: {
        name,
        namespace: NS,
        labels: { ...template.metadata.labels, 'apps.kubernetes.io/pod-index': String(ordinal) },
      },
      spec: { ...template.spec, nodeName: 'node-a' },
    },
    { namespace: NS },
  );
}

interface Held {
  source: string;
  token: string;
}

/**
 * The API tokens one container holds, handed out as the kubelet does: the automatic token (audience: the API
 * server) unless the pod sets automountServiceAccountToken false or the container mounts something at its path;
 * and the token of each projected serviceAccountToken volume the container mounts, with its audience and expiry.
 */
function tokensOf(pod: string, spec: PodSpec, container: string): Held[] {
  const c = [...(spec.initContainers ?? []), ...spec.containers].find((x) => x.name === container)!;
  const mounts = c.volumeMounts ?? [];
  const sa = { namespace: NS, name: spec.serviceAccountName ?? 'default' };
  const held: Held[] = [];
  const shadowed = mounts.some((m) => m.mountPath === SERVICE_ACCOUNT_DIR);
  if (spec.automountServiceAccountToken !== false && !shadowed) {
    held.push({ source: 'automatic token', token: api.tokenFor({ serviceAccount: sa, pod }) });
  }
  for (const m of mounts) {
    const volume = (spec.volumes ?? []).find((v) => v.name === m.name);
    for (const s of volume?.projected?.sources ?? []) {
      if (!s.serviceAccountToken) continue;
      const { audience, expirationSeconds } = s.serviceAccountToken;
      held.push({
        source: `volume ${m.name} (audience ${audience ?? 'the API server'})`,
        token: api.tokenFor({
          serviceAccount: sa,
          pod,
          ...(audience ? { audiences: [audience] } : {}),
          ...(expirationSeconds ? { expirationSeconds } : {}),
        }),
      });
    }
  }
  return held;
}

/** One HTTPS request to the API server double with a bearer token; resolves to the status code and message. */
function call(
  token: string,
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<{ status: number; message: string; text: string }> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, api.url);
    const req = request(
      url,
      {
        method,
        ca: api.caPem,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body === undefined ? {} : { 'content-type': contentType }),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let message = text;
          try {
            message = String((JSON.parse(text) as { message?: string }).message ?? text);
          } catch {}
          resolve({ status: res.statusCode ?? 0, message, text });
        });
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** Every write the coordinator's role grants, aimed at a pod (and the StatefulSet) of group `target`. */
function coordinatorWrites(target: string): Array<{ what: string; run: (token: string) => ReturnType<typeof call> }> {
  const pod = `/api/v1/namespaces/${NS}/pods/${target}`;
  const merge = 'application/merge-patch+json';
  return [
    {
      what: 'patch a pod',
      run: (t) => call(t, 'PATCH', pod, { metadata: { annotations: { 'lockstep.dev/epoch': '99' } } }, merge),
    },
    {
      what: "patch a pod's status",
      run: (t) =>
        call(
          t,
          'PATCH',
          `${pod}/status`,
          { status: { conditions: [{ type: 'lockstep.dev/GroupReady', status: 'False' }] } },
          'application/strategic-merge-patch+json',
        ),
    },
    {
      what: 'record an Event',
      run: (t) =>
        call(t, 'POST', `/api/v1/namespaces/${NS}/events`, {
          apiVersion: 'v1',
          kind: 'Event',
          metadata: { generateName: 'forged-', namespace: NS },
          involvedObject: { kind: 'Pod', name: target, namespace: NS },
          reason: 'Forged',
          message: 'forged',
          type: 'Warning',
        }),
    },
    {
      what: 'review a token',
      run: (t) =>
        call(t, 'POST', '/apis/authentication.k8s.io/v1/tokenreviews', {
          apiVersion: 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          spec: { token: 'x.y.z', audiences: ['lockstep'] },
        }),
    },
    {
      what: 'patch the StatefulSet',
      run: (t) =>
        call(
          t,
          'PATCH',
          `/apis/apps/v1/namespaces/${NS}/statefulsets/${target.replace(/-\d+$/, '')}`,
          { metadata: { annotations: { 'lockstep.dev/epoch': '99' } } },
          merge,
        ),
    },
    { what: 'delete a pod', run: (t) => call(t, 'DELETE', pod) },
  ];
}

let plain: Template;
let injected: Template;

beforeAll(async () => {
  api = await startApiServer({ namespaces: [NS] });
  const rendered = execFileSync('kubectl', ['kustomize', 'deploy/base'], { encoding: 'utf8' });
  expect(api.store.apply(rendered).skipped).toEqual([]);
  api.store.create('nodes', { metadata: { name: 'node-a' } });
  // the bindings deploy/README.md asks for, for the group's service account
  api.store.apply([
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: SA, namespace: NS } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'ddp-lockstep-coordinator', namespace: NS },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'lockstep-coordinator' },
      subjects: [{ kind: 'ServiceAccount', name: SA, namespace: NS }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: 'ddp-lockstep-tokenreview' },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'lockstep-tokenreview' },
      subjects: [{ kind: 'ServiceAccount', name: SA, namespace: NS }],
    },
  ]);
  plain = templateOf(statefulSet('plain'));
  injected = templateOf(injectText(statefulSet('ddp'), { image: 'ghcr.io/lockstep-dev/lockstep:test' }).output);
  const other = templateOf(injectText(statefulSet('other'), { image: 'ghcr.io/lockstep-dev/lockstep:test' }).output);
  for (const i of [0, 1]) {
    createPod(`plain-${i}`, plain, i);
    createPod(`ddp-${i}`, injected, i);
    createPod(`other-${i}`, other, i);
  }
});
afterAll(async () => {
  await api?.stop();
});

describe("an engine container's credentials", () => {
  it('before: a plain pod gives its engine the automatic token, which deletes another pod of the namespace', async () => {
    const held = tokensOf('plain-0', plain.spec, 'train');
    expect(held.map((h) => h.source)).toEqual(['automatic token']);
    const patched = await coordinatorWrites('plain-1')[0]!.run(held[0]!.token);
    expect(patched.status).toBe(200);
    const deleted = await call(held[0]!.token, 'DELETE', `/api/v1/namespaces/${NS}/pods/plain-1`);
    // 202: accepted for graceful deletion (the pod is on a node)
    expect(deleted.status).toBe(202);
  });

  it('after inject: the engine holds only the lockstep-audience token, and every coordinator write with it is refused', async () => {
    expect(injected.spec.automountServiceAccountToken).toBe(false);
    const held = tokensOf('ddp-1', injected.spec, 'train');
    expect(held.map((h) => h.source)).toEqual(['volume lockstep-token (audience lockstep)']);
    for (const target of ['ddp-0', 'other-0']) {
      for (const write of coordinatorWrites(target)) {
        const reply = await write.run(held[0]!.token);
        expect({ write: write.what, target, status: reply.status }).toEqual({ write: write.what, target, status: 401 });
      }
    }
    expect(api.store.get('pods', 'ddp-0', NS)).toBeDefined();
  });

  it('after inject: bootstrap holds no API token either; only the coordinator sidecar does', () => {
    const byContainer = Object.fromEntries(
      ['lockstep-coordinator', 'lockstep-bootstrap', 'train'].map((c) => [
        c,
        tokensOf('ddp-0', injected.spec, c).map((h) => h.source),
      ]),
    );
    expect(byContainer).toEqual({
      'lockstep-coordinator': ['volume lockstep-api-access (audience the API server)'],
      'lockstep-bootstrap': ['volume lockstep-token (audience lockstep)'],
      train: ['volume lockstep-token (audience lockstep)'],
    });
  });
});

describe("the coordinator's token", () => {
  it("does every coordinator write on its own group's pods", async () => {
    const [held] = tokensOf('ddp-0', injected.spec, 'lockstep-coordinator');
    for (const write of coordinatorWrites('ddp-1')) {
      const reply = await write.run(held!.token);
      expect({ write: write.what, status: reply.status, message: reply.status < 300 ? '' : reply.message }).toEqual({
        write: write.what,
        // created, or accepted for graceful deletion (the pod is on a node)
        status:
          write.what === 'record an Event' || write.what === 'review a token'
            ? 201
            : write.what === 'delete a pod'
              ? 202
              : 200,
        message: '',
      });
    }
  });

  it("is refused on another group's pods by the own-group policy, though RBAC grants the namespace", async () => {
    const [held] = tokensOf('ddp-0', injected.spec, 'lockstep-coordinator');
    // RBAC alone lets it delete any pod of the namespace: the attack the policy stops
    const review = await call(held!.token, 'POST', '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SelfSubjectAccessReview',
      spec: { resourceAttributes: { namespace: NS, verb: 'delete', resource: 'pods', name: 'other-1' } },
    });
    expect(review.status).toBe(201);
    expect((JSON.parse(review.text) as { status: { allowed: boolean } }).status.allowed).toBe(true);
    for (const write of coordinatorWrites('other-1').filter((w) => /pod/.test(w.what))) {
      const reply = await write.run(held!.token);
      expect({ write: write.what, status: reply.status }).toEqual({ write: write.what, status: 403 });
      expect(reply.message).toContain(
        "ValidatingAdmissionPolicy 'lockstep-coordinator-own-group' with binding 'lockstep-coordinator-own-group' denied request: pod ddp-0 is not in lockstep group other",
      );
    }
    expect(api.store.get('pods', 'other-1', NS)).toBeDefined();
  });
});
