// S3-only behaviour: failures a directory cannot have (unreachable endpoint, missing bucket, refused
// credentials) and the bucket prefix of s3://bucket/prefix URLs. The shared contract is in
// object-store.contract.spec.ts.
import { randomBytes } from 'node:crypto';
import { createObjectStore, type ObjectStore, ObjectStoreError, S3ObjectStore } from '@gofer/object-store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startS3, type TestS3 } from '../support/s3.js';
import { bodyOf, readAll } from './bodies.js';

let s3: TestS3;
const opened: S3ObjectStore[] = [];

/** A store on the test server, with `overrides` applied; closed after the file. */
function storeWith(overrides: Partial<ConstructorParameters<typeof S3ObjectStore>[0]> = {}): S3ObjectStore {
  const store = new S3ObjectStore({
    bucket: s3.bucket,
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    ...overrides,
  });
  opened.push(store);
  return store;
}

/** Every operation of a store, each expected to fail the same way. */
const operations: Array<[string, (store: ObjectStore) => Promise<unknown>]> = [
  ['ping', (store) => store.ping()],
  ['put', (store) => store.put('objects/a', bodyOf('x'))],
  ['get', (store) => store.get('objects/a')],
  ['head', (store) => store.head('objects/a')],
  ['delete', (store) => store.delete('objects/a')],
  ['deletePrefix', (store) => store.deletePrefix('objects/')],
];

beforeAll(async () => {
  s3 = await startS3();
});
afterAll(async () => {
  for (const store of opened) await store.close();
  await s3?.close();
});

describe('an unreachable endpoint', () => {
  it.each(operations)('%s rejects with unreachable, naming the endpoint and what to check', async (_, operation) => {
    // Nothing listens on port 1 of loopback: connection refused.
    const store = storeWith({ endpoint: 'http://127.0.0.1:1' });
    const error = await operation(store).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ObjectStoreError);
    expect(error).toMatchObject({ kind: 'unreachable' });
    expect((error as Error).message).toMatch(/^cannot reach S3 at http:\/\/127\.0\.0\.1:1 to .*ECONNREFUSED.*check GOFER_S3_ENDPOINT/);
  });
});

describe('a bucket that does not exist', () => {
  it.each(operations)('%s rejects with a message naming the bucket', async (_, operation) => {
    const bucket = `gofer-missing-${randomBytes(4).toString('hex')}`;
    const store = storeWith({ bucket });
    const error = await operation(store).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ObjectStoreError);
    expect(error).toMatchObject({ kind: 'backend_error' });
    expect((error as Error).message).toContain(`S3 bucket "${bucket}" does not exist at ${s3.endpoint}`);
    expect((error as Error).message).toContain('create the bucket, or fix the bucket name in GOFER_OBJECT_STORE');
  });
});

describe('credentials the server refuses', () => {
  it.each(operations)('%s rejects with denied', async (_, operation) => {
    const store = storeWith({ credentials: { accessKeyId: 'NOT-A-KEY', secretAccessKey: 'wrong' } });
    const error = await operation(store).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ObjectStoreError);
    expect(error).toMatchObject({ kind: 'denied' });
    expect((error as Error).message).toContain(`denied access to bucket "${s3.bucket}"`);
    expect((error as Error).message).toContain('check GOFER_S3_ACCESS_KEY_ID and GOFER_S3_SECRET_ACCESS_KEY');
  });
});

describe('a bucket prefix (s3://bucket/prefix)', () => {
  it('keeps every key under the prefix, and deletePrefix stays inside it', async () => {
    const options = { endpoint: s3.endpoint, accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey };
    // forcePathStyle is left out on purpose: it defaults to true when an endpoint is given.
    const tenantA = createObjectStore(`s3://${s3.bucket}/tenant-a/gofer`, options) as S3ObjectStore;
    const tenantB = createObjectStore(`s3://${s3.bucket}/tenant-b/`, options) as S3ObjectStore;
    const whole = storeWith();
    opened.push(tenantA, tenantB);

    expect(tenantA.describe()).toBe(`s3://${s3.bucket}/tenant-a/gofer at ${s3.endpoint}`);
    await tenantA.ping();
    await tenantA.put('logs/default/p/3/task.1.log', bodyOf('from a'));
    await tenantB.put('logs/default/p/3/task.1.log', bodyOf('from b'));

    expect((await readAll((await whole.get('tenant-a/gofer/logs/default/p/3/task.1.log'))!.body)).toString()).toBe('from a');
    expect((await readAll((await whole.get('tenant-b/logs/default/p/3/task.1.log'))!.body)).toString()).toBe('from b');
    expect(await whole.head('logs/default/p/3/task.1.log')).toBeUndefined();

    expect(await tenantA.deletePrefix('logs/')).toBe(1);
    expect(await tenantA.head('logs/default/p/3/task.1.log')).toBeUndefined();
    expect(await tenantB.head('logs/default/p/3/task.1.log')).toEqual({ size: 6 });
  });
});
