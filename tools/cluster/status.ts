// Errors of the emulated API server, shaped like metav1.Status so that clients parse them as
// they would parse the real apiserver's (kubectl prints `message`; client libraries read
// `reason` and `code`).
export interface StatusBody {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Success' | 'Failure';
  message?: string;
  reason?: string;
  details?: { name?: string; group?: string; kind?: string; causes?: { reason?: string; message?: string; field?: string }[] };
  code: number;
}

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusBody['details'],
  ) {
    super(message);
  }

  body(): StatusBody {
    return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: this.message, reason: this.reason, ...(this.details ? { details: this.details } : {}), code: this.code };
  }
}

/** `pods "x"` or `deployments.apps "x"`, or just the resource when there is no name. */
export function qualified(resource: string, group: string, name?: string): string {
  const r = group ? `${resource}.${group}` : resource;
  return name ? `${r} "${name}"` : r;
}

export const notFound = (resource: string, group: string, name: string) =>
  new ApiError(404, 'NotFound', `${qualified(resource, group, name)} not found`, { name, ...(group ? { group } : {}), kind: resource });

export const alreadyExists = (resource: string, group: string, name: string) =>
  new ApiError(409, 'AlreadyExists', `${qualified(resource, group, name)} already exists`, { name, ...(group ? { group } : {}), kind: resource });

export const badRequest = (message: string) => new ApiError(400, 'BadRequest', message);

export const methodNotAllowed = () => new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');

/** 422, the way field validation failures come back (kubectl prints the whole message). */
export function invalid(kind: string, group: string, name: string, causes: { field: string; message: string }[]): ApiError {
  const list = causes.map((c) => `${c.field}: ${c.message}`).join(', ');
  const what = group ? `${kind}.${group}` : kind;
  return new ApiError(422, 'Invalid', `${what} "${name}" is invalid: ${causes.length > 1 ? `[${list}]` : list}`, {
    name,
    ...(group ? { group } : {}),
    kind,
    causes: causes.map((c) => ({ reason: 'FieldValueInvalid', message: c.message, field: c.field })),
  });
}

export const unauthorized = () => new ApiError(401, 'Unauthorized', 'Unauthorized');

export const successStatus = () => ({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success' as const });
