import { createHash, randomBytes } from 'node:crypto';
import type { Dirent } from 'node:fs';
import { type FileHandle, lstat, mkdir, open, readdir, rename, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { addAbortSignal, type Readable } from 'node:stream';
import { MeteredBody } from '../metered-body.js';
import { ObjectStoreError } from '../object-store.error.js';
import type { GetOptions, ObjectStore, PutOptions } from '../object-store.js';
import { assertStorageKey, assertStoragePrefix } from '../storage-key.js';

/**
 * Temporary files of puts in progress are named `~<random>.tmp`, in their target's directory (so the
 * rename stays on one filesystem). `~` is not a storage key character, so no key can name one: get, head
 * and deletePrefix never see them. The name does not repeat the target's, which may already be as long as
 * the filesystem allows.
 */
const TEMP_MARK = '~';
const TEMP_SUFFIX = '.tmp';

/**
 * Longest file name (one path segment) a filesystem takes, in bytes: 255 on ext4, XFS, Btrfs, APFS and
 * most others. Storage key segments may be longer (keys are limited only as a whole).
 */
const NAME_MAX = 255;
/**
 * Marks a file name that stands for a longer key segment: its first {@link LONG_KEPT} bytes, `+`, and the
 * SHA-256 of the whole segment. `+` is not a storage key character, so no segment short enough to be its
 * own name can equal such a name, and neither can a temporary file's.
 */
const LONG_MARK = '+';
const LONG_KEPT = 160;

/**
 * A temporary file untouched for this long belongs to a process that died mid-put (a live put rewrites
 * it as the body arrives); deletePrefix removes such leftovers.
 */
const STALE_TEMP_MS = 60 * 60 * 1000;

/**
 * An {@link ObjectStore} on a local directory, for single-machine use. A storage key maps to the file at
 * the same relative path (`logs/default/p/3/task.1.log`), so the directory stays readable with `ls`. A
 * key segment longer than a file name may be (255 bytes) becomes its first 160 bytes, `+` and its SHA-256
 * (see {@link fileNameOf}), so every valid storage key can be stored; shorter segments keep their name.
 *
 * Puts write a temporary file in the target's directory, fsync it, and rename it over the target: readers
 * see the old or the new file, never a partial one, and a crash leaves at most a temporary file behind.
 *
 * Limitation of a directory: a key cannot be both a value and a parent of other keys (`a/b` and `a/b/c`);
 * such a put is rejected with `backend_error`. Gofer's key layout never does this.
 */
export class FsObjectStore implements ObjectStore {
  /** Absolute path of the store's directory. */
  readonly directory: string;
  /** `directory` with a trailing separator: every value's path starts with it. */
  private readonly inside: string;

  /** @param directory where values are stored; relative paths resolve against the working directory. */
  constructor(directory: string) {
    this.directory = resolve(directory);
    this.inside = this.directory.endsWith(sep) ? this.directory : this.directory + sep;
  }

  async put(key: string, body: AsyncIterable<Uint8Array>, options: PutOptions = {}): Promise<{ size: number }> {
    const target = this.pathOf(key);
    options.signal?.throwIfAborted();
    const metered = new MeteredBody(body, key, options);
    const temporary = join(dirname(target), `${TEMP_MARK}${randomBytes(8).toString('hex')}${TEMP_SUFFIX}`);
    const handle = await this.createTemporary(key, temporary);
    let committed = false;
    try {
      for await (const chunk of metered) await writeAll(handle, chunk);
      // Flushed before the rename, so a crash right after cannot leave an empty or partial value in place.
      await handle.sync();
      await handle.close();
      options.signal?.throwIfAborted();
      await rename(temporary, target);
      committed = true;
      return { size: metered.size };
    } catch (error) {
      if (metered.failure !== undefined) throw metered.failure;
      if (options.signal?.aborted) throw options.signal.reason;
      if (code(error) === 'EISDIR') throw conflict(key, error);
      throw this.fsError(error, `store "${key}"`);
    } finally {
      if (!committed) {
        await handle.close().catch(() => undefined);
        await unlink(temporary).catch(() => undefined);
      }
    }
  }

  async get(key: string, options: GetOptions = {}): Promise<{ body: Readable; size: number } | undefined> {
    const path = this.pathOf(key);
    options.signal?.throwIfAborted();
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      if (isMissing(error) || code(error) === 'ENOTDIR') return undefined;
      throw this.fsError(error, `read "${key}"`);
    }
    try {
      const info = await handle.stat();
      // A key that names a directory (a parent of other keys) holds no value.
      if (!info.isFile()) {
        await handle.close();
        return undefined;
      }
      // Reads through the open descriptor: a concurrent put renames a new file into place without
      // disturbing this one.
      const body = handle.createReadStream();
      if (options.signal) addAbortSignal(options.signal, body);
      return { body, size: info.size };
    } catch (error) {
      await handle.close().catch(() => undefined);
      throw this.fsError(error, `read "${key}"`);
    }
  }

  async head(key: string): Promise<{ size: number } | undefined> {
    const path = this.pathOf(key);
    try {
      const info = await stat(path);
      return info.isFile() ? { size: info.size } : undefined;
    } catch (error) {
      // ENOTDIR: a parent of the key is a value, so the key holds none.
      if (isMissing(error) || code(error) === 'ENOTDIR') return undefined;
      throw this.fsError(error, `look up "${key}"`);
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    try {
      await unlink(path);
    } catch (error) {
      // Missing, or a directory (a parent of other keys, not a value): nothing to delete.
      if (isMissing(error) || code(error) === 'ENOTDIR') return;
      const info = await lstat(path).catch(() => undefined);
      if (info?.isDirectory()) return;
      throw this.fsError(error, `delete "${key}"`);
    }
    await this.pruneEmptyParents(dirname(path));
  }

  async deletePrefix(prefix: string): Promise<number> {
    assertStoragePrefix(prefix);
    const root = this.contained(prefix.slice(0, -1));
    try {
      const removed = await this.removeTree(root);
      await this.pruneEmptyParents(dirname(root));
      return removed;
    } catch (error) {
      throw this.fsError(error, `delete the values under "${prefix}"`);
    }
  }

  async ping(): Promise<void> {
    const probe = join(this.directory, `${TEMP_MARK}ping-${randomBytes(8).toString('hex')}${TEMP_SUFFIX}`);
    try {
      await mkdir(this.directory, { recursive: true });
      const handle = await open(probe, 'wx');
      await handle.close();
      await unlink(probe);
    } catch (error) {
      throw this.fsError(error, 'write a test file into the store directory');
    }
  }

  describe(): string {
    return `directory ${this.directory}`;
  }

  async close(): Promise<void> {
    // Nothing held open between calls.
  }

  /** The file of `key`, after checking the key and, in depth, that the path stays inside the directory. */
  private pathOf(key: string): string {
    assertStorageKey(key);
    return this.contained(key);
  }

  private contained(relative: string): string {
    const path = resolve(this.directory, ...relative.split('/').map(fileNameOf));
    if (!path.startsWith(this.inside)) {
      throw new ObjectStoreError('invalid_key', `storage key "${relative}" resolves outside ${this.directory}`);
    }
    return path;
  }

  /**
   * Creates the temporary file, and its directory when it is missing (values usually share one, like the
   * logs of a run, so the file is tried first); retries if a concurrent delete pruned the directory.
   */
  private async createTemporary(key: string, temporary: string) {
    for (let attempt = 1; ; attempt++) {
      try {
        if (attempt > 1) await mkdir(dirname(temporary), { recursive: true });
        return await open(temporary, 'wx', 0o644);
      } catch (error) {
        if (isMissing(error) && attempt < 6) continue;
        if (code(error) === 'ENOTDIR' || code(error) === 'EEXIST') {
          const root = await stat(this.directory).catch(() => undefined);
          if (root?.isDirectory()) throw conflict(key, error);
        }
        throw this.fsError(error, `store "${key}"`);
      }
    }
  }

  /** Removes the values under `dir` and the directories left empty; returns how many values it removed. */
  private async removeTree(dir: string): Promise<number> {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      // No such directory, or a value rather than a directory: nothing is under this prefix.
      if (isMissing(error) || code(error) === 'ENOTDIR') return 0;
      throw error;
    }
    let removed = 0;
    for (const entry of entries) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        removed += await this.removeTree(path);
      } else if (entry.name.includes(TEMP_MARK)) {
        // A put in progress keeps its file (it commits after this delete); a dead one's file goes.
        const info = await lstat(path).catch(() => undefined);
        if (info && Date.now() - info.mtimeMs > STALE_TEMP_MS) await unlink(path).catch(ignoreMissing);
      } else {
        // Symlinks are removed, never followed.
        await unlink(path).then(() => removed++, ignoreMissing);
      }
    }
    await rmdir(dir).catch(ignoreNotEmpty);
    return removed;
  }

  /** Removes now-empty directories from `dir` up to (not including) the store's directory. */
  private async pruneEmptyParents(dir: string): Promise<void> {
    for (let current = dir; current.startsWith(this.inside); current = dirname(current)) {
      try {
        await rmdir(current);
      } catch {
        return; // not empty (or already gone): its parents are not empty either
      }
    }
  }

  private fsError(error: unknown, action: string): ObjectStoreError {
    if (error instanceof ObjectStoreError) return error;
    const errno = code(error);
    const detail = error instanceof Error ? error.message : String(error);
    if (errno === 'EACCES' || errno === 'EPERM' || errno === 'EROFS') {
      return new ObjectStoreError(
        'denied',
        `cannot ${action} in ${this.directory}: ${detail}; give Gofer's user write access to the directory or ` +
          'set GOFER_OBJECT_STORE to a writable one',
        { cause: error },
      );
    }
    if (errno === 'ENAMETOOLONG') {
      return new ObjectStoreError(
        'backend_error',
        `cannot ${action} in ${this.directory}: a file name or path is longer than this filesystem allows; the ` +
          `store needs file names of up to ${NAME_MAX} bytes: put it on a filesystem that allows them, or use a ` +
          'shorter directory path',
        { cause: error },
      );
    }
    if (errno === 'ENOSPC' || errno === 'EDQUOT') {
      return new ObjectStoreError(
        'backend_error',
        `cannot ${action} in ${this.directory}: the disk is full (${detail}); free space or move the store`,
        { cause: error },
      );
    }
    if (errno === 'ENOTDIR' || errno === 'EEXIST') {
      return new ObjectStoreError(
        'backend_error',
        `cannot ${action}: a path inside ${this.directory} is a file where a directory is needed (${detail}); ` +
          'check GOFER_OBJECT_STORE points at a directory',
        { cause: error },
      );
    }
    return new ObjectStoreError('backend_error', `cannot ${action} in ${this.directory}: ${detail}`, { cause: error });
  }
}

/**
 * The file name of one storage key segment: the segment itself when it fits in {@link NAME_MAX} bytes
 * (every name stored before long segments were supported), else a shortened name marked with
 * {@link LONG_MARK}. Segments are ASCII, so characters are bytes.
 */
function fileNameOf(segment: string): string {
  if (segment.length <= NAME_MAX) return segment;
  return `${segment.slice(0, LONG_KEPT)}${LONG_MARK}${createHash('sha256').update(segment).digest('hex')}`;
}

async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  for (let offset = 0; offset < chunk.byteLength; ) {
    offset += (await handle.write(chunk, offset, chunk.byteLength - offset)).bytesWritten;
  }
}

function code(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

function isMissing(error: unknown): boolean {
  return code(error) === 'ENOENT';
}

/** A directory cannot hold a value at `a/b` and values under `a/b/`; S3 can, Gofer's key layout never needs it. */
function conflict(key: string, cause: unknown): ObjectStoreError {
  return new ObjectStoreError(
    'backend_error',
    `cannot store "${key}": a directory store cannot hold both a value and values under it (like "a/b" and ` +
      '"a/b/c"): use another key',
    { cause },
  );
}

function ignoreMissing(error: unknown): void {
  if (!isMissing(error)) throw error;
}

function ignoreNotEmpty(error: unknown): void {
  const errno = code(error);
  if (errno !== 'ENOTEMPTY' && errno !== 'EEXIST' && !isMissing(error)) throw error;
}
