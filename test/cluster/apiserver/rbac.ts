/**
 * RBAC as rbac.authorization.k8s.io/v1 defines it, evaluated over the Roles, ClusterRoles and bindings stored in the
 * server: a request is allowed when some rule reachable from a binding whose subject is the user covers it.
 * `system:masters` is allowed everything, as the real server's superuser group.
 */
import type { Registry } from './registry.js';
import { fromLabelSelectorObject, matchesLabels } from './selectors.js';
import { isRecord, type KubeObject, type UserInfo } from './types.js';

export interface ResourceAttributes {
  verb: string;
  apiGroup: string;
  resource: string;
  subresource?: string;
  name?: string;
  namespace?: string;
}

export interface NonResourceAttributes {
  verb: string;
  path: string;
}

interface PolicyRule {
  verbs?: string[];
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}

interface Subject {
  kind: string;
  name: string;
  namespace?: string;
}

/** Paths every authenticated user may read (the bootstrap system:discovery / system:public-info-viewer roles). */
const PUBLIC_PATHS = [
  '/api',
  '/api/*',
  '/apis',
  '/apis/*',
  '/version',
  '/version/',
  '/openapi/*',
  '/healthz',
  '/livez',
  '/readyz',
];

const SELF_REVIEWS = ['selfsubjectaccessreviews', 'selfsubjectrulesreviews', 'selfsubjectreviews'];

function rulesOf(obj: KubeObject | undefined): PolicyRule[] {
  return obj && Array.isArray(obj.rules) ? (obj.rules.filter(isRecord) as PolicyRule[]) : [];
}

function has(list: string[] | undefined, value: string): boolean {
  return !!list && (list.includes('*') || list.includes(value));
}

function ruleAllows(rule: PolicyRule, a: ResourceAttributes): boolean {
  if (!has(rule.verbs, a.verb)) return false;
  if (!has(rule.apiGroups, a.apiGroup)) return false;
  const res = rule.resources ?? [];
  const combined = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const resourceOk = a.subresource
    ? res.includes('*') || res.includes(combined) || res.includes(`*/${a.subresource}`)
    : res.includes('*') || res.includes(a.resource);
  if (!resourceOk) return false;
  if (rule.resourceNames && rule.resourceNames.length > 0) return !!a.name && rule.resourceNames.includes(a.name);
  return true;
}

function nonResourceAllows(rule: PolicyRule, a: NonResourceAttributes): boolean {
  if (!has(rule.verbs, a.verb)) return false;
  return (rule.nonResourceURLs ?? []).some(
    (u) => u === '*' || u === a.path || (u.endsWith('*') && a.path.startsWith(u.slice(0, -1))),
  );
}

function subjectMatches(s: Subject, user: UserInfo, bindingNamespace: string | undefined): boolean {
  switch (s.kind) {
    case 'User':
      return s.name === user.username;
    case 'Group':
      return user.groups.includes(s.name);
    case 'ServiceAccount': {
      const ns = s.namespace || bindingNamespace;
      return user.username === `system:serviceaccount:${ns}:${s.name}`;
    }
    default:
      return false;
  }
}

export class Rbac {
  constructor(private readonly registry: Registry) {}

  private clusterRoleRules(name: string): PolicyRule[] {
    const role = this.registry.store.get('clusterroles.rbac.authorization.k8s.io', undefined, name);
    if (!role) return [];
    const agg = role.aggregationRule;
    if (isRecord(agg) && Array.isArray(agg.clusterRoleSelectors)) {
      // Aggregated ClusterRoles: the controller fills rules from the matching roles; done here on read.
      const selectors = agg.clusterRoleSelectors.filter(isRecord).map((s) => fromLabelSelectorObject(s));
      const rules: PolicyRule[] = [];
      for (const other of this.registry.store.list('clusterroles.rbac.authorization.k8s.io')) {
        if (other.metadata.name === name) continue;
        if (selectors.some((sel) => matchesLabels(sel, other.metadata.labels))) rules.push(...rulesOf(other));
      }
      return rules;
    }
    return rulesOf(role);
  }

  private rulesFor(user: UserInfo, namespace: string | undefined): PolicyRule[] {
    const rules: PolicyRule[] = [];
    for (const b of this.registry.store.list('clusterrolebindings.rbac.authorization.k8s.io')) {
      if (!this.bound(b, user)) continue;
      const ref = isRecord(b.roleRef) ? b.roleRef : {};
      if (ref.kind === 'ClusterRole' && typeof ref.name === 'string') rules.push(...this.clusterRoleRules(ref.name));
    }
    if (namespace) {
      for (const b of this.registry.store.list('rolebindings.rbac.authorization.k8s.io', namespace)) {
        if (!this.bound(b, user)) continue;
        const ref = isRecord(b.roleRef) ? b.roleRef : {};
        if (typeof ref.name !== 'string') continue;
        if (ref.kind === 'ClusterRole') rules.push(...this.clusterRoleRules(ref.name));
        else if (ref.kind === 'Role')
          rules.push(...rulesOf(this.registry.store.get('roles.rbac.authorization.k8s.io', namespace, ref.name)));
      }
    }
    return rules;
  }

  private bound(binding: KubeObject, user: UserInfo): boolean {
    const subjects = Array.isArray(binding.subjects) ? (binding.subjects.filter(isRecord) as unknown as Subject[]) : [];
    return subjects.some((s) => subjectMatches(s, user, binding.metadata.namespace));
  }

  allowed(user: UserInfo, a: ResourceAttributes): boolean {
    if (user.groups.includes('system:masters')) return true;
    // The bootstrap role system:basic-user lets every authenticated user ask what it may do and who it is.
    if (a.verb === 'create' && SELF_REVIEWS.includes(a.resource) && user.groups.includes('system:authenticated'))
      return true;
    return this.rulesFor(user, a.namespace).some((r) => ruleAllows(r, a));
  }

  allowedPath(user: UserInfo, a: NonResourceAttributes): boolean {
    if (user.groups.includes('system:masters')) return true;
    if (
      a.verb === 'get' &&
      PUBLIC_PATHS.some((p) => p === a.path || (p.endsWith('*') && a.path.startsWith(p.slice(0, -1))))
    )
      return true;
    return this.rulesFor(user, undefined).some((r) => nonResourceAllows(r, a));
  }

  /** The message the real authorizer answers with (k8s.io/apiserver endpoints/handlers/responsewriters). */
  static forbiddenMessage(user: UserInfo, a: ResourceAttributes): string {
    const resource = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
    const where = a.namespace ? `in the namespace "${a.namespace}"` : 'at the cluster scope';
    const reason = `User "${user.username}" cannot ${a.verb} resource "${resource}" in API group "${a.apiGroup}" ${where}`;
    const qualified = a.apiGroup ? `${a.resource}.${a.apiGroup}` : a.resource;
    return a.name ? `${qualified} "${a.name}" is forbidden: ${reason}` : `${qualified} is forbidden: ${reason}`;
  }
}

/**
 * The bootstrap roles clients expect to find (k8s.io/kubernetes plugin/pkg/auth/authorizer/rbac/bootstrappolicy):
 * cluster-admin bound to system:masters, and the user-facing view/edit/admin roles, simplified to the kinds served.
 */
export function bootstrapRoles(resourcesByGroup: Map<string, string[]>): unknown[] {
  const read = ['get', 'list', 'watch'];
  const write = ['create', 'delete', 'deletecollection', 'patch', 'update'];
  const rules = (verbs: string[], skip: (group: string, resource: string) => boolean) =>
    [...resourcesByGroup.entries()]
      .map(([group, resources]) => ({ apiGroups: [group], resources: resources.filter((r) => !skip(group, r)), verbs }))
      .filter((r) => r.resources.length > 0);
  const isRbac = (g: string) => g === 'rbac.authorization.k8s.io';
  const meta = (name: string) => ({ name, labels: { 'kubernetes.io/bootstrapping': 'rbac-defaults' } });
  const role = (name: string, r: unknown[]) => ({
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'ClusterRole',
    metadata: meta(name),
    rules: r,
  });
  return [
    role('cluster-admin', [
      { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
      { nonResourceURLs: ['*'], verbs: ['*'] },
    ]),
    role(
      'view',
      rules(read, (g, r) => r === 'secrets' || isRbac(g)),
    ),
    role('edit', [...rules([...read, ...write], (g) => isRbac(g))]),
    role(
      'admin',
      rules([...read, ...write], () => false),
    ),
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: meta('cluster-admin'),
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'system:masters' }],
    },
  ];
}
