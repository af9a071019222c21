/**
 * API errors as the real API server writes them: a `Status` object whose `reason`, `code`, `message` and `details`
 * follow k8s.io/apimachinery/pkg/api/errors, so clients that branch on them (client-go, client-node, kubectl) behave
 * as against a real cluster.
 */

interface StatusCause {
  reason: string;
  message: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  uid?: string;
  causes?: StatusCause[];
  retryAfterSeconds?: number;
}

export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message: string;
  reason: string;
  details?: StatusDetails;
  code: number;
}

export class StatusError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: StatusDetails | undefined;
  readonly headers: Record<string, string>;

  constructor(
    code: number,
    reason: string,
    message: string,
    details?: StatusDetails,
    headers?: Record<string, string>,
  ) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
    this.headers = headers ?? {};
  }

  status(): StatusBody {
    const body: StatusBody = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      code: this.code,
    };
    if (this.details) body.details = this.details;
    return body;
  }
}

/** `pods` or `resourceslices.resource.k8s.io`: how the real server names a resource in messages. */
export function qualifiedResource(group: string, plural: string): string {
  return group === '' ? plural : `${plural}.${group}`;
}

export function notFound(group: string, plural: string, name: string): StatusError {
  return new StatusError(404, 'NotFound', `${qualifiedResource(group, plural)} "${name}" not found`, {
    name,
    group: group || undefined,
    kind: plural,
  });
}

export function alreadyExists(group: string, plural: string, name: string): StatusError {
  return new StatusError(409, 'AlreadyExists', `${qualifiedResource(group, plural)} "${name}" already exists`, {
    name,
    group: group || undefined,
    kind: plural,
  });
}

export function conflict(group: string, plural: string, name: string, why: string): StatusError {
  return new StatusError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualifiedResource(group, plural)} "${name}": ${why}`,
    { name, group: group || undefined, kind: plural },
  );
}

export const STALE_OBJECT =
  'the object has been modified; please apply your changes to the latest version and try again';

export function badRequest(message: string): StatusError {
  return new StatusError(400, 'BadRequest', message);
}

export function gone(message: string): StatusError {
  return new StatusError(410, 'Expired', message);
}

/** A resourceVersion the store has not reached: the real server waits up to 3 s, then answers this 504. */
export function tooLargeResourceVersion(requested: number, current: number): StatusError {
  return new StatusError(504, 'Timeout', `Too large resource version: ${requested}, current: ${current}`, {
    causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }],
    retryAfterSeconds: 1,
  });
}

export function unauthorized(): StatusError {
  return new StatusError(401, 'Unauthorized', 'Unauthorized');
}

export function forbidden(message: string, group: string, plural: string, name?: string): StatusError {
  return new StatusError(403, 'Forbidden', message, { name, group: group || undefined, kind: plural });
}

/** One field error, as k8s.io/apimachinery/pkg/util/validation/field renders it. */
export interface FieldError {
  type:
    | 'FieldValueRequired'
    | 'FieldValueInvalid'
    | 'FieldValueDuplicate'
    | 'FieldValueNotSupported'
    | 'FieldValueTooMany'
    | 'FieldValueTooLong'
    | 'FieldValueForbidden'
    | 'FieldValueTypeInvalid'
    | 'FieldValueNotFound';
  field: string;
  detail: string;
  /** The offending value, rendered into the message for the types that show it. */
  value?: unknown;
  /** Only for NotSupported: the allowed values. */
  supported?: string[];
}

function renderValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === undefined || value === null) return 'null';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/** The `ErrorBody` of a field.Error: the part after "<field>: ". */
function fieldErrorBody(err: FieldError): string {
  switch (err.type) {
    case 'FieldValueRequired':
      return err.detail ? `Required value: ${err.detail}` : 'Required value';
    case 'FieldValueInvalid':
      return `Invalid value: ${renderValue(err.value)}${err.detail ? `: ${err.detail}` : ''}`;
    case 'FieldValueTypeInvalid':
      return `Invalid value: ${renderValue(err.value)}${err.detail ? `: ${err.detail}` : ''}`;
    case 'FieldValueDuplicate':
      return `Duplicate value: ${renderValue(err.value)}`;
    case 'FieldValueNotSupported': {
      const supported = (err.supported ?? []).map((s) => JSON.stringify(s)).join(', ');
      return `Unsupported value: ${renderValue(err.value)}${supported ? `: supported values: ${supported}` : ''}`;
    }
    case 'FieldValueTooMany':
      return `Too many: ${renderValue(err.value)}: ${err.detail}`;
    case 'FieldValueTooLong':
      return `Too long: ${err.detail}`;
    case 'FieldValueForbidden':
      return `Forbidden: ${err.detail}`;
    case 'FieldValueNotFound':
      return `Not found: ${renderValue(err.value)}`;
  }
}

/** 422 Invalid: `<Kind>.<group> "<name>" is invalid: <field>: <body>` (a list in brackets when several). */
export function invalid(group: string, kind: string, name: string, errors: FieldError[]): StatusError {
  const qualifiedKind = group === '' ? kind : `${kind}.${group}`;
  const rendered = errors.map((e) => `${e.field}: ${fieldErrorBody(e)}`);
  const summary = rendered.length === 1 ? rendered[0] : `[${rendered.join(', ')}]`;
  return new StatusError(422, 'Invalid', `${qualifiedKind} "${name}" is invalid: ${summary}`, {
    name,
    group: group || undefined,
    kind,
    causes: errors.map((e) => ({ reason: e.type, message: fieldErrorBody(e), field: e.field })),
  });
}
