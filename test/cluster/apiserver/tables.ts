/**
 * Server-side printing (meta.k8s.io/v1 Table), which `kubectl get` asks for: the columns come from the kind table,
 * the row objects are PartialObjectMetadata unless the client asks for the whole object.
 */
import type { Column, KindSpec } from './kinds.js';
import type { KubeObject } from './types.js';

const DEFAULT_COLUMNS: Column[] = [
  {
    name: 'Name',
    type: 'string',
    format: 'name',
    description: 'Name must be unique within a namespace.',
    cell: (o) => o.metadata.name ?? '',
  },
  {
    name: 'Created At',
    type: 'date',
    description: 'CreationTimestamp is a timestamp representing the server time when this object was created.',
    cell: (o) => o.metadata.creationTimestamp ?? '',
  },
];

/** Table for kinds with printer columns; CRDs and kinds without any get Name + Created At as the real server. */
export function wantsTable(accept: string | undefined): boolean {
  return !!accept && /as=Table/.test(accept) && /g=meta\.k8s\.io/.test(accept);
}

function tableColumns(spec: KindSpec): Column[] {
  return spec.columns ?? DEFAULT_COLUMNS;
}

export function tableOf(
  spec: KindSpec,
  objects: KubeObject[],
  meta: { resourceVersion?: string; continue?: string; remainingItemCount?: number },
  includeObject: string | undefined,
  withHeaders = true,
): unknown {
  const columns = tableColumns(spec);
  const now = Date.now();
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: meta,
    ...(withHeaders
      ? {
          columnDefinitions: columns.map((c) => ({
            name: c.name,
            type: c.type,
            format: c.format ?? '',
            description: c.description,
            priority: c.priority ?? 0,
          })),
        }
      : {}),
    rows: objects.map((o) => ({
      cells: columns.map((c) => c.cell(o, now)),
      object:
        includeObject === 'Object'
          ? o
          : includeObject === 'None'
            ? undefined
            : { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: o.metadata },
    })),
  };
}
