/**
 * Query parameters as apimachinery decodes them, and the list/watch option checks the real API server makes before
 * it reads storage (k8s.io/apimachinery/pkg/apis/meta/internalversion/validation ValidateListOptions).
 *
 * Booleans: apimachinery's `Convert_Slice_string_To_bool` treats an absent parameter as false and every value but
 * `0` and `false` (any case) as true, so python-kubernetes' `watch=True`, client-go's `watch=true` and a bare
 * `?watch` all start a watch. Reading only `true` here made python's watches come back as lists.
 *
 * Threats: a client spelling booleans differently (`True`, `1`, empty) — answered as apimachinery does; option
 * combinations the real server refuses (`resourceVersionMatch` without `resourceVersion`, `sendInitialEvents` on a
 * list, `continue` with `resourceVersionMatch`) — answered with the same 422 ListOptions error, never silently served.
 */
import { type FieldError, invalid } from './errors.js';

/** A boolean query parameter: undefined when absent, false for `0`/`false` (any case), true for anything else. */
export function queryBool(query: URLSearchParams, name: string): boolean | undefined {
  const value = query.get(name);
  if (value === null) return undefined;
  return !(value === '0' || value.toLowerCase() === 'false');
}

/** The list/watch options the double honours, decoded from the query. */
export interface ListQuery {
  watch: boolean;
  resourceVersion?: string;
  resourceVersionMatch?: string;
  continue?: string;
  sendInitialEvents?: boolean;
  allowWatchBookmarks: boolean;
}

export function listQuery(query: URLSearchParams): ListQuery {
  const nonEmpty = (name: string) => {
    const v = query.get(name);
    return v === null || v === '' ? undefined : v;
  };
  return {
    watch: queryBool(query, 'watch') ?? false,
    resourceVersion: nonEmpty('resourceVersion'),
    resourceVersionMatch: nonEmpty('resourceVersionMatch'),
    continue: nonEmpty('continue'),
    sendInitialEvents: queryBool(query, 'sendInitialEvents'),
    allowWatchBookmarks: queryBool(query, 'allowWatchBookmarks') ?? false,
  };
}

const forbiddenMatch = (detail: string): FieldError => ({
  type: 'FieldValueForbidden',
  field: 'resourceVersionMatch',
  detail,
});

/** The errors ValidateListOptions reports for these options; empty when they are acceptable. */
export function listOptionErrors(o: ListQuery): FieldError[] {
  const errors: FieldError[] = [];
  const match = o.resourceVersionMatch;
  if (o.watch) {
    if (o.sendInitialEvents !== undefined && match !== 'NotOlderThan')
      errors.push(forbiddenMatch('sendInitialEvents requires setting resourceVersionMatch to NotOlderThan'));
    if (match !== undefined) {
      if (o.sendInitialEvents === undefined)
        errors.push(forbiddenMatch('resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided'));
      if (match !== 'NotOlderThan')
        errors.push({
          type: 'FieldValueNotSupported',
          field: 'resourceVersionMatch',
          detail: '',
          value: match,
          supported: ['NotOlderThan'],
        });
      if (o.continue !== undefined)
        errors.push(forbiddenMatch('resourceVersionMatch is forbidden when continue is provided'));
    }
    return errors;
  }
  if (match !== undefined) {
    if (o.resourceVersion === undefined)
      errors.push(forbiddenMatch('resourceVersionMatch is forbidden unless resourceVersion is provided'));
    if (o.continue !== undefined)
      errors.push(forbiddenMatch('resourceVersionMatch is forbidden when continue is provided'));
    if (match !== 'Exact' && match !== 'NotOlderThan')
      errors.push({
        type: 'FieldValueNotSupported',
        field: 'resourceVersionMatch',
        detail: '',
        value: match,
        supported: ['Exact', 'NotOlderThan', ''],
      });
    if (match === 'Exact' && o.resourceVersion === '0')
      errors.push(forbiddenMatch('resourceVersionMatch "exact" is forbidden for resourceVersion "0"'));
  }
  if (o.sendInitialEvents !== undefined)
    errors.push({
      type: 'FieldValueForbidden',
      field: 'sendInitialEvents',
      detail: 'sendInitialEvents is forbidden for list',
    });
  return errors;
}

/** Throws the 422 the real server answers (`ListOptions.meta.k8s.io "" is invalid: …`) when the options are refused. */
export function checkListOptions(o: ListQuery): void {
  const errors = listOptionErrors(o);
  if (errors.length > 0) throw invalid('meta.k8s.io', 'ListOptions', '', errors);
}
