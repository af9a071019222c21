import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { releaseImage } from '../../deploy/generate.js';
import { CONDITION_GROUP_READY, LABEL_GROUP } from '../../src/contract/names.js';
import { isObject, type Json, type JsonObject } from '../../src/inject/json.js';
import { REPO_ROOT } from '../support/paths.js';
import { find, kustomize } from './render.js';

// the image of this version: the DaemonSet in base/ must move with package.json (as `lockstep inject` does)
const PKG_IMAGE = releaseImage();

/** `a.b[0].c` style access for the assertions below. */
function at(value: Json | undefined, path: string): Json | undefined {
  let cur: Json | undefined = value;
  for (const part of path.match(/[^.[\]]+/g) ?? []) {
    if (Array.isArray(cur)) cur = cur[Number(part)];
    else if (isObject(cur)) cur = cur[part];
    else return undefined;
  }
  return cur;
}

function rules(role: JsonObject): string[] {
  return (role.rules as JsonObject[]).flatMap((r) =>
    (r.resources as string[]).flatMap((res) => (r.verbs as string[]).map((v) => `${res}:${v}`)),
  );
}

describe('deploy/base', () => {
  const { objects } = kustomize('deploy/base');

  it('renders the agent DaemonSet as the design asks', () => {
    const ds = find(objects, 'DaemonSet', 'lockstep-agent');
    expect(at(ds, 'metadata.namespace')).toBe('lockstep-system');
    expect(at(ds, 'spec.updateStrategy')).toEqual({
      type: 'RollingUpdate',
      rollingUpdate: { maxSurge: 1, maxUnavailable: 0 },
    });
    const pod = at(ds, 'spec.template.spec') as JsonObject;
    expect(pod.priorityClassName).toBe('system-node-critical');
    expect(pod.serviceAccountName).toBe('lockstep-agent');
    expect(pod.tolerations).toEqual([{ operator: 'Exists' }]);
    const agent = at(pod, 'containers[0]') as JsonObject;
    expect(agent.image).toBe(PKG_IMAGE);
    expect(agent.args).toEqual(['agent']);
    expect(at(agent, 'securityContext.privileged')).toBe(true);
    const env = Object.fromEntries(
      (agent.env as JsonObject[]).map((e) => [e.name, e.value ?? at(e, 'valueFrom.fieldRef.fieldPath')]),
    );
    expect(env).toEqual({
      NODE_NAME: 'spec.nodeName',
      POD_UID: 'metadata.uid',
      POD_NAMESPACE: 'metadata.namespace',
      LOCKSTEP_DRIVER_ROOT: '/driver-root',
      LOCKSTEP_PROC_ROOT: '/host/proc',
      NODE_OPTIONS: '--max-semi-space-size=1 --jitless',
      MALLOC_ARENA_MAX: '2',
    });
    const mounts = Object.fromEntries(
      (agent.volumeMounts as JsonObject[]).map((m) => [m.mountPath, m.readOnly === true]),
    );
    expect(mounts).toEqual({
      '/var/lib/kubelet/plugins_registry': false,
      '/var/lib/kubelet/plugins/lockstep.dev': false,
      '/var/run/cdi': false,
      '/sys': true,
      '/dev': true,
      '/dev/kmsg': true,
      '/run/udev': true,
      '/driver-root': true,
      '/host/proc': true,
    });
    const driverRoot = (pod.volumes as JsonObject[]).find((v) => v.name === 'driver-root');
    expect(at(driverRoot!, 'hostPath.path')).toBe('/');
    const hostPaths = (pod.volumes as JsonObject[]).map((v) => at(v, 'hostPath.path'));
    expect(hostPaths).toEqual(
      expect.arrayContaining(['/var/lib/kubelet/plugins_registry', '/var/run/cdi', '/dev/kmsg']),
    );
  });

  it('gives the agent exactly the API access it needs', () => {
    const role = find(objects, 'ClusterRole', 'lockstep-agent');
    expect(rules(role).sort()).toEqual(
      [
        ...['create', 'get', 'list', 'watch', 'update', 'patch', 'delete'].map((v) => `resourceslices:${v}`),
        ...['get', 'list', 'watch'].map((v) => `resourceclaims:${v}`),
        'nodes:get',
        ...['get', 'list', 'watch'].map((v) => `pods:${v}`),
        'pods/status:patch',
        'events:create',
        'events:patch',
        // status.devices of the claims it prepares; on 1.36+ only its own driver's, only on its own node
        'resourceclaims/status:update',
        'resourceclaims/driver:associated-node:update',
      ].sort(),
    );
    const driverRule = (role.rules as JsonObject[]).find((r) =>
      (r.resources as string[]).includes('resourceclaims/driver'),
    );
    expect(driverRule?.resourceNames).toEqual(['lockstep.dev']);
    const binding = find(objects, 'ClusterRoleBinding', 'lockstep-agent');
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: 'lockstep-agent', namespace: 'lockstep-system' },
    ]);
    // the per-node Leases: only in the agent's own namespace, and nothing but what the LeaseHolder does
    const leases = find(objects, 'Role', 'lockstep-agent-leases');
    expect(at(leases, 'metadata.namespace')).toBe('lockstep-system');
    expect(rules(leases).sort()).toEqual(['leases:create', 'leases:get', 'leases:update']);
    expect(at(find(objects, 'RoleBinding', 'lockstep-agent-leases'), 'subjects[0].name')).toBe('lockstep-agent');
  });

  it('has the coordinator roles users bind per namespace', () => {
    expect(rules(find(objects, 'ClusterRole', 'lockstep-coordinator'))).toEqual(
      expect.arrayContaining([
        'pods:delete',
        'pods:patch',
        'pods:watch',
        'pods/status:patch',
        'tokenreviews:create',
        'events:create',
      ]),
    );
    expect(rules(find(objects, 'ClusterRole', 'lockstep-tokenreview'))).toEqual(['tokenreviews:create']);
  });

  it('binds the own-node policy for ResourceSlices to the agent', () => {
    const policy = find(objects, 'ValidatingAdmissionPolicy', 'lockstep-agent-own-node-slices');
    const text = JSON.stringify(policy);
    expect(text).toContain("request.userInfo.extra['authentication.kubernetes.io/node-name'][0]");
    expect(text).toContain('object.spec.nodeName == variables.nodeName');
    expect(find(objects, 'ValidatingAdmissionPolicyBinding', 'lockstep-agent-own-node-slices').spec).toEqual({
      policyName: 'lockstep-agent-own-node-slices',
      validationActions: ['Deny'],
    });
  });

  it('includes the DeviceClasses', () => {
    const classes = objects.filter((o) => o.kind === 'DeviceClass').map((o) => at(o, 'metadata.name'));
    expect(classes.sort()).toEqual(['gpu.lockstep.dev', 'nic.lockstep.dev', 'tpu.lockstep.dev']);
  });
});

describe('where the agent runs', () => {
  const terms = (dir: string) =>
    at(
      find(kustomize(dir).objects, 'DaemonSet', 'lockstep-agent'),
      'spec.template.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms',
    ) as JsonObject[] | undefined;

  it('base: only nodes with NVIDIA GPUs or NICs (NFD, GPU Operator), TPUs or the opt-in label; never control planes', () => {
    const selected = terms('deploy/base')!.map((t) => t.matchExpressions as JsonObject[]);
    expect(selected.map((e) => `${e[0]!.key} ${e[0]!.operator}`)).toEqual([
      'feature.node.kubernetes.io/pci-10de.present In',
      'feature.node.kubernetes.io/pci-15b3.present In',
      'nvidia.com/gpu.present In',
      'cloud.google.com/gke-tpu-accelerator Exists',
      'lockstep.dev/agent In',
    ]);
    // terms are ORed: each must keep control-plane nodes out on its own
    for (const e of selected)
      expect(e).toContainEqual({ key: 'node-role.kubernetes.io/control-plane', operator: 'DoesNotExist' });
  });

  it('the everywhere overlay drops the affinity and keeps the rest of the base', () => {
    expect(terms('deploy/overlays/everywhere')).toBeUndefined();
    expect(kustomize('deploy/overlays/everywhere').objects.length).toBe(kustomize('deploy/base').objects.length);
  });
});

describe.each([
  ['gpu-only', 'gpu'],
  ['nic-only', 'nic'],
])('deploy/overlays/%s', (overlay, type) => {
  it(`restricts the agent to ${type} devices and keeps the rest of the base`, () => {
    const { objects } = kustomize(`deploy/overlays/${overlay}`);
    const agent = at(find(objects, 'DaemonSet', 'lockstep-agent'), 'spec.template.spec.containers[0]') as JsonObject;
    const env = agent.env as JsonObject[];
    expect(env).toContainEqual({ name: 'LOCKSTEP_DEVICE_TYPES', value: type });
    expect(env.map((e) => e.name)).toEqual(expect.arrayContaining(['NODE_NAME', 'POD_UID']));
    expect(objects.length).toBe(kustomize('deploy/base').objects.length);
  });
});

const examples = readdirSync(join(REPO_ROOT, 'deploy', 'examples'), { withFileTypes: true })
  .filter((e) => e.isDirectory() && e.name !== 'claims')
  .map((e) => e.name);

describe('deploy/examples', () => {
  it('has the four examples of the design', () => {
    expect(examples.sort()).toEqual(['jax-tpu', 'sglang-lws', 'vllm-lws', 'vllm-statefulset']);
  });

  it.each(examples)('%s renders and every pod template of its workload is wired to lockstep', (example) => {
    const { objects } = kustomize(`deploy/examples/${example}`);
    const workloads = objects.filter((o) => ['LeaderWorkerSet', 'StatefulSet', 'Job'].includes(String(o.kind)));
    expect(workloads).toHaveLength(1);
    const workload = workloads[0]!;
    const templates: JsonObject[] =
      workload.kind === 'LeaderWorkerSet'
        ? [
            at(workload, 'spec.leaderWorkerTemplate.leaderTemplate'),
            at(workload, 'spec.leaderWorkerTemplate.workerTemplate'),
          ].filter(isObject)
        : [at(workload, 'spec.template') as JsonObject];
    const name = at(workload, 'metadata.name');
    for (const template of templates) {
      expect((at(template, 'metadata.labels') as JsonObject)[LABEL_GROUP]).toBe(name);
      expect(at(template, 'spec.readinessGates')).toEqual([{ conditionType: CONDITION_GROUP_READY }]);
      const inits = at(template, 'spec.initContainers') as JsonObject[];
      const bootstrap = inits.find((c) => c.name === 'lockstep-bootstrap')!;
      expect(bootstrap.image).toBe(PKG_IMAGE);
      const main = at(template, 'spec.containers[0]') as JsonObject;
      expect((main.command as string[]).slice(0, 4)).toEqual([
        '/var/run/lockstep/bin/lockstep',
        'run',
        expect.stringMatching(/^--engine=(vllm|sglang|jax)$/),
        '--',
      ]);
      const token = (at(template, 'spec.volumes') as JsonObject[]).find((v) => v.name === 'lockstep-token');
      expect(at(token, 'projected.sources[0].serviceAccountToken')).toEqual({
        audience: 'lockstep',
        expirationSeconds: 3600,
        path: 'token',
      });
    }
    // the coordinator is a native sidecar on the leader (LWS leaderTemplate) or on rank 0 (one template for all)
    const sidecars = templates.flatMap((t) =>
      (at(t, 'spec.initContainers') as JsonObject[]).filter((c) => c.name === 'lockstep-coordinator'),
    );
    expect(sidecars).toHaveLength(1);
    expect(sidecars[0]!.restartPolicy).toBe('Always');
    if (workload.kind === 'LeaderWorkerSet') {
      expect(at(workload, 'spec.leaderWorkerTemplate.restartPolicy')).toBe('None');
      expect(sidecars[0]!.args).toEqual(['coordinator']);
    } else {
      expect(sidecars[0]!.args).toContain('--only-rank=0');
    }
    // the pods' service account gets the coordinator role in the example's namespace
    const sa = at(templates[0], 'spec.serviceAccountName');
    const binding = find(objects, 'RoleBinding');
    expect(at(binding, 'roleRef.name')).toBe('lockstep-coordinator');
    expect(at(binding, 'subjects[0].name')).toBe(sa);
    expect(at(find(objects, 'ClusterRoleBinding'), 'subjects[0].namespace')).toBe(at(workload, 'metadata.namespace'));
    // the claim templates the pods name are in the example
    const claimNames = templates.flatMap((t) =>
      (at(t, 'spec.resourceClaims') as JsonObject[]).map((c) => c.resourceClaimTemplateName),
    );
    const present = objects.filter((o) => o.kind === 'ResourceClaimTemplate').map((o) => at(o, 'metadata.name'));
    for (const claim of claimNames) expect(present).toContain(claim);
  });

  it('the StatefulSet example starts its pods in parallel behind a headless Service that publishes not-ready pods', () => {
    const { objects } = kustomize('deploy/examples/vllm-statefulset');
    const sts = find(objects, 'StatefulSet');
    expect(at(sts, 'spec.podManagementPolicy')).toBe('Parallel');
    const service = find(objects, 'Service', String(at(sts, 'spec.serviceName')));
    expect(at(service, 'spec.clusterIP')).toBe('None');
    expect(at(service, 'spec.publishNotReadyAddresses')).toBe(true);
  });
});
