import type { Readable } from 'node:stream';

/**
 * Where finished task logs are kept: the object store (S3 or a directory) under `logs/…` keys.
 */
export interface LogArchive {
  /** Stores the log, replacing any earlier copy. Atomic: readers see the old or the new one, never half. */
  put(key: string, body: AsyncIterable<Uint8Array>): Promise<number>;
  /** The stored log, or undefined when none exists. */
  get(key: string): Promise<Readable | undefined>;
  delete(key: string): Promise<void>;
}
