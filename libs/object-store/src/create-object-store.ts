import { resolve } from 'node:path';
import { FsObjectStore } from './fs/fs.object-store.js';
import { ObjectStoreError } from './object-store.error.js';
import type { ObjectStore } from './object-store.js';
import { S3ObjectStore } from './s3/s3.object-store.js';

/**
 * S3 connection settings, which the service reads from the environment. Only used for `s3://` URLs.
 */
export interface S3ConnectionOptions {
  /**
   * S3 API endpoint for MinIO and other S3-compatible services (`GOFER_S3_ENDPOINT`).
   * @default AWS S3
   */
  endpoint?: string;
  /**
   * Region of the bucket (`GOFER_S3_REGION`).
   * @default 'us-east-1'
   */
  region?: string;
  /**
   * Access key id (`GOFER_S3_ACCESS_KEY_ID`); set together with `secretAccessKey`.
   * @default the AWS SDK default credential chain
   */
  accessKeyId?: string;
  /** Secret access key (`GOFER_S3_SECRET_ACCESS_KEY`). */
  secretAccessKey?: string;
  /**
   * Path-style bucket addressing (`GOFER_S3_FORCE_PATH_STYLE`), which MinIO and most S3-compatible
   * services need.
   * @default true when `endpoint` is set, false for AWS S3
   */
  forcePathStyle?: boolean;
}

/** Where a `GOFER_OBJECT_STORE` URL says values live. */
export type ObjectStoreLocation =
  | { kind: 'fs'; directory: string }
  | { kind: 's3'; bucket: string; prefix?: string };

const EXPECTED = 'expected fs:///absolute/path, fs://relative/path or s3://bucket[/prefix]';

/**
 * Parses a `GOFER_OBJECT_STORE` value without touching storage, so configuration can be validated at
 * startup: `fs:///var/lib/gofer/objects`, `fs://.data/objects` (relative to `cwd`), `s3://bucket` or
 * `s3://bucket/some/prefix`. Throws {@link ObjectStoreError} `invalid_config` on anything else.
 */
export function parseObjectStoreUrl(url: string, cwd: string = process.cwd()): ObjectStoreLocation {
  const invalid = (why: string) => new ObjectStoreError('invalid_config', `invalid object store URL "${url}": ${why}`);
  if (url.startsWith('fs://')) {
    const path = url.slice('fs://'.length);
    if (path === '' || path.includes('\0')) throw invalid(`no directory given; ${EXPECTED}`);
    return { kind: 'fs', directory: resolve(cwd, path) };
  }
  if (url.startsWith('s3://')) {
    const rest = url.slice('s3://'.length).replace(/\/+$/, '');
    const slash = rest.indexOf('/');
    const bucket = slash === -1 ? rest : rest.slice(0, slash);
    const prefix = slash === -1 ? undefined : rest.slice(slash + 1);
    if (bucket === '') throw invalid(`no bucket given; ${EXPECTED}`);
    return prefix === undefined ? { kind: 's3', bucket } : { kind: 's3', bucket, prefix };
  }
  throw invalid(EXPECTED);
}

/**
 * Builds the store a `GOFER_OBJECT_STORE` URL names (see {@link parseObjectStoreUrl}); `s3Options` apply
 * to `s3://` URLs. Nothing is contacted yet: call {@link ObjectStore.ping} at startup to check the store.
 * Throws {@link ObjectStoreError} `invalid_config` for a malformed URL, bucket, prefix or endpoint.
 */
export function createObjectStore(url: string, s3Options: S3ConnectionOptions = {}): ObjectStore {
  const location = parseObjectStoreUrl(url);
  if (location.kind === 'fs') return new FsObjectStore(location.directory);
  // Empty strings (an unset variable passed through) mean "not set".
  const endpoint = s3Options.endpoint || undefined;
  const region = s3Options.region || undefined;
  const { accessKeyId, secretAccessKey, forcePathStyle } = s3Options;
  if (Boolean(accessKeyId) !== Boolean(secretAccessKey)) {
    throw new ObjectStoreError(
      'invalid_config',
      'S3 credentials need both GOFER_S3_ACCESS_KEY_ID and GOFER_S3_SECRET_ACCESS_KEY (or neither, to use the AWS ' +
        'default credential chain)',
    );
  }
  return new S3ObjectStore({
    bucket: location.bucket,
    prefix: location.prefix,
    endpoint,
    region,
    forcePathStyle: forcePathStyle ?? endpoint !== undefined,
    credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined,
  });
}
