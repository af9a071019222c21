import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { JsonObject } from '../../src/inject/json.js';
import { REPO_ROOT } from '../support/paths.js';

/** Renders a kustomization with the real `kubectl kustomize` (kubectl 1.32 on PATH) and parses the objects. */
export function kustomize(dir: string): { text: string; objects: JsonObject[] } {
  const result = spawnSync('kubectl', ['kustomize', resolve(REPO_ROOT, dir)], { encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0) throw new Error(`kubectl kustomize ${dir} failed: ${result.stderr}`);
  const objects = parseAllDocuments(result.stdout).flatMap((d) => (d.contents ? [d.toJS() as JsonObject] : []));
  return { text: result.stdout, objects };
}

export function find(objects: JsonObject[], kind: string, name?: string): JsonObject {
  const found = objects.find(
    (o) => o.kind === kind && (name === undefined || (o.metadata as JsonObject | undefined)?.name === name),
  );
  if (!found) throw new Error(`no ${kind}${name ? `/${name}` : ''} in the rendered objects`);
  return found;
}
