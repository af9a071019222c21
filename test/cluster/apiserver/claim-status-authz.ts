/**
 * Granular authorization of ResourceClaim status writes (KEP-4817, gate DRAResourceClaimGranularStatusAuthorization:
 * beta and on in 1.36, on in 1.37), as the real REST strategy checks it after `resourceclaims/status` itself was
 * authorized:
 *
 * - changing `status.allocation` or `status.reservedFor` needs the request's verb (update or patch) on the synthetic
 *   `resourceclaims/binding` subresource, cluster-wide;
 * - changing the `status.devices` entries of a driver needs `associated-node:<verb>` on the synthetic
 *   `resourceclaims/driver` subresource named after that driver, in the claim's namespace, when the caller is a service
 *   account whose token is bound to the one node the claim is allocated on; otherwise (or when that is denied)
 *   `arbitrary-node:<verb>`.
 *
 * A refusal is 422 Invalid with a Forbidden cause, as the real strategy's ValidateUpdate answers.
 *
 * Threats: a node's agent rewriting the device status of a claim on another node (its token names its own node, so
 * only `arbitrary-node:` could allow it); an agent touching another driver's entries (checked per modified driver);
 * a grant on `resourceclaims/status` alone (not enough where the gate is on).
 */
import { type FieldError, invalid } from './errors.js';
import type { Rbac } from './rbac.js';
import type { AdmissionRequest, Registry } from './registry.js';
import { isRecord, type KubeObject, type UserInfo } from './types.js';

const NODE_NAME_KEY = 'authentication.kubernetes.io/node-name';
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function statusOf(obj: KubeObject | undefined): Record<string, unknown> {
  return isRecord(obj?.status) ? obj.status : {};
}

function deviceEntries(status: Record<string, unknown>): Record<string, unknown>[] {
  return Array.isArray(status.devices) ? status.devices.filter(isRecord) : [];
}

/** The drivers whose `status.devices` entries were added, removed or changed (getModifiedDrivers). */
export function modifiedDrivers(next: Record<string, unknown>, old: Record<string, unknown>): Set<string> {
  const keyed = (status: Record<string, unknown>) =>
    new Map(
      deviceEntries(status).map((entry) => [
        JSON.stringify([entry.driver, entry.pool, entry.device, entry.shareID ?? null]),
        entry,
      ]),
    );
  const before = keyed(old);
  const after = keyed(next);
  const drivers = new Set<string>();
  for (const [key, entry] of after) {
    const previous = before.get(key);
    if (!previous || JSON.stringify(previous) !== JSON.stringify(entry)) drivers.add(String(entry.driver));
  }
  for (const [key, entry] of before) if (!after.has(key)) drivers.add(String(entry.driver));
  return drivers;
}

/**
 * The node a claim's allocation names, when it names exactly one: one term, one `metadata.name In [node]` field
 * requirement (nodeNameFromAllocation); '' otherwise.
 */
export function allocatedNodeName(status: Record<string, unknown>): string {
  const allocation = isRecord(status.allocation) ? status.allocation : undefined;
  const selector = isRecord(allocation?.nodeSelector) ? allocation.nodeSelector : undefined;
  const terms = Array.isArray(selector?.nodeSelectorTerms) ? selector.nodeSelectorTerms : [];
  if (terms.length !== 1 || !isRecord(terms[0])) return '';
  const term = terms[0];
  const fields = Array.isArray(term.matchFields) ? term.matchFields : [];
  const expressions = Array.isArray(term.matchExpressions) ? term.matchExpressions : [];
  if (fields.length !== 1 || expressions.length > 0 || !isRecord(fields[0])) return '';
  const requirement = fields[0];
  const values = Array.isArray(requirement.values) ? requirement.values : [];
  if (requirement.key !== 'metadata.name' || requirement.operator !== 'In' || values.length !== 1) return '';
  return typeof values[0] === 'string' ? values[0] : '';
}

/** A service account whose (pod-bound) token names exactly this one node. */
function associatedWithNode(user: UserInfo, node: string): boolean {
  if (!node || !user.username.startsWith('system:serviceaccount:')) return false;
  const names = user.extra?.[NODE_NAME_KEY] ?? [];
  return names.length === 1 && names[0] === node && node.length <= 253 && DNS_SUBDOMAIN.test(node);
}

/** Installs the check as an admission step of ResourceClaim status writes. */
export function installClaimStatusAuthorization(registry: Registry, rbac: Rbac): void {
  registry.admission.push((req: AdmissionRequest) => {
    if (req.operation !== 'UPDATE' || req.spec.kind !== 'ResourceClaim' || req.spec.group !== 'resource.k8s.io')
      return undefined;
    if (req.subresource !== 'status') return undefined;
    const next = statusOf(req.object);
    const old = statusOf(req.oldObject);
    const verb = req.verb ?? 'update';
    const attributes = { apiGroup: 'resource.k8s.io', resource: 'resourceclaims' };
    const errors: FieldError[] = [];
    const bindingChanged =
      JSON.stringify(next.allocation ?? null) !== JSON.stringify(old.allocation ?? null) ||
      JSON.stringify(next.reservedFor ?? []) !== JSON.stringify(old.reservedFor ?? []);
    if (bindingChanged && !rbac.allowed(req.user, { ...attributes, verb, subresource: 'binding' })) {
      errors.push({
        type: 'FieldValueForbidden',
        field: 'status',
        detail: `changing status.allocation or status.reservedFor requires extra permission: ${verb} on resourceclaims/binding`,
      });
    }
    const node = allocatedNodeName(next) || allocatedNodeName(old);
    const associated = associatedWithNode(req.user, node);
    const denied = [...modifiedDrivers(next, old)].sort().filter((driver) => {
      const check = (prefix: string) =>
        rbac.allowed(req.user, {
          ...attributes,
          verb: `${prefix}:${verb}`,
          subresource: 'driver',
          name: driver,
          namespace: req.namespace,
        });
      return !((associated && check('associated-node')) || check('arbitrary-node'));
    });
    if (denied.length > 0) {
      const prefix = associated ? 'associated-node' : 'arbitrary-node';
      errors.push({
        type: 'FieldValueForbidden',
        field: 'status.devices',
        detail: `changing status.devices requires extra permission: ${prefix}:${verb} on resourceclaims/driver for ${denied.join(', ')}`,
      });
    }
    if (errors.length > 0) throw invalid(req.spec.group, req.spec.kind, req.name, errors);
    return undefined;
  });
}
