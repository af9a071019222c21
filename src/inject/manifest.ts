import { applyGang } from './gang.js';
import { applyGpuClaims } from './gpu-claims.js';
import { cloneJson, isObject, type Json, type JsonObject, objectAt, stringAt } from './json.js';
import { InjectError, type InjectOptions, type InjectReport } from './options.js';
import { podTemplates } from './review.js';
import { injectWorkload, isWorkload, WORKLOAD_KINDS } from './workloads.js';

/**
 * Injects one parsed object: a workload, a List of objects (`kubectl get -o yaml` output), or anything else. Objects
 * that run no pods come back unchanged; one that runs pods but is no kind inject handles is refused (unless
 * `passThrough`), so a manifest is never half injected without saying so. The input is not modified.
 */
export function injectObject(input: Json, options: InjectOptions, report: InjectReport): Json {
  if (!isObject(input)) return input;
  if (isList(input)) {
    const items = input.items as Json[];
    const next = items.map((item) => injectObject(item, options, report));
    return next.every((item, i) => item === items[i]) ? input : { ...input, items: next };
  }
  if (!isWorkload(input)) {
    const where = runsPods(input);
    if (where === undefined) return input;
    const id = `${stringAt(input, 'kind') ?? '(no kind)'}/${stringAt(objectAt(input, 'metadata'), 'name') ?? '(no name)'}`;
    const why = `${id} runs pods (${where}) but is no kind lockstep injects (${WORKLOAD_KINDS.join(', ')}: apps/v1, batch/v1, leaderworkerset.x-k8s.io, jobset.x-k8s.io)`;
    if (!options.passThrough) {
      throw new InjectError(`${why}; run the group as one of those, or pass --pass-through to leave it unchanged`);
    }
    report.warnings.push(`${why}: left unchanged (--pass-through)`);
    return input;
  }
  const copy = cloneJson(input);
  const before = report.changes.length;
  injectWorkload(copy, options, report);
  const added = [
    ...applyGpuClaims(copy, podTemplates(copy), options.gpuClaims, report),
    ...applyGang(copy, options.gang, report),
  ];
  if (added.length > 0) report.objects = [...(report.objects ?? []), ...added];
  return report.changes.length === before ? input : copy;
}

/**
 * Where an object that is not a workload inject handles carries pods (a `containers` list of objects with an image,
 * at any depth of its spec: Pod, Deployment, DaemonSet, RayCluster, PyTorchJob, …), or undefined for objects that
 * run none (Service, ConfigMap, RBAC, …), which pass through as they are.
 */
function runsPods(object: JsonObject): string | undefined {
  const search = (value: Json | undefined, path: string, depth: number): string | undefined => {
    if (depth > 12 || value === undefined) return undefined;
    if (Array.isArray(value)) {
      for (const [i, item] of value.entries()) {
        const found = search(item, `${path}[${i}]`, depth + 1);
        if (found) return found;
      }
      return undefined;
    }
    if (!isObject(value)) return undefined;
    const containers = value.containers;
    if (Array.isArray(containers) && containers.some((c) => isObject(c) && typeof c.image === 'string')) {
      return `${path}.containers`;
    }
    for (const [key, child] of Object.entries(value)) {
      const found = search(child, `${path}.${key}`, depth + 1);
      if (found) return found;
    }
    return undefined;
  };
  return search(object.spec, 'spec', 0);
}

/** A List of objects (`kind: List`, `kind: PodList`, … with an `items` list), whose items inject reads one by one. */
export function isList(object: JsonObject): boolean {
  const kind = stringAt(object, 'kind');
  return kind?.endsWith('List') === true && Array.isArray(object.items);
}
