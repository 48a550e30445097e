import type { Readable } from 'node:stream';
// For the {@link} references in the TSDoc below.
import type { ObjectStoreError } from './object-store.error.js';

/**
 * Byte storage behind Gofer's pipeline/run objects and archived task logs.
 *
 * Gofer keeps object metadata (user keys, sizes, eviction order) in Postgres; a store only keeps bytes
 * under *storage keys* that Gofer generates, such as `objects/default/my-pipeline/run/12/build.tar` or
 * `logs/default/p/3/task.1.log`. Every method validates its key first (see `assertStorageKey`) and
 * rejects a malformed one with {@link ObjectStoreError} `invalid_key` before touching the backend.
 * Both stores take every valid key, but some S3-compatible servers (MinIO) refuse a segment longer than
 * 255 bytes: keys that embed a long name spell it with `portableSegment`.
 *
 * Implementations: `FsObjectStore` (a local directory) and `S3ObjectStore` (S3, MinIO); build one from a
 * `GOFER_OBJECT_STORE` URL with `createObjectStore`.
 */
export interface ObjectStore {
  /**
   * Stores `body` under `key`, replacing any existing value. The body is streamed, never held whole in
   * memory.
   *
   * Atomic: readers see the previous value or the new one, never part of it. When the body exceeds
   * `maxBytes`, the body iterator throws, or the signal aborts, the put rejects, nothing is stored and a
   * previous value under `key` stays intact. Put resolves if and only if the new value was stored.
   *
   * Rejects with {@link ObjectStoreError} `too_large` when the body exceeds `maxBytes`, with the body's
   * own error when its iterator throws, with `signal.reason` when the signal aborts, and with
   * {@link ObjectStoreError} for backend failures.
   */
  put(key: string, body: AsyncIterable<Uint8Array>, options?: PutOptions): Promise<{ size: number }>;

  /**
   * Opens the value stored under `key` for streaming, or resolves `undefined` when there is none.
   * The stream shows the value as it was when opened, even if it is replaced meanwhile. The caller must
   * consume or destroy `body`. Aborting the signal rejects the call (or errors `body` once returned).
   */
  get(key: string, options?: GetOptions): Promise<{ body: Readable; size: number } | undefined>;

  /** The size of the value under `key`, or `undefined` when there is none. */
  head(key: string): Promise<{ size: number } | undefined>;

  /** Removes the value under `key`. Idempotent: removing a missing key succeeds. */
  delete(key: string): Promise<void>;

  /**
   * Removes every value whose key starts with `prefix`, which must end with `/` (`runs/default/p/12/`).
   * Resolves the number of values removed. Values written concurrently may or may not be removed.
   */
  deletePrefix(prefix: string): Promise<number>;

  /**
   * Checks the backend is reachable and usable, for startup diagnostics: the directory exists (it is
   * created if missing) and is writable; the S3 bucket exists and the credentials may access it.
   * Rejects with {@link ObjectStoreError} saying what is wrong and what to do.
   */
  ping(): Promise<void>;

  /** Where values are stored, for logs: `directory /var/lib/gofer/objects`, `s3://bucket at http://127.0.0.1:9000`. */
  describe(): string;

  /** Releases connections (the S3 client's sockets) at shutdown; the store cannot be used afterwards. */
  close(): Promise<void>;
}

/** Options of {@link ObjectStore.put}. */
export interface PutOptions {
  /**
   * Largest accepted body, in bytes. A longer body makes the put reject with {@link ObjectStoreError}
   * `too_large` as soon as the limit is crossed, storing nothing.
   * @default no limit
   */
  maxBytes?: number;
  /**
   * Cancels the put. If it aborts before the value is committed, the put rejects with `signal.reason` and
   * stores nothing. Once the commit is under way (the rename; S3's final request) the put completes.
   */
  signal?: AbortSignal;
}

/** Options of {@link ObjectStore.get}. */
export interface GetOptions {
  /** Cancels the request; once `body` is returned, aborting destroys it with an error. */
  signal?: AbortSignal;
}
