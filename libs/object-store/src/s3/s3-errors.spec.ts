// Error mapping is pure logic: the inputs mimic the errors @aws-sdk/client-s3 raises (the integration
// tests in test/object-store/ produce the ones s3rver can: connection refused, 403, missing bucket).
import { describe, expect, it } from 'vitest';
import { ObjectStoreError } from '../object-store.error.js';
import { toObjectStoreError } from './s3-errors.js';

const context = { action: 'store "objects/a"', bucket: 'gofer', where: 'http://127.0.0.1:9000', region: 'us-east-1' };

function sdkError(name: string, message: string, status?: number, code?: string): Error {
  return Object.assign(new Error(message), {
    name,
    ...(code ? { code } : {}),
    $metadata: status === undefined ? { attempts: 3 } : { httpStatusCode: status },
    $response: { body: 'a large raw response' },
  });
}

describe('toObjectStoreError', () => {
  it.each([
    [sdkError('Error', 'connect ECONNREFUSED 127.0.0.1:9000', undefined, 'ECONNREFUSED'), 'unreachable', 'cannot reach S3 at http://127.0.0.1:9000'],
    [sdkError('Error', 'getaddrinfo ENOTFOUND minio', undefined, 'ENOTFOUND'), 'unreachable', 'check GOFER_S3_ENDPOINT'],
    [sdkError('Error', 'getaddrinfo EAI_AGAIN minio', undefined, 'EAI_AGAIN'), 'unreachable', 'EAI_AGAIN'],
    [sdkError('TimeoutError', 'socket timed out'), 'unreachable', 'socket timed out'],
    [sdkError('AccessDenied', 'Access Denied', 403), 'denied', '(AccessDenied: Access Denied)'],
    [sdkError('InvalidAccessKeyId', 'no such key id', 403), 'denied', 'check GOFER_S3_ACCESS_KEY_ID'],
    [sdkError('SignatureDoesNotMatch', 'bad signature', 403), 'denied', 'SignatureDoesNotMatch'],
    [sdkError('Unknown', 'UnknownError', 403), 'denied', '(HTTP 403)'],
    [sdkError('CredentialsProviderError', 'Could not load credentials from any providers'), 'denied', 'no S3 credentials'],
    [sdkError('NoSuchBucket', 'The specified bucket does not exist', 404), 'backend_error', 'S3 bucket "gofer" does not exist at http://127.0.0.1:9000'],
    [sdkError('PermanentRedirect', 'use the other endpoint', 301), 'backend_error', 'set GOFER_S3_REGION'],
    [sdkError('InternalError', 'We encountered an internal error.', 500), 'backend_error', 'failed to store "objects/a" in bucket "gofer": InternalError: We encountered an internal error. (HTTP 500)'],
    [new Error('something odd'), 'backend_error', 'Error: something odd'],
  ])('%s → %s', (error, kind, message) => {
    const mapped = toObjectStoreError(error, context);
    expect(mapped).toBeInstanceOf(ObjectStoreError);
    expect(mapped.kind).toBe(kind);
    expect(mapped.message).toContain(message);
  });

  it('keeps a lean cause: the SDK error without its raw response', () => {
    const mapped = toObjectStoreError(sdkError('AccessDenied', 'Access Denied', 403), context);
    expect(mapped.cause).toMatchObject({ name: 'AccessDenied', message: 'Access Denied', httpStatusCode: 403 });
    expect(mapped.cause).not.toHaveProperty('$response');
  });

  it('passes an ObjectStoreError through', () => {
    const error = new ObjectStoreError('too_large', 'too large');
    expect(toObjectStoreError(error, context)).toBe(error);
  });
});
