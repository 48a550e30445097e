/**
 * Why an object store operation failed:
 * - `invalid_key`: the storage key (or prefix) is malformed; rejected before the backend is touched.
 * - `too_large`: the body exceeded `maxBytes`; nothing was stored.
 * - `unreachable`: the backend could not be reached (connection refused, DNS, timeout).
 * - `denied`: the backend refused the credentials or the permission (S3 403, directory not writable).
 * - `invalid_config`: a `GOFER_OBJECT_STORE` URL or S3 option is malformed (see `createObjectStore`).
 * - `backend_error`: anything else the backend reported (missing bucket, disk full, …).
 */
export type ObjectStoreErrorKind =
  | 'invalid_key'
  | 'too_large'
  | 'unreachable'
  | 'denied'
  | 'invalid_config'
  | 'backend_error';

/**
 * The error every {@link ObjectStore} method rejects with, except for a failing body (whose own error is
 * rethrown unchanged) and an aborted signal (which rejects with `signal.reason`). Messages say what failed
 * and what to do.
 */
export class ObjectStoreError extends Error {
  override readonly name = 'ObjectStoreError';

  constructor(
    readonly kind: ObjectStoreErrorKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
