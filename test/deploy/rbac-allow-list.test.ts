/**
 * Least privilege in deploy/: every RBAC rule lockstep ships is on the allow-list in deploy/README.md ("RBAC: what each
 * grant is for"), which says why each is needed. A verb or resource beyond it, a wildcard, or a binding to anything but
 * a named service account fails here; so does a row of the list that nothing grants any more (the document would lie).
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../support/paths.js';

interface Rule {
  apiGroups?: string[];
  resources?: string[];
  verbs?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}
interface RbacObject {
  kind: string;
  metadata: { name: string };
  rules?: Rule[];
  roleRef?: { kind: string; name: string };
  subjects?: Array<{ kind: string; name: string }>;
}

/** `role|group|resource|verb` for every grant the README's table allows. */
function allowList(): Set<string> {
  const text = readFileSync(join(REPO_ROOT, 'deploy/README.md'), 'utf8');
  const section = text.slice(text.indexOf('## RBAC: what each grant is for'));
  const start = section.indexOf('| role');
  const table = section.slice(start, section.indexOf('\n\n', start));
  const allowed = new Set<string>();
  for (const line of table.split('\n').slice(2)) {
    const cells = line.split('|').map((c) => c.trim());
    const [, role, groups, resource, verbs] = cells;
    if (!role || !groups || !resource || !verbs) continue;
    const unquote = (s: string) => s.replace(/`/g, '').replace(/^""$/, '');
    for (const group of groups.split(',').map((g) => unquote(g.trim())))
      for (const verb of verbs.split(',').map((v) => v.trim()))
        allowed.add(`${unquote(role)}|${group}|${unquote(resource)}|${verb}`);
  }
  return allowed;
}

function docs(text: string): RbacObject[] {
  return parseAllDocuments(text)
    .map((d) => d.toJSON() as RbacObject | null)
    .filter((d): d is RbacObject => d !== null && typeof d === 'object');
}

/** Every RBAC object lockstep ships: the rendered base and overlays, install.yaml, the examples' group RBAC. */
function shipped(): Array<{ from: string; object: RbacObject }> {
  const out: Array<{ from: string; object: RbacObject }> = [];
  const add = (from: string, text: string) => {
    for (const object of docs(text)) {
      if (['Role', 'ClusterRole', 'RoleBinding', 'ClusterRoleBinding'].includes(object.kind))
        out.push({ from, object });
    }
  };
  for (const dir of ['deploy/base', 'deploy/overlays/gpu-only', 'deploy/overlays/nic-only']) {
    add(dir, execFileSync('kubectl', ['kustomize', join(REPO_ROOT, dir)], { encoding: 'utf8' }));
  }
  add('install.yaml', readFileSync(join(REPO_ROOT, 'install.yaml'), 'utf8'));
  for (const example of readdirSync(join(REPO_ROOT, 'deploy/examples'))) {
    const file = join(REPO_ROOT, 'deploy/examples', example, 'group-rbac.yaml');
    try {
      add(`deploy/examples/${example}/group-rbac.yaml`, readFileSync(file, 'utf8'));
    } catch {
      // an example without group RBAC (claims/)
    }
  }
  return out;
}

/** The grants of one role as `role|group|resource|verb`, or why a rule cannot be listed (wildcards, names, URLs). */
function grants(role: RbacObject): { grants: string[]; problems: string[] } {
  const out: string[] = [];
  const problems: string[] = [];
  for (const rule of role.rules ?? []) {
    const all = [...(rule.apiGroups ?? []), ...(rule.resources ?? []), ...(rule.verbs ?? [])];
    if (all.some((x) => x.includes('*'))) problems.push(`${role.metadata.name}: wildcard in ${JSON.stringify(rule)}`);
    if (rule.nonResourceURLs) problems.push(`${role.metadata.name}: nonResourceURLs ${rule.nonResourceURLs.join(',')}`);
    for (const group of rule.apiGroups ?? [])
      for (const resource of rule.resources ?? [])
        for (const verb of rule.verbs ?? []) out.push(`${role.metadata.name}|${group}|${resource}|${verb}`);
  }
  return { grants: out, problems };
}

describe('RBAC under deploy/', () => {
  const allowed = allowList();
  const objects = shipped();

  it('reads a non-empty allow-list and finds the roles it describes', () => {
    expect(allowed.size).toBeGreaterThan(20);
    const roles = new Set(
      objects.filter((o) => /Role$/.test(o.object.kind) && o.object.rules).map((o) => o.object.metadata.name),
    );
    expect([...roles].sort()).toEqual([
      'lockstep-agent',
      'lockstep-agent-leases',
      'lockstep-coordinator',
      'lockstep-tokenreview',
    ]);
  });

  it('grants nothing beyond the allow-list, and no wildcard, resource name list or URL', () => {
    const beyond: string[] = [];
    const problems: string[] = [];
    for (const { from, object } of objects) {
      if (!object.rules) continue;
      const g = grants(object);
      problems.push(...g.problems.map((p) => `${from}: ${p}`));
      beyond.push(...g.grants.filter((x) => !allowed.has(x)).map((x) => `${from}: ${x}`));
    }
    expect({ beyond, problems }).toEqual({ beyond: [], problems: [] });
  });

  it('uses every row of the allow-list (the document says only what is granted)', () => {
    const used = new Set(objects.flatMap(({ object }) => (object.rules ? grants(object).grants : [])));
    expect([...allowed].filter((a) => !used.has(a))).toEqual([]);
  });

  it('binds only lockstep roles, and only to named service accounts', () => {
    const bad: string[] = [];
    for (const { from, object } of objects) {
      if (!object.roleRef) continue;
      if (!object.roleRef.name.startsWith('lockstep-'))
        bad.push(`${from}: ${object.metadata.name} binds ${object.roleRef.name}`);
      for (const s of object.subjects ?? []) {
        if (s.kind !== 'ServiceAccount' || !s.name || s.name.includes('*')) {
          bad.push(`${from}: ${object.metadata.name} binds ${s.kind} ${s.name}`);
        }
      }
    }
    expect(bad).toEqual([]);
  });

  it('catches a grant beyond the list (the check is not vacuous)', () => {
    const widened: RbacObject = {
      kind: 'ClusterRole',
      metadata: { name: 'lockstep-agent' },
      rules: [
        { apiGroups: [''], resources: ['pods'], verbs: ['get', 'delete'] },
        { apiGroups: [''], resources: ['secrets'], verbs: ['get'] },
        { apiGroups: ['rbac.authorization.k8s.io'], resources: ['clusterroles'], verbs: ['escalate'] },
        { apiGroups: ['*'], resources: ['*'], verbs: ['*'] },
      ],
    };
    const g = grants(widened);
    expect(g.grants.filter((x) => !allowed.has(x))).toEqual([
      'lockstep-agent||pods|delete',
      'lockstep-agent||secrets|get',
      'lockstep-agent|rbac.authorization.k8s.io|clusterroles|escalate',
      'lockstep-agent|*|*|*',
    ]);
    expect(g.problems).toHaveLength(1);
  });
});
