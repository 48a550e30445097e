import type * as ClientS3 from '@aws-sdk/client-s3';
import type * as LibStorage from '@aws-sdk/lib-storage';
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { MeteredBody } from '../metered-body.js';
import { ObjectStoreError } from '../object-store.error.js';
import type { GetOptions, ObjectStore, PutOptions } from '../object-store.js';
import { assertStorageKey, assertStoragePrefix, MAX_STORAGE_KEY_BYTES } from '../storage-key.js';
import { errorName, httpStatus, noSuchBucket, type S3ErrorContext, toObjectStoreError } from './s3-errors.js';

const MIB = 1024 * 1024;

/**
 * The AWS SDK is loaded when the first S3 store is made, not when this module is imported: it is the
 * largest dependency Gofer has (~15 MiB of resident code), and a process on a directory store never
 * needs it.
 */
let sdk: { s3: typeof ClientS3; storage: typeof LibStorage } | undefined;
function aws(): { s3: typeof ClientS3; storage: typeof LibStorage } {
  const require = createRequire(import.meta.url);
  sdk ??= { s3: require('@aws-sdk/client-s3') as typeof ClientS3, storage: require('@aws-sdk/lib-storage') as typeof LibStorage };
  return sdk;
}

/** Options of {@link S3ObjectStore}. */
export interface S3ObjectStoreOptions {
  /** The bucket; it must exist (see {@link S3ObjectStore.ping}). */
  bucket: string;
  /**
   * Prepended, with a `/`, to every storage key, so several installations can share a bucket
   * (`s3://bucket/gofer-prod`). Same rules as a storage key.
   * @default no prefix
   */
  prefix?: string;
  /**
   * The S3 API endpoint, for MinIO and other S3-compatible services (`http://127.0.0.1:9000`).
   * @default AWS S3 for `region`
   */
  endpoint?: string;
  /** @default 'us-east-1' */
  region?: string;
  /**
   * Address buckets as `endpoint/bucket` instead of `bucket.endpoint`; MinIO and most S3-compatible
   * services need it.
   * @default false
   */
  forcePathStyle?: boolean;
  /**
   * Static credentials.
   * @default the AWS SDK default chain (AWS_ACCESS_KEY_ID…, ~/.aws, web identity, instance role)
   */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /**
   * Size of the parts a put uploads. The largest value a put can store is `partSize * 10000` (S3's part
   * limit): about 48.8 GiB with the default.
   * @default 5 MiB (S3's minimum)
   */
  partSize?: number;
  /**
   * Parts of one put uploaded concurrently. A put holds about `partSize * (queueSize + 1)` bytes: the parts
   * being uploaded, and the next one while it is assembled. More overlaps reading the body with uploading.
   * @default 1 (about 10 MiB per put with the default part size)
   */
  queueSize?: number;
}

/**
 * An {@link ObjectStore} on S3 or an S3-compatible service (MinIO), through `@aws-sdk/client-s3`.
 *
 * Puts stream through `@aws-sdk/lib-storage`'s `Upload`: a body smaller than one part becomes a single
 * PutObject, a larger one a multipart upload, which S3 makes visible only when it completes. A put holds
 * the part being uploaded, and briefly two while the next one is assembled: about 10 MiB with the
 * defaults, however large the value.
 *
 * A put that fails (limit, body error, abort) aborts its multipart upload, leaving neither an object nor
 * stored parts. If that abort itself fails (S3 unreachable at that moment), parts remain until the
 * bucket's `AbortIncompleteMultipartUpload` lifecycle rule removes them: configure one on production
 * buckets. Aborting a put's signal stops reading the body at once; a part being uploaded finishes first.
 */
export class S3ObjectStore implements ObjectStore {
  private readonly client: ClientS3.S3Client;
  private readonly bucket: string;
  /** `prefix/`, or empty. */
  private readonly keyPrefix: string;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly region: string;
  private readonly where: string;

  constructor(private readonly options: S3ObjectStoreOptions) {
    this.bucket = options.bucket;
    this.region = options.region ?? 'us-east-1';
    this.keyPrefix = options.prefix ? `${options.prefix}/` : '';
    this.partSize = options.partSize ?? 5 * MIB;
    this.queueSize = options.queueSize ?? 1;
    this.where = options.endpoint ?? `AWS S3 (region ${this.region})`;
    validate(options, this.partSize, this.queueSize);
    // The pinned SDK supports Node 20; its notice that later releases will not would land in Gofer's
    // stderr as an unstructured multi-line warning on every start.
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    this.client = new (aws().s3.S3Client)({
      region: this.region,
      endpoint: options.endpoint,
      forcePathStyle: options.forcePathStyle ?? false,
      credentials: options.credentials,
      // Since early 2025 the SDK adds CRC32 checksums to every upload by default (x-amz-checksum-* headers;
      // for bodies of unknown length, aws-chunked encoding with a checksum trailer). Not every
      // S3-compatible server supports them: s3rver, the test stand-in, cannot decode aws-chunked, and
      // several services rejected the new headers when the SDK switched. Sending them only where the API
      // requires them (DeleteObjects) keeps Gofer working with those and loses little: Upload sends every
      // part as a sized buffer, whose SHA-256 SigV4 signs (x-amz-content-sha256) and the server checks.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      // Fail fast on an endpoint that does not answer, rather than waiting for the OS's connect timeout.
      requestHandler: { connectionTimeout: 10_000 },
    });
  }

  async put(key: string, body: AsyncIterable<Uint8Array>, options: PutOptions = {}): Promise<{ size: number }> {
    const objectKey = this.objectKey(key);
    options.signal?.throwIfAborted();
    const metered = new MeteredBody(body, key, options);
    // highWaterMark 1: the stream reads one chunk ahead, so memory stays bounded by Upload's parts.
    const source = Readable.from(metered, { objectMode: true, highWaterMark: 1 });
    const upload = new (aws().storage.Upload)({
      client: this.client,
      params: { Bucket: this.bucket, Key: objectKey, Body: source },
      partSize: this.partSize,
      queueSize: this.queueSize,
      // On failure, Upload sends AbortMultipartUpload before done() rejects: no parts are left behind.
      leavePartsOnError: false,
    });
    try {
      await upload.done();
      return { size: metered.size };
    } catch (error) {
      // The body's failure explains the put; an error while aborting the upload would only hide it.
      if (metered.failure !== undefined) throw metered.failure;
      throw this.error(error, `store "${key}"`);
    } finally {
      source.destroy();
    }
  }

  async get(key: string, options: GetOptions = {}): Promise<{ body: Readable; size: number } | undefined> {
    const objectKey = this.objectKey(key);
    options.signal?.throwIfAborted();
    try {
      const output = await this.client.send(new (aws().s3.GetObjectCommand)({ Bucket: this.bucket, Key: objectKey }), {
        abortSignal: options.signal,
      });
      if (!(output.Body instanceof Readable)) {
        throw new ObjectStoreError('backend_error', `S3 at ${this.where} returned no readable body for "${key}"`);
      }
      return { body: output.Body, size: output.ContentLength ?? 0 };
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (errorName(error) === 'NoSuchKey') return undefined;
      throw this.error(error, `read "${key}"`);
    }
  }

  async head(key: string): Promise<{ size: number } | undefined> {
    const objectKey = this.objectKey(key);
    try {
      const output = await this.client.send(new (aws().s3.HeadObjectCommand)({ Bucket: this.bucket, Key: objectKey }));
      return { size: output.ContentLength ?? 0 };
    } catch (error) {
      if (httpStatus(error) !== 404) throw this.error(error, `look up "${key}"`);
    }
    // A HEAD response has no body, so a missing key and a missing bucket look alike: ask about the bucket.
    await this.checkBucket(`look up "${key}"`);
    return undefined;
  }

  async delete(key: string): Promise<void> {
    const objectKey = this.objectKey(key);
    try {
      await this.client.send(new (aws().s3.DeleteObjectCommand)({ Bucket: this.bucket, Key: objectKey }));
    } catch (error) {
      throw this.error(error, `delete "${key}"`);
    }
  }

  async deletePrefix(prefix: string): Promise<number> {
    assertStoragePrefix(prefix);
    const action = `delete the values under "${prefix}"`;
    let removed = 0;
    let marker: string | undefined;
    try {
      // Page by page (S3 returns at most 1000 keys, which is also the most one DeleteObjects call takes),
      // so memory stays bounded however many keys there are. ListObjects (v1) with a marker rather than
      // ListObjectsV2 with a continuation token: every S3 implementation has it, while s3rver (the test
      // stand-in) cannot produce v2 tokens on Node 17+ (it encrypts them with DES, which OpenSSL 3 dropped)
      // and fails every truncated v2 listing. The marker is the last key seen; deleting keys before it
      // does not disturb the listing.
      for (;;) {
        const page = await this.client.send(
          new (aws().s3.ListObjectsCommand)({ Bucket: this.bucket, Prefix: this.keyPrefix + prefix, Marker: marker }),
        );
        const keys = (page.Contents ?? []).flatMap((entry) => (entry.Key === undefined ? [] : [entry.Key]));
        for (let start = 0; start < keys.length; start += 1000) {
          removed += await this.deleteBatch(keys.slice(start, start + 1000), action);
        }
        if (!page.IsTruncated || keys.length === 0) break;
        marker = keys[keys.length - 1];
      }
    } catch (error) {
      throw this.error(error, action);
    }
    return removed;
  }

  async ping(): Promise<void> {
    await this.checkBucket('check the bucket');
  }

  describe(): string {
    const location = `s3://${this.bucket}${this.keyPrefix ? `/${this.keyPrefix.slice(0, -1)}` : ''}`;
    return this.options.endpoint ? `${location} at ${this.options.endpoint}` : `${location} in AWS region ${this.region}`;
  }

  /** Closes the client's connections; the store cannot be used afterwards. */
  async close(): Promise<void> {
    this.client.destroy();
  }

  /** One DeleteObjects call (at most 1000 keys); resolves how many were deleted. */
  private async deleteBatch(keys: string[], action: string): Promise<number> {
    if (keys.length === 0) return 0;
    const output = await this.client.send(
      new (aws().s3.DeleteObjectsCommand)({
        Bucket: this.bucket,
        Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
      }),
    );
    const failed = output.Errors ?? [];
    if (failed.length > 0) {
      const first = failed[0];
      // Report it the way a failed single call would be reported (AccessDenied → denied, …).
      throw this.error(
        Object.assign(new Error(`${failed.length} of ${keys.length} keys not deleted; "${first.Key}": ${first.Message}`), {
          name: first.Code ?? 'DeleteObjectsError',
        }),
        action,
      );
    }
    return keys.length;
  }

  /** Resolves if the bucket exists and is accessible; otherwise rejects with a message saying why. */
  private async checkBucket(action: string): Promise<void> {
    try {
      await this.client.send(new (aws().s3.HeadBucketCommand)({ Bucket: this.bucket }));
    } catch (error) {
      if (httpStatus(error) === 404) throw noSuchBucket(this.context(action), error);
      throw this.error(error, action);
    }
  }

  private objectKey(key: string): string {
    assertStorageKey(key);
    const objectKey = this.keyPrefix + key;
    if (Buffer.byteLength(objectKey) > MAX_STORAGE_KEY_BYTES) {
      throw new ObjectStoreError(
        'invalid_key',
        `storage key "${key.slice(0, 80)}…" is too long with the bucket prefix "${this.keyPrefix}": S3 keys are at ` +
          `most ${MAX_STORAGE_KEY_BYTES} bytes`,
      );
    }
    return objectKey;
  }

  private context(action: string): S3ErrorContext {
    return { action, bucket: this.bucket, where: this.where, region: this.region };
  }

  private error(error: unknown, action: string): ObjectStoreError {
    return toObjectStoreError(error, this.context(action));
  }
}

const BUCKET = /^[A-Za-z0-9][A-Za-z0-9._-]{1,61}[A-Za-z0-9]$/;

/** Rejects options that would fail on every call, with `invalid_config`, at construction. */
function validate(options: S3ObjectStoreOptions, partSize: number, queueSize: number): void {
  const invalid = (message: string) => new ObjectStoreError('invalid_config', message);
  if (!BUCKET.test(options.bucket ?? '')) {
    throw invalid(`invalid S3 bucket name "${options.bucket}": expected 3 to 63 letters, digits, ".", "-" or "_"`);
  }
  if (options.prefix !== undefined) {
    try {
      assertStorageKey(options.prefix);
    } catch (error) {
      throw invalid(`invalid S3 key prefix: ${(error as Error).message.replace(/^invalid storage key /, '')}`);
    }
  }
  if (options.endpoint !== undefined) {
    let protocol: string | undefined;
    try {
      protocol = new URL(options.endpoint).protocol;
    } catch {
      protocol = undefined;
    }
    if (protocol !== 'http:' && protocol !== 'https:') {
      throw invalid(`invalid S3 endpoint "${options.endpoint}": expected a URL like http://127.0.0.1:9000 or https://s3.example.com`);
    }
  }
  if (options.credentials && !(options.credentials.accessKeyId && options.credentials.secretAccessKey)) {
    throw invalid('S3 credentials need both an access key id and a secret access key');
  }
  if (!Number.isSafeInteger(partSize) || partSize < 5 * MIB) {
    throw new RangeError(`partSize must be an integer of at least 5 MiB (S3's minimum part size), got ${partSize}`);
  }
  if (!Number.isSafeInteger(queueSize) || queueSize < 1) {
    throw new RangeError(`queueSize must be a positive integer, got ${queueSize}`);
  }
}
