import { ObjectStoreError } from '../object-store.error.js';

/** What the failed call was doing, to name it in the message. */
export interface S3ErrorContext {
  /** Completes "failed to …": `store "objects/a"`, `list the values under "logs/"`. */
  action: string;
  bucket: string;
  /** `http://127.0.0.1:9000`, or `AWS S3 (region eu-west-1)` without an endpoint. */
  where: string;
  region: string;
}

/** The parts of an SDK error we look at; SDK v3 errors carry `name`, `$metadata` and often `code`. */
interface SdkErrorShape {
  name?: string;
  message?: string;
  code?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

/** Socket and DNS failures: the request never got an answer from S3. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ECONNABORTED',
]);

const DENIED_NAMES = new Set([
  'AccessDenied',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'AllAccessDisabled',
  'Forbidden',
]);

/** The HTTP status of an S3 response error, if the request got one. */
export function httpStatus(error: unknown): number | undefined {
  return (error as SdkErrorShape | undefined)?.$metadata?.httpStatusCode;
}

/** The S3 error code (`NoSuchKey`, `AccessDenied`, …) or the SDK's error name. */
export function errorName(error: unknown): string | undefined {
  const shape = error as SdkErrorShape | undefined;
  return shape?.Code ?? shape?.name;
}

/**
 * Turns an SDK failure into an {@link ObjectStoreError} whose message names the endpoint and bucket and
 * says what to do: connection failures are `unreachable`, 403s and credential failures `denied`, a
 * missing bucket and everything else `backend_error`.
 */
export function toObjectStoreError(error: unknown, context: S3ErrorContext): ObjectStoreError {
  if (error instanceof ObjectStoreError) return error;
  const shape = (error ?? {}) as SdkErrorShape;
  const status = httpStatus(error);
  const name = errorName(error) ?? 'Error';
  // Responses without a body (HEAD, some proxies) leave the SDK only the status: "Unknown: UnknownError".
  const anonymous = name === 'Unknown' || name === 'UnknownError' || shape.message === 'UnknownError';
  const detail = anonymous ? `HTTP ${status ?? 'error'}` : shape.message || name;
  const described = anonymous ? detail : `${name}: ${detail}`;
  const { action, bucket, where } = context;
  error = leanCause(error);

  if (status === undefined && (NETWORK_CODES.has(shape.code ?? '') || name === 'TimeoutError')) {
    return new ObjectStoreError(
      'unreachable',
      `cannot reach S3 at ${where} to ${action} (${detail}): check GOFER_S3_ENDPOINT and that the S3 service ` +
        'is running and reachable from this host',
      { cause: error },
    );
  }
  if (name === 'CredentialsProviderError') {
    return new ObjectStoreError(
      'denied',
      `no S3 credentials to ${action} (${detail}): set GOFER_S3_ACCESS_KEY_ID and GOFER_S3_SECRET_ACCESS_KEY, ` +
        'or provide credentials through the AWS default chain (AWS_* variables, ~/.aws, an instance role)',
      { cause: error },
    );
  }
  if (name === 'NoSuchBucket') return noSuchBucket(context, error);
  if (status === 301 || name === 'PermanentRedirect' || name === 'AuthorizationHeaderMalformed') {
    return new ObjectStoreError(
      'backend_error',
      `S3 at ${where} refused to ${action} in bucket "${bucket}" (${detail}): the bucket is probably in ` +
        `another region than "${context.region}"; set GOFER_S3_REGION to the bucket's region`,
      { cause: error },
    );
  }
  if (status === 403 || DENIED_NAMES.has(name)) {
    return new ObjectStoreError(
      'denied',
      `S3 at ${where} denied access to bucket "${bucket}" trying to ${action} (${described}): check ` +
        'GOFER_S3_ACCESS_KEY_ID and GOFER_S3_SECRET_ACCESS_KEY, and that they may read, write, list and delete ' +
        'in the bucket',
      { cause: error },
    );
  }
  const statusText = status === undefined || anonymous ? '' : ` (HTTP ${status})`;
  return new ObjectStoreError(
    'backend_error',
    `S3 at ${where} failed to ${action} in bucket "${bucket}": ${described}${statusText}`,
    { cause: error },
  );
}

/** The bucket named in `GOFER_OBJECT_STORE` does not exist. */
export function noSuchBucket(context: S3ErrorContext, cause?: unknown): ObjectStoreError {
  return new ObjectStoreError(
    'backend_error',
    `S3 bucket "${context.bucket}" does not exist at ${context.where} (trying to ${context.action}): create ` +
      'the bucket, or fix the bucket name in GOFER_OBJECT_STORE',
    { cause: leanCause(cause) },
  );
}

/**
 * The SDK error without its `$response` (the raw HTTP response with its socket), which would turn every
 * logged failure into pages of output; keeps what identifies the failure.
 */
function leanCause(error: unknown): unknown {
  if (!(error instanceof Error) || !('$metadata' in error || '$response' in error)) return error;
  const shape = error as Error & SdkErrorShape & { $metadata?: { requestId?: string } };
  const lean = new Error(error.message);
  lean.name = error.name;
  lean.stack = error.stack;
  return Object.assign(lean, {
    code: shape.code ?? shape.Code,
    httpStatusCode: shape.$metadata?.httpStatusCode,
    requestId: shape.$metadata?.requestId,
  });
}
