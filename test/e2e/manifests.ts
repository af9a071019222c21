/**
 * The demo's workload, built from the project's own StatefulSet example (deploy/examples/vllm-statefulset): the same
 * StatefulSet and headless Service, with one change a laptop-sized test needs — vLLM (an image that cannot run here)
 * is replaced by a real torch.distributed job, a tiny gloo all-reduce loop in Debian's python3, and each member asks
 * for one GPU with an RDMA NIC on the same PCIe switch (deploy/examples/claims/gpu-nic-same-switch.yaml) instead of
 * a whole node, so a member whose GPU fails can be placed again on a healthy GPU of the two nodes.
 * The lockstep parts are then added by the real `lockstep inject`, as a user would.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { bundlePath } from '../support/build.js';

export const REPO_ROOT = join(import.meta.dirname, '..', '..');
export const NAMESPACE = 'inference';
export const GROUP = 'llama-405b';
export const ENGINE_CONTAINER = 'engine';

/** One all-reduce per second; each line says the epoch, rank, world size and the sum (1 + 2 + … + world size). */
export const ALLREDUCE_PY = `import datetime, os, sys, time
import torch
import torch.distributed as dist

rank = int(os.environ["RANK"])
world = int(os.environ["WORLD_SIZE"])
epoch = os.environ.get("LOCKSTEP_EPOCH", "?")
gpus = os.environ.get("NVIDIA_VISIBLE_DEVICES", "")
print(f"init epoch={epoch} rank={rank}/{world} master={os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']} gpus={gpus}", flush=True)
dist.init_process_group("gloo", init_method="env://", rank=rank, world_size=world,
                        timeout=datetime.timedelta(seconds=60))
step = 0
while True:
    t = torch.tensor([float(rank + 1)])
    dist.all_reduce(t)
    print(f"allreduce epoch={epoch} rank={rank}/{world} step={step} sum={int(t.item())}", flush=True)
    step += 1
    time.sleep(1)
`;

type Doc = Record<string, unknown> & { kind?: string; metadata?: Record<string, unknown> };
interface ContainerDoc {
  name: string;
  image?: string;
  command?: string[];
  env?: { name: string }[];
  resources?: { claims?: { name: string }[] };
  volumeMounts?: { name: string; mountPath: string }[];
}

function docs(text: string): Doc[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Doc | null)
    .filter((d): d is Doc => d !== null);
}

/** The example's plain StatefulSet with the torch job standing in for vLLM (before `lockstep inject`). */
function plainWorkload(): Doc[] {
  const plain = docs(readFileSync(join(REPO_ROOT, 'deploy/examples/vllm-statefulset/llama-405b.plain.yaml'), 'utf8'));
  return plain.map((doc) => {
    if (doc.kind !== 'StatefulSet') return doc;
    const set = structuredClone(doc) as Doc & {
      spec: { template: { spec: Record<string, unknown> & { containers: ContainerDoc[] } } };
    };
    const pod = set.spec.template.spec;
    const main = pod.containers[0]!;
    pod.containers[0] = {
      ...main,
      name: ENGINE_CONTAINER,
      image: 'python:3.12-slim',
      command: ['python3', '/opt/demo/allreduce.py'],
      env: (main.env ?? []).filter((e) => e.name !== 'HF_TOKEN'),
      volumeMounts: [...(main.volumeMounts ?? []), { name: 'demo', mountPath: '/opt/demo' }],
    };
    pod.resourceClaims = [{ name: 'devices', resourceClaimTemplateName: 'gpu-nic-same-switch' }];
    pod.volumes = [...((pod.volumes as unknown[]) ?? []), { name: 'demo', configMap: { name: 'allreduce' } }];
    pod.terminationGracePeriodSeconds = 5;
    return set;
  });
}

/** `lockstep inject --engine=torch` over the plain workload: the real CLI, from dist/. */
function injectedWorkload(plain: Doc[]): string {
  const input = plain.map((d) => stringify(d)).join('---\n');
  const result = spawnSync(process.execPath, [bundlePath('lockstep'), 'inject', '-f', '-', '--engine=torch'], {
    input,
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(`lockstep inject failed (${result.status}): ${result.stderr}`);
  return result.stdout;
}

/** Everything the demo applies in the namespace: RBAC of the example, the claim template, the script, the workload. */
export function workloadManifest(): string {
  const rendered = docs(
    execFileSync('kubectl', ['kustomize', join(REPO_ROOT, 'deploy/examples/vllm-statefulset')], { encoding: 'utf8' }),
  ).filter((d) => ['ServiceAccount', 'RoleBinding', 'ClusterRoleBinding'].includes(d.kind ?? ''));
  const claims = docs(readFileSync(join(REPO_ROOT, 'deploy/examples/claims/gpu-nic-same-switch.yaml'), 'utf8'));
  const script: Doc = {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'allreduce' },
    data: { 'allreduce.py': ALLREDUCE_PY },
  };
  const workload = docs(injectedWorkload(plainWorkload()));
  const namespaced = [...claims, script, ...workload].map((d) => ({
    ...d,
    metadata: { ...d.metadata, namespace: NAMESPACE },
  }));
  return [...rendered, ...namespaced].map((d) => stringify(d)).join('---\n');
}

/** deploy/base rendered by kubectl's kustomize. */
export function baseManifest(): string {
  return execFileSync('kubectl', ['kustomize', join(REPO_ROOT, 'deploy/base')], { encoding: 'utf8' });
}
