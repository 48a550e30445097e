// Streaming object content between the API and files or stdin/stdout. Nothing here holds more than a
// chunk or two in memory: uploads read the source as the connection takes it, downloads write each
// chunk before asking for the next. Both check the content's size and SHA-256 end to end.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { isServiceError, type ObjectInfo, type UploadBody } from '@gofer/proto';
import type { CliIo, Output } from './context.js';
import { CliError, UsageError } from './errors.js';
import { transferLine } from './plain-view.js';

/** `-`, or no FILE at all, means stdin (uploads) or stdout (downloads). */
export function isStdio(file: string | undefined): boolean {
  return file === undefined || file === '-';
}

/** What an upload sent, as measured while sending. */
export interface SentContent {
  bytes: number;
  sha256: string;
}

/**
 * Uploads FILE (or stdin) through `put`, which streams the body to the API, and checks that the
 * object the server stored has exactly the bytes that were read.
 */
export async function uploadFrom<R extends { object: ObjectInfo | null }>(
  io: CliIo,
  key: string,
  file: string | undefined,
  put: (body: UploadBody) => Promise<R>,
): Promise<R & { object: ObjectInfo }> {
  let source: NodeJS.ReadableStream;
  let total: number | undefined;
  if (isStdio(file)) {
    // Without FILE, reading a terminal is almost surely a forgotten argument; `-` asks for it explicitly.
    if (file === undefined && (io.stdin as { isTTY?: boolean }).isTTY) {
      throw new UsageError('pass a FILE to upload, or pipe the content in (use - to type it on the terminal)');
    }
    source = io.stdin;
  } else {
    total = await sizeOf(file!);
    source = createReadStream(file!);
  }
  const hash = createHash('sha256');
  let bytes = 0;
  const progress = new TransferProgress(io.stderr, 'uploading', key, total);
  async function* counted(): AsyncGenerator<Uint8Array> {
    for await (const piece of source) {
      const chunk = typeof piece === 'string' ? Buffer.from(piece) : piece;
      hash.update(chunk);
      bytes += chunk.length;
      progress.update(bytes);
      yield chunk;
    }
  }
  let response: R;
  try {
    response = await put(counted());
  } catch (err) {
    throw localError(err, `cannot read ${file ?? 'stdin'}`);
  } finally {
    progress.finish();
  }
  const sent: SentContent = { bytes, sha256: hash.digest('hex') };
  const stored = response.object;
  if (!stored) throw new CliError(`Gofer stored ${key} but returned no object info; check it with the list command`);
  if (stored.size !== sent.bytes || stored.sha256 !== sent.sha256) {
    throw new CliError(
      `${key} was corrupted on the way: sent ${sent.bytes} bytes (sha256 ${sent.sha256}), Gofer stored ${stored.size} bytes (sha256 ${stored.sha256}); upload it again`,
    );
  }
  return response as R & { object: ObjectInfo };
}

/** A message of an object download: the object's info first, then chunks. */
export interface DownloadPart {
  info?: ObjectInfo | null;
  chunk?: Uint8Array | null;
}

/**
 * Writes a downloaded object to FILE (or stdout), checking its size and SHA-256 against the info the
 * server sent first. A file is written under a temporary name and renamed when complete, so a failed
 * download never leaves a truncated file behind; FILE may be a directory (the key is the file name).
 * Returns the object's info and where it went.
 */
export async function downloadTo(
  io: CliIo,
  key: string,
  file: string | undefined,
  parts: AsyncIterable<DownloadPart>,
): Promise<{ info: ObjectInfo; path: string | undefined }> {
  let info: ObjectInfo | undefined;
  let bytes = 0;
  const hash = createHash('sha256');
  let progress: TransferProgress | undefined;
  // Pulled by the writer (pipeline() or write()), so the next chunk is asked for only once the last one was taken.
  const content = async function* () {
    for await (const part of parts) {
      if (part.info) {
        info = part.info;
        progress = new TransferProgress(io.stderr, 'downloading', key, info.size);
        continue;
      }
      if (!part.chunk || part.chunk.length === 0) continue;
      if (!info) throw new CliError(`Gofer sent ${key}'s content before its info; upgrade the service or the CLI`);
      hash.update(part.chunk);
      bytes += part.chunk.length;
      progress?.update(bytes);
      yield part.chunk;
    }
  };
  const check = (): ObjectInfo => {
    if (!info) throw new CliError(`Gofer sent no info for ${key}; upgrade the service or the CLI`);
    const sha256 = hash.digest('hex');
    if (bytes !== info.size || sha256 !== info.sha256) {
      throw new CliError(
        `${key} was corrupted on the way: expected ${info.size} bytes (sha256 ${info.sha256}), received ${bytes} bytes (sha256 ${sha256}); download it again`,
      );
    }
    return info;
  };

  try {
    if (isStdio(file)) {
      // Not pipeline(): it would end or destroy stdout, which belongs to the process.
      for await (const chunk of content()) await write(io.stdout, chunk);
      return { info: check(), path: undefined };
    }
    const path = await targetPath(file!, key);
    const partial = join(dirname(path), `.${basename(path)}.gofer-partial-${process.pid}`);
    try {
      await pipeline(content, createWriteStream(partial, { flags: 'w' }));
      const checked = check();
      await rename(partial, path);
      return { info: checked, path };
    } catch (err) {
      await rm(partial, { force: true });
      throw localError(err, `cannot write ${path}`);
    }
  } finally {
    progress?.finish();
  }
}

/** Writes a chunk, waiting while the reader is slow; fails if the stream fails meanwhile. */
async function write(out: Output, chunk: Uint8Array): Promise<void> {
  if (out.write(chunk)) return;
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error) => {
      out.off('drain', done);
      out.off('error', done);
      if (err) reject(err);
      else resolve();
    };
    out.once('drain', done);
    out.once('error', done);
  });
}

/** FILE itself, or FILE/KEY when FILE is a directory. */
async function targetPath(file: string, key: string): Promise<string> {
  const existing = await stat(file).catch(() => undefined);
  return existing?.isDirectory() ? join(file, key) : file;
}

async function sizeOf(file: string): Promise<number | undefined> {
  try {
    const info = await stat(file);
    if (info.isDirectory()) throw new CliError(`cannot read ${file}: it is a directory`);
    // Pipes and devices (e.g. /dev/stdin) report 0: their size is not known in advance.
    return info.isFile() ? info.size : undefined;
  } catch (err) {
    throw localError(err, `cannot read ${file}`);
  }
}

/** API errors and our own pass through; a file system error becomes one line that names the file. */
function localError(err: unknown, what: string): unknown {
  if (isServiceError(err) || err instanceof CliError || err instanceof UsageError) return err;
  const code = (err as NodeJS.ErrnoException)?.code;
  if (typeof code !== 'string') return err;
  const why =
    code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : code === 'ENOSPC' ? 'no space left on the device' : (err as Error).message;
  return new CliError(`${what}: ${why}`);
}

/** How long a transfer runs before a progress line appears: short ones stay silent. */
const PROGRESS_AFTER_MS = 1000;
const PROGRESS_EVERY_MS = 200;

/** A progress line on a terminal's stderr for long transfers, redrawn in place and cleared at the end. */
export class TransferProgress {
  private readonly started = Date.now();
  private lastDraw = 0;
  private drawn = false;

  constructor(
    private readonly out: Output,
    private readonly verb: string,
    private readonly key: string,
    private readonly total: number | undefined,
  ) {}

  update(done: number): void {
    if (!this.out.isTTY) return;
    const now = Date.now();
    if (now - this.started < PROGRESS_AFTER_MS || now - this.lastDraw < PROGRESS_EVERY_MS) return;
    this.lastDraw = now;
    const line = transferLine(this.verb, this.key, done, this.total, now - this.started);
    const columns = this.out.columns || 80;
    this.out.write(`\r\x1b[2K${line.length > columns - 1 ? line.slice(0, columns - 1) : line}`);
    this.drawn = true;
  }

  finish(): void {
    if (this.drawn) this.out.write('\r\x1b[2K');
    this.drawn = false;
  }
}
