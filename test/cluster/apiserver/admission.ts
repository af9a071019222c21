/**
 * ValidatingAdmissionPolicy and ValidatingAdmissionPolicyBinding (admissionregistration.k8s.io/v1), evaluated with
 * CEL (@bufbuild/cel) over `object`, `oldObject`, `request` (with userInfo and its extra) and `variables`. Params
 * are not supported. Denials use the real message: `<resource> "<name>" is forbidden: ValidatingAdmissionPolicy
 * '<policy>' with binding '<binding>' denied request: <message>`.
 */
import { type CelInput, celEnv, isCelError, parse, plan } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { qualifiedResource, StatusError } from './errors.js';
import type { AdmissionRequest, Registry } from './registry.js';
import { fromLabelSelectorObject, matchesLabels } from './selectors.js';
import { isRecord } from './types.js';

const POLICIES = 'validatingadmissionpolicies.admissionregistration.k8s.io';
const BINDINGS = 'validatingadmissionpolicybindings.admissionregistration.k8s.io';

type Program = (bindings: Record<string, CelInput>) => unknown;

const env = celEnv({ funcs: strings });
const programs = new Map<string, Program | Error>();

function compile(expr: string): Program | Error {
  let p = programs.get(expr);
  if (!p) {
    try {
      const fn = plan(env, parse(expr));
      p = (b) => fn(b);
    } catch (err) {
      p = err instanceof Error ? err : new Error(String(err));
    }
    programs.set(expr, p);
  }
  return p;
}

/** JSON → CEL input: integers become CEL ints (bigint), as int64 fields are in Kubernetes CEL. */
function toCel(v: unknown): CelInput {
  if (typeof v === 'number') return Number.isInteger(v) ? BigInt(v) : v;
  if (Array.isArray(v)) return v.map(toCel);
  if (isRecord(v)) {
    const out: Record<string, CelInput> = {};
    for (const [k, x] of Object.entries(v)) if (x !== undefined) out[k] = toCel(x);
    return out as CelInput;
  }
  return (v ?? null) as CelInput;
}

function evaluate(expr: string, bindings: Record<string, CelInput>): { value?: unknown; error?: string } {
  const program = compile(expr);
  if (program instanceof Error) return { error: `compilation failed: ${program.message}` };
  try {
    const result = program(bindings);
    if (isCelError(result)) return { error: result.message };
    return { value: result };
  } catch (err) {
    return { error: String(err) };
  }
}

interface Rule {
  apiGroups?: string[];
  apiVersions?: string[];
  operations?: string[];
  resources?: string[];
  resourceNames?: string[];
  scope?: string;
}

function has(list: string[] | undefined, v: string): boolean {
  return !!list && (list.includes('*') || list.includes(v));
}

function ruleMatches(rule: Rule, req: AdmissionRequest): boolean {
  if (!has(rule.operations, req.operation)) return false;
  if (!has(rule.apiGroups, req.spec.group)) return false;
  if (!has(rule.apiVersions, req.spec.version)) return false;
  const res = rule.resources ?? [];
  const full = req.subresource ? `${req.spec.plural}/${req.subresource}` : req.spec.plural;
  const resOk = req.subresource
    ? res.includes(full) ||
      res.includes('*/*') ||
      res.includes(`*/${req.subresource}`) ||
      res.includes(`${req.spec.plural}/*`)
    : res.includes(full) || res.includes('*') || res.includes('*/*');
  if (!resOk) return false;
  if (rule.resourceNames && rule.resourceNames.length > 0 && !rule.resourceNames.includes(req.name)) return false;
  if (rule.scope === 'Namespaced' && !req.spec.namespaced) return false;
  if (rule.scope === 'Cluster' && req.spec.namespaced) return false;
  return true;
}

function selectorMatches(sel: unknown, labels: Record<string, string> | undefined): boolean {
  if (!isRecord(sel)) return true;
  return matchesLabels(fromLabelSelectorObject(sel as Parameters<typeof fromLabelSelectorObject>[0]), labels);
}

function matchResources(m: unknown, req: AdmissionRequest, registry: Registry, requireRules: boolean): boolean {
  const match = isRecord(m) ? m : {};
  const rules = Array.isArray(match.resourceRules) ? (match.resourceRules as Rule[]) : [];
  if (rules.length > 0 ? !rules.some((r) => ruleMatches(r, req)) : requireRules) return false;
  const excluded = Array.isArray(match.excludeResourceRules) ? (match.excludeResourceRules as Rule[]) : [];
  if (excluded.some((r) => ruleMatches(r, req))) return false;
  const obj = req.object ?? req.oldObject;
  if (match.objectSelector && !selectorMatches(match.objectSelector, obj?.metadata.labels)) return false;
  if (match.namespaceSelector) {
    if (req.spec.kind === 'Namespace') {
      if (!selectorMatches(match.namespaceSelector, obj?.metadata.labels)) return false;
    } else if (req.spec.namespaced && req.namespace) {
      const ns = registry.store.get('namespaces', undefined, req.namespace);
      if (!selectorMatches(match.namespaceSelector, ns?.metadata.labels)) return false;
    }
  }
  return true;
}

function requestBinding(req: AdmissionRequest): Record<string, unknown> {
  const gvk = { group: req.spec.group, version: req.spec.version, kind: req.spec.kind };
  const gvr = { group: req.spec.group, version: req.spec.version, resource: req.spec.plural };
  return {
    kind: gvk,
    resource: gvr,
    requestKind: gvk,
    requestResource: gvr,
    subResource: req.subresource ?? '',
    name: req.name,
    namespace: req.namespace ?? '',
    operation: req.operation,
    userInfo: {
      username: req.user.username,
      uid: req.user.uid ?? '',
      groups: req.user.groups,
      extra: req.user.extra ?? {},
    },
    dryRun: req.dryRun,
  };
}

function deny(req: AdmissionRequest, policy: string, binding: string, message: string, reason: string): StatusError {
  const text = `ValidatingAdmissionPolicy '${policy}' with binding '${binding}' denied request: ${message}`;
  const resource = qualifiedResource(req.spec.group, req.spec.plural);
  const details = { name: req.name, group: req.spec.group || undefined, kind: req.spec.plural };
  switch (reason) {
    case 'Invalid':
      return new StatusError(422, 'Invalid', `${resource} "${req.name}" is invalid: : ${text}`, {
        ...details,
        causes: [{ reason: 'FieldValueInvalid', message: `Invalid value: "object": ${text}`, field: '' }],
      });
    case 'Unauthorized':
      return new StatusError(401, 'Unauthorized', text, details);
    case 'RequestEntityTooLarge':
      return new StatusError(413, 'RequestEntityTooLarge', text, details);
    default:
      return new StatusError(403, 'Forbidden', `${resource} "${req.name}" is forbidden: ${text}`, details);
  }
}

/** Evaluates every bound policy that matches the request; throws on a Deny, returns Warn messages. */
function admitWithPolicies(registry: Registry, req: AdmissionRequest): string[] {
  // Policies never apply to their own kinds (the real server exempts admissionregistration resources).
  if (req.spec.group === 'admissionregistration.k8s.io') return [];
  const bindings = registry.store.list(BINDINGS);
  if (bindings.length === 0) return [];
  const warnings: string[] = [];
  let cel: Record<string, CelInput> | undefined;
  for (const binding of bindings) {
    const bspec = isRecord(binding.spec) ? binding.spec : {};
    const policyName = typeof bspec.policyName === 'string' ? bspec.policyName : '';
    const policy = registry.store.get(POLICIES, undefined, policyName);
    if (!policy) continue;
    const pspec = isRecord(policy.spec) ? policy.spec : {};
    if (!matchResources(pspec.matchConstraints, req, registry, true)) continue;
    if (bspec.matchResources && !matchResources(bspec.matchResources, req, registry, false)) continue;
    cel ??= {
      object: toCel(req.operation === 'DELETE' ? null : (req.object ?? null)),
      oldObject: toCel(req.oldObject ?? null),
      request: toCel(requestBinding(req)),
      params: null,
      namespaceObject: toCel(
        req.namespace ? (registry.store.get('namespaces', undefined, req.namespace) ?? null) : null,
      ),
    };
    const failClosed = pspec.failurePolicy !== 'Ignore';
    const actions = Array.isArray(bspec.validationActions) ? bspec.validationActions.map(String) : ['Deny'];
    const variables: Record<string, CelInput> = {};
    const bindingsWithVars = { ...cel, variables };
    const fail = (message: string, reason: string): void => {
      if (actions.includes('Deny')) throw deny(req, policyName, binding.metadata.name ?? '', message, reason);
      if (actions.includes('Warn'))
        warnings.push(
          `Validation failed for ValidatingAdmissionPolicy '${policyName}' with binding '${binding.metadata.name}': ${message}`,
        );
    };
    let errored = false;
    for (const v of Array.isArray(pspec.variables) ? pspec.variables.filter(isRecord) : []) {
      const r = evaluate(String(v.expression ?? ''), bindingsWithVars);
      if (r.error === undefined) variables[String(v.name)] = r.value as CelInput;
    }
    let matched = true;
    for (const c of Array.isArray(pspec.matchConditions) ? pspec.matchConditions.filter(isRecord) : []) {
      const r = evaluate(String(c.expression ?? ''), bindingsWithVars);
      if (r.error !== undefined) {
        if (failClosed) fail(`expression '${String(c.expression)}' resulted in error: ${r.error}`, 'Forbidden');
        errored = true;
        matched = false;
        break;
      }
      if (r.value !== true) {
        matched = false;
        break;
      }
    }
    if (!matched || errored) continue;
    for (const v of Array.isArray(pspec.validations) ? pspec.validations.filter(isRecord) : []) {
      const expr = String(v.expression ?? '');
      const r = evaluate(expr, bindingsWithVars);
      const reason = typeof v.reason === 'string' ? v.reason : 'Forbidden';
      if (r.error !== undefined) {
        if (failClosed) fail(`expression '${expr}' resulted in error: ${r.error}`, reason);
        continue;
      }
      if (r.value === true) continue;
      let message = typeof v.message === 'string' && v.message ? v.message : `failed expression: ${expr}`;
      if (typeof v.messageExpression === 'string') {
        const m = evaluate(v.messageExpression, bindingsWithVars);
        if (m.error === undefined && typeof m.value === 'string' && m.value.trim() !== '') message = m.value;
      }
      fail(message, reason);
    }
  }
  return warnings;
}

export function installPolicyAdmission(registry: Registry): void {
  registry.admission.push((req) => admitWithPolicies(registry, req));
}
