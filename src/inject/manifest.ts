import { isObject, type Json, type JsonObject, stringAt } from './json.js';
import type { InjectOptions, InjectReport } from './options.js';
import { injectWorkload, isWorkload } from './workloads.js';

/**
 * Injects one parsed object: a workload, a List of objects (`kubectl get -o yaml` output), or anything else, which
 * comes back unchanged. The input is not modified.
 */
export function injectObject(input: Json, options: InjectOptions, report: InjectReport): Json {
  if (!isObject(input)) return input;
  if (isList(input)) {
    const items = input.items as Json[];
    const next = items.map((item) => injectObject(item, options, report));
    return next.every((item, i) => item === items[i]) ? input : { ...input, items: next };
  }
  if (!isWorkload(input)) return input;
  const copy = structuredClone(input);
  const before = report.changes.length;
  injectWorkload(copy, options, report);
  return report.changes.length === before ? input : copy;
}

function isList(object: JsonObject): boolean {
  const kind = stringAt(object, 'kind');
  return kind?.endsWith('List') === true && Array.isArray(object.items);
}
