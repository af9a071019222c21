/**
 * A group on the test cluster for the chaos and trust tests: a namespace with the deploy/base coordinator RBAC bound
 * to the group's service account (so the coordinator runs with exactly the rights the product grants), member pods
 * labelled with their group, and projected-style tokens (audience lockstep, bound to each pod) in files.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type GroupStatus, parseGroupStatus } from '../../../src/contract/group-status.js';
import { ANNOTATION_GROUP_STATUS, LABEL_GROUP } from '../../../src/contract/names.js';
import type { ApiServer } from '../../cluster/apiserver/index.js';
import { REPO_ROOT } from '../../support/paths.js';

const SERVICE_ACCOUNT = 'llm';

/** RBAC as deploy/base/coordinator-rbac.yaml says to bind it, plus the service account. */
export function seedNamespace(api: ApiServer, namespace: string): void {
  api.store.apply(readFileSync(join(REPO_ROOT, 'deploy/base/coordinator-rbac.yaml'), 'utf8'));
  api.store.apply([
    { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: SERVICE_ACCOUNT, namespace } },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: 'lockstep-coordinator', namespace },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'lockstep-coordinator' },
      subjects: [{ kind: 'ServiceAccount', name: SERVICE_ACCOUNT, namespace }],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: `lockstep-tokenreview-${namespace}` },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'lockstep-tokenreview' },
      subjects: [{ kind: 'ServiceAccount', name: SERVICE_ACCOUNT, namespace }],
    },
  ]);
}

/** Creates (or recreates) a member pod of `group`. */
export function createPod(api: ApiServer, namespace: string, name: string, group: string): void {
  api.store.create(
    'pods',
    {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace, labels: { [LABEL_GROUP]: group } },
      spec: { serviceAccountName: SERVICE_ACCOUNT, containers: [{ name: 'engine', image: 'engine' }] },
    },
    { namespace },
  );
}

/** Writes the pod's token (audience lockstep, bound to the pod as it exists now) to a file; returns the path. */
export function writeToken(api: ApiServer, namespace: string, pod: string, dir: string): string {
  const path = join(dir, `${pod}-${Date.now()}-${Math.random().toString(36).slice(2)}.token`);
  writeFileSync(
    path,
    api.tokenFor({ serviceAccount: { namespace, name: SERVICE_ACCOUNT }, pod, audiences: ['lockstep'] }),
  );
  return path;
}

/** The coordinator's own kubeconfig: the group's service account, so RBAC applies to everything it does. */
export function coordinatorKubeconfig(api: ApiServer, namespace: string): string {
  return api.kubeconfigFor({ serviceAccount: { namespace, name: SERVICE_ACCOUNT } }, namespace);
}

/**
 * The flags that run a `lockstep coordinator` as pod `leader` of `namespace`, talking to the API server as the group's
 * service account (so with exactly the rights the product grants it).
 */
export function clusterCoordinatorArgs(api: ApiServer, namespace: string, leader: string): string[] {
  return ['--kubeconfig', coordinatorKubeconfig(api, namespace), '--pod-name', leader, '--namespace', namespace];
}

export function groupStatus(api: ApiServer, namespace: string, leader: string): GroupStatus | undefined {
  const pod = api.store.find('pods', leader, namespace) as { metadata: { annotations?: Record<string, string> } };
  return parseGroupStatus(pod?.metadata.annotations?.[ANNOTATION_GROUP_STATUS]);
}

/** Polls until fn returns something truthy; the error names what never came. No fixed sleeps. */
export async function until<T>(what: string, fn: () => T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Whether a process lives (a zombie does not count: it runs nothing). */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}
