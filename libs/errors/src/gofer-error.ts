/** What kind of failure a user-facing error is; the API maps each to a gRPC status code. */
export type GoferErrorCode =
  | 'invalid_argument' | 'not_found' | 'already_exists' | 'failed_precondition' | 'resource_exhausted'
  | 'unauthenticated' | 'permission_denied' | 'unavailable';

/** An error caused by the request (not by Gofer); its message is shown to the user as is. */
export class GoferError extends Error {
  override readonly name = 'GoferError';
  constructor(
    readonly code: GoferErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export const invalidArgument = (message: string) => new GoferError('invalid_argument', message);
export const notFound = (message: string) => new GoferError('not_found', message);
export const failedPrecondition = (message: string) => new GoferError('failed_precondition', message);
export const alreadyExists = (message: string) => new GoferError('already_exists', message);
export const unauthenticated = (message: string) => new GoferError('unauthenticated', message);
export const permissionDenied = (message: string) => new GoferError('permission_denied', message);
