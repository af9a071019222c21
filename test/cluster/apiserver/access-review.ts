/**
 * Who-am-I and may-I: SelfSubjectReview, SelfSubjectAccessReview and SubjectAccessReview answered from RBAC, and
 * the Impersonate-* headers (`kubectl --as`), allowed to users that RBAC lets impersonate.
 */
import type { IncomingMessage } from 'node:http';
import { forbidden } from './errors.js';
import { apiVersionOf, type KindSpec } from './kinds.js';
import { Rbac } from './rbac.js';
import { isRecord, type KubeObject, type UserInfo } from './types.js';

/** SelfSubjectReview (`kubectl auth whoami`), SelfSubjectAccessReview (`kubectl auth can-i`), SubjectAccessReview. */
export function accessReview(rbac: Rbac, spec: KindSpec, body: unknown, user: UserInfo): KubeObject {
  const b = isRecord(body) ? body : {};
  const reviewSpec = isRecord(b.spec) ? b.spec : {};
  const base = {
    kind: spec.kind,
    apiVersion: apiVersionOf(spec),
    metadata: { creationTimestamp: null as unknown as string },
  };
  if (spec.kind === 'SelfSubjectReview') return { ...base, status: { userInfo: user } };
  let subject = user;
  if (spec.kind === 'SubjectAccessReview') {
    subject = {
      username: String(reviewSpec.user ?? ''),
      uid: typeof reviewSpec.uid === 'string' ? reviewSpec.uid : undefined,
      groups: Array.isArray(reviewSpec.groups) ? reviewSpec.groups.map(String) : [],
      extra: isRecord(reviewSpec.extra) ? (reviewSpec.extra as Record<string, string[]>) : undefined,
    };
  }
  const ra = isRecord(reviewSpec.resourceAttributes) ? reviewSpec.resourceAttributes : undefined;
  const nra = isRecord(reviewSpec.nonResourceAttributes) ? reviewSpec.nonResourceAttributes : undefined;
  let allowed = false;
  if (ra) {
    allowed = rbac.allowed(subject, {
      verb: String(ra.verb ?? ''),
      apiGroup: String(ra.group ?? ''),
      resource: String(ra.resource ?? ''),
      subresource: ra.subresource ? String(ra.subresource) : undefined,
      name: ra.name ? String(ra.name) : undefined,
      namespace: ra.namespace ? String(ra.namespace) : undefined,
    });
  } else if (nra) {
    allowed = rbac.allowedPath(subject, { verb: String(nra.verb ?? ''), path: String(nra.path ?? '') });
  }
  return { ...base, spec: reviewSpec, status: { allowed, ...(allowed ? { reason: 'RBAC: allowed' } : {}) } };
}

/** Impersonate-User / Impersonate-Group / Impersonate-Extra-* headers, for users RBAC lets impersonate. */
export function impersonate(rbac: Rbac, req: IncomingMessage, user: UserInfo): UserInfo {
  const as = req.headers['impersonate-user'];
  if (typeof as !== 'string' || as === '') return user;
  const sa = /^system:serviceaccount:([^:]+):([^:]+)$/.exec(as);
  const check = (resource: string, name: string, namespace?: string) => {
    const attrs = {
      verb: 'impersonate',
      apiGroup: resource === 'userextras' ? 'authentication.k8s.io' : '',
      resource,
      name,
      namespace,
    };
    if (!rbac.allowed(user, attrs)) throw forbidden(Rbac.forbiddenMessage(user, attrs), attrs.apiGroup, resource, name);
  };
  if (sa) check('serviceaccounts', sa[2], sa[1]);
  else check('users', as);
  const rawGroups = req.headers['impersonate-group'];
  const groups =
    rawGroups === undefined ? [] : Array.isArray(rawGroups) ? rawGroups : rawGroups.split(',').map((g) => g.trim());
  for (const g of groups) check('groups', g);
  const extra: Record<string, string[]> = {};
  for (const [h, v] of Object.entries(req.headers)) {
    if (!h.startsWith('impersonate-extra-') || v === undefined) continue;
    const key = decodeURIComponent(h.slice('impersonate-extra-'.length));
    check('userextras', key);
    extra[key] = (Array.isArray(v) ? v : v.split(',')).map((x) => x.trim());
  }
  const implicit = sa ? ['system:serviceaccounts', `system:serviceaccounts:${sa[1]}`] : [];
  return {
    username: as,
    groups: [...new Set([...groups, ...implicit, 'system:authenticated'])],
    ...(Object.keys(extra).length ? { extra } : {}),
  };
}
