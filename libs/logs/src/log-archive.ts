import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * Where finished task logs are kept. The object store (S3 or a directory) implements this; until it
 * lands, {@link FsLogArchive} keeps them under a local directory.
 */
export interface LogArchive {
  /** Stores the log, replacing any earlier copy. Atomic: readers see the old or the new one, never half. */
  put(key: string, body: AsyncIterable<Uint8Array>): Promise<number>;
  /** The stored log, or undefined when none exists. */
  get(key: string): Promise<Readable | undefined>;
  delete(key: string): Promise<void>;
}

const SAFE_KEY = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;

/** A {@link LogArchive} on a local directory (single-machine use). */
export class FsLogArchive implements LogArchive {
  private readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
  }

  /** Accepts `fs:///abs/path` or `fs://relative/path`. */
  static fromUrl(url: string): FsLogArchive {
    return new FsLogArchive(url.replace(/^fs:\/\//, ''));
  }

  private path(key: string): string {
    if (!SAFE_KEY.test(key) || key.split('/').some((part) => part === '..' || part === '.')) {
      throw new Error(`invalid archive key "${key}"`);
    }
    return join(this.root, key);
  }

  async put(key: string, body: AsyncIterable<Uint8Array>): Promise<number> {
    const target = this.path(key);
    await mkdir(dirname(target), { recursive: true });
    const temporary = `${target}.${process.pid}.${Date.now()}.tmp`;
    let bytes = 0;
    try {
      await pipeline(
        async function* () {
          for await (const chunk of body) {
            bytes += chunk.length;
            yield chunk;
          }
        },
        createWriteStream(temporary),
      );
      await rename(temporary, target);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    return bytes;
  }

  async get(key: string): Promise<Readable | undefined> {
    const target = this.path(key);
    try {
      await stat(target);
    } catch {
      return undefined;
    }
    return createReadStream(target);
  }

  async delete(key: string): Promise<void> {
    await rm(this.path(key), { force: true });
  }
}
