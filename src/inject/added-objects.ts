/**
 * Objects inject adds beside the workloads (a PodGroup, a ResourceClaimTemplate): appended to the output, YAML as
 * new documents, JSON into the array or List (a single object becomes a v1 List), and never twice: an object the
 * input already holds (same group, kind, namespace and name, e.g. from an earlier injection) is not added again.
 */
import { stringify } from 'yaml';
import { isObject, type Json, type JsonObject, objectAt, stringAt } from './json.js';
import type { InjectReport } from './options.js';

/** Kinds inject may add: read in the input, so one already there is not added again. */
export const ADDED_KINDS = ['PodGroup', 'Workload', 'ResourceClaimTemplate'] as const;

/** `group/Kind/namespace/name`: what makes two manifests' objects the same object on the server. */
export function objectIdentity(object: JsonObject): string {
  const apiVersion = stringAt(object, 'apiVersion') ?? '';
  const group = apiVersion.includes('/') ? apiVersion.slice(0, apiVersion.indexOf('/')) : '';
  const metadata = objectAt(object, 'metadata');
  return `${group}/${stringAt(object, 'kind') ?? ''}/${stringAt(metadata, 'namespace') ?? ''}/${stringAt(metadata, 'name') ?? ''}`;
}

/** The output with report.objects appended (those the input does not hold already). */
export function appendAddedObjects(output: string, report: InjectReport): string {
  const present = new Set(report.inputObjects ?? []);
  const added: JsonObject[] = [];
  for (const object of report.objects ?? []) {
    const id = objectIdentity(object);
    if (present.has(id)) continue;
    present.add(id);
    added.push(object);
  }
  if (added.length === 0) return output;
  const trimmed = output.trimStart();
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    const parsed = JSON.parse(output) as Json;
    let next: Json;
    if (Array.isArray(parsed)) next = [...parsed, ...added];
    else if (isObject(parsed) && Array.isArray(parsed.items) && stringAt(parsed, 'kind')?.endsWith('List'))
      next = { ...parsed, items: [...parsed.items, ...added] };
    else next = { apiVersion: 'v1', kind: 'List', items: [parsed, ...added] };
    return `${JSON.stringify(next, null, 2)}\n`;
  }
  const documents = added.map((object) => `---\n${stringify(object, { lineWidth: 0 })}`);
  return `${output}${output === '' || output.endsWith('\n') ? '' : '\n'}${documents.join('')}`;
}
