import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
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

/** Bodies up to this size are gathered and written with one call. */
const SMALL_BYTES = 256 * 1024;
const SAFE_KEY = /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;

/** A {@link LogArchive} on a local directory (single-machine use). */
export class FsLogArchive implements LogArchive {
  private readonly root: string;
  private sequence = 0;

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
    const temporary = `${target}.${process.pid}.${++this.sequence}.tmp`;
    let bytes = 0;
    try {
      // Most logs are small: one write call, not a stream's open/write/close round of the thread pool.
      const head: Uint8Array[] = [];
      const iterator = body[Symbol.asyncIterator]();
      let next = await iterator.next();
      for (; !next.done && bytes < SMALL_BYTES; next = await iterator.next()) {
        head.push(next.value);
        bytes += next.value.length;
      }
      if (next.done) {
        // Optimistic: the directory usually exists already (ENOENT says it does not).
        const data = Buffer.concat(head);
        await writeFile(temporary, data).catch(async (error: NodeJS.ErrnoException) => {
          if (error.code !== 'ENOENT') throw error;
          await mkdir(dirname(target), { recursive: true });
          await writeFile(temporary, data);
        });
      } else {
        await mkdir(dirname(target), { recursive: true });
        const first = next.value;
        await pipeline(
          async function* () {
            yield* head;
            yield first;
            bytes += first.length;
            for (let more = await iterator.next(); !more.done; more = await iterator.next()) {
              bytes += more.value.length;
              yield more.value;
            }
          },
          createWriteStream(temporary),
        );
      }
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
