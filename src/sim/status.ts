/**
 * `Status` bodies as kube-apiserver writes them (k8s.io/apimachinery/pkg/api/errors). Clients
 * parse `reason`, `details.causes` and sometimes the message text, so wording, field order and
 * the omission of empty fields follow the real server.
 */

export interface StatusCause {
  reason?: string;
  message?: string;
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
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: StatusDetails;
  code: number;
}

export interface GroupResource {
  group: string;
  resource: string;
}

export interface GroupKind {
  group: string;
  kind: string;
}

/** A response the sim sends instead of the object: thrown anywhere inside request handling. */
export class SimApiError extends Error {
  constructor(readonly body: StatusBody) {
    super(body.message ?? body.reason ?? `HTTP ${body.code}`);
    this.name = 'SimApiError';
  }

  get code(): number {
    return this.body.code;
  }
}

function failure(code: number, reason: string | undefined, message: string, details?: StatusDetails): SimApiError {
  // Spread order is the JSON field order of a real Status.
  const body: StatusBody = {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    ...(reason ? { reason } : {}),
    ...(details ? { details: compactDetails(details) } : {}),
    code,
  };
  return new SimApiError(body);
}

function compactDetails(details: StatusDetails): StatusDetails {
  const out: StatusDetails = {};
  if (details.name) out.name = details.name;
  if (details.group) out.group = details.group;
  if (details.kind) out.kind = details.kind;
  if (details.uid) out.uid = details.uid;
  if (details.causes && details.causes.length > 0) out.causes = details.causes;
  if (details.retryAfterSeconds) out.retryAfterSeconds = details.retryAfterSeconds;
  return out;
}

/** A Failure Status body; `details` only when it says something. */
export function failureStatus(code: number, reason: string, message: string, details?: StatusBody['details']): StatusBody {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details && Object.keys(details).length > 0 ? { details } : {}),
    code,
  };
}

/** NewInternalError: the message wrapped as the server wraps it, and repeated as the cause. */
export function internalErrorStatus(inner: string): StatusBody {
  return failureStatus(500, 'InternalError', `Internal error occurred: ${inner}`, { causes: [{ message: inner }] });
}

export function qualifiedResource(gr: GroupResource): string {
  return gr.group ? `${gr.resource}.${gr.group}` : gr.resource;
}

function qualifiedKind(gk: GroupKind): string {
  return gk.group ? `${gk.kind}.${gk.group}` : gk.kind;
}

export const OPTIMISTIC_LOCK_MESSAGE =
  'the object has been modified; please apply your changes to the latest version and try again';

export function notFound(gr: GroupResource, name: string): SimApiError {
  return failure(404, 'NotFound', `${qualifiedResource(gr)} "${name}" not found`, {
    name,
    group: gr.group,
    kind: gr.resource,
  });
}

/** What the server says for a URL no handler serves. */
export function pathNotFound(): SimApiError {
  return failure(404, 'NotFound', 'the server could not find the requested resource', {});
}

export function alreadyExists(gr: GroupResource, name: string): SimApiError {
  return failure(409, 'AlreadyExists', `${qualifiedResource(gr)} "${name}" already exists`, {
    name,
    group: gr.group,
    kind: gr.resource,
  });
}

export function conflict(gr: GroupResource, name: string, why: string): SimApiError {
  return failure(409, 'Conflict', `Operation cannot be fulfilled on ${qualifiedResource(gr)} "${name}": ${why}`, {
    name,
    group: gr.group,
    kind: gr.resource,
  });
}

export type FieldErrorType =
  | 'FieldValueInvalid'
  | 'FieldValueRequired'
  | 'FieldValueNotSupported'
  | 'FieldValueForbidden'
  | 'FieldValueDuplicate';

export interface FieldError {
  type: FieldErrorType;
  field: string;
  value?: unknown;
  detail?: string;
  supported?: string[];
  /** How Go's %#v would print a non-scalar value, e.g. `[]string{"x"}`. */
  display?: string;
}

function formatValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value === null || value === undefined) return 'null';
  return JSON.stringify(value);
}

/** The part after "<field>: " (field.Error.ErrorBody). */
function fieldErrorBody(err: FieldError): string {
  const shown = err.display ?? formatValue(err.value);
  switch (err.type) {
    case 'FieldValueRequired':
      return err.detail ? `Required value: ${err.detail}` : 'Required value';
    case 'FieldValueForbidden':
      return err.detail ? `Forbidden: ${err.detail}` : 'Forbidden';
    case 'FieldValueDuplicate':
      return `Duplicate value: ${shown}`;
    case 'FieldValueNotSupported': {
      const supported = (err.supported ?? []).map((s) => JSON.stringify(s)).join(', ');
      return `Unsupported value: ${shown}${supported ? `: supported values: ${supported}` : ''}`;
    }
    case 'FieldValueInvalid':
      return `Invalid value: ${shown}${err.detail ? `: ${err.detail}` : ''}`;
  }
}

export function fieldErrorString(err: FieldError): string {
  return `${err.field}: ${fieldErrorBody(err)}`;
}

export function invalid(gk: GroupKind, name: string, errors: FieldError[]): SimApiError {
  const parts = errors.map(fieldErrorString);
  const joined = parts.length === 1 ? (parts[0] ?? '') : `[${parts.join(', ')}]`;
  return failure(422, 'Invalid', `${qualifiedKind(gk)} "${name}" is invalid: ${joined}`, {
    name,
    group: gk.group,
    kind: gk.kind,
    causes: errors.map((e) => ({ reason: e.type, message: fieldErrorBody(e), field: e.field })),
  });
}

/** NewGenericServerResponse(422, ...): what a failing JSON-patch operation produces. */
export function genericUnprocessable(): SimApiError {
  return failure(422, 'Invalid', 'the server rejected our request due to an error in our request', {});
}

export function badRequest(message: string): SimApiError {
  return failure(400, 'BadRequest', message);
}

export function unsupportedMediaType(message: string): SimApiError {
  return failure(415, 'UnsupportedMediaType', message);
}

export function notAcceptable(message: string): SimApiError {
  return failure(406, 'NotAcceptable', message);
}

export function methodNotSupported(gr: GroupResource, action: string): SimApiError {
  return failure(405, 'MethodNotAllowed', `${action} is not supported on resources of kind "${qualifiedResource(gr)}"`, {
    group: gr.group,
    kind: gr.resource,
  });
}

export function tooManyRequests(message: string, causes: StatusCause[], retryAfterSeconds = 0): SimApiError {
  return failure(429, 'TooManyRequests', message, { causes, retryAfterSeconds });
}

export function internalError(message: string): SimApiError {
  return failure(500, 'InternalError', `Internal error occurred: ${message}`, { causes: [{ message }] });
}

export function forbidden(gr: GroupResource, name: string, why: string): SimApiError {
  const subject = name ? `${qualifiedResource(gr)} "${name}"` : qualifiedResource(gr);
  return failure(403, 'Forbidden', `${subject} is forbidden: ${why}`, { name, group: gr.group, kind: gr.resource });
}

export function unauthorized(): SimApiError {
  return failure(401, 'Unauthorized', 'Unauthorized');
}

export function success(code: number, details?: StatusDetails): StatusBody {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Success',
    ...(details ? { details: compactDetails(details) } : {}),
    code,
  };
}
