import { taskLiveLogKey, taskLogArchiveKey, type TaskAttemptKey } from '@gofer/queue';
import type { ChainableCommander, Redis } from 'ioredis';
import type { LogArchive } from './log-archive.js';
import type { LogChunk, PlacedChunk } from './log-chunk.js';
import { decodeFrames, encodeFrame } from './log-frames.js';

/** Which task attempt a log belongs to: the attempt's key (its live and archive keys are spelled there). */
export type LogKey = TaskAttemptKey;

const FLUSH_BYTES = 64 * 1024;
const FLUSH_MS = 50;
/** A log up to this size is archived from the writer's memory instead of being read back from Redis. */
const KEEP_BYTES = 256 * 1024;
/** Live streams outlive their task briefly so followers attached near the end can finish reading. */
const LIVE_TTL_SECONDS = 15 * 60;
const UNARCHIVED_TTL_SECONDS = 24 * 60 * 60;

/**
 * Task logs: while a task runs they live in a Redis stream (so any API replica can follow them live);
 * when it ends they are copied to the archive. Redis holds at most the log cap per running task.
 */
export class TaskLogs {
  constructor(
    private readonly redis: Redis,
    private readonly archive: LogArchive,
    private readonly prefix: string,
    private readonly capBytes: number,
  ) {}

  private liveKey(key: LogKey): string {
    return taskLiveLogKey(this.prefix, key);
  }

  /**
   * A writer for one attempt, starting from an empty stream: whatever an earlier owner of the attempt
   * wrote is dropped (with the writer's first batch), because a worker adopting a container re-reads
   * its whole output from the engine.
   */
  writer(key: LogKey): TaskLogWriter {
    return new TaskLogWriter(this.redis, this.liveKey(key), this.capBytes);
  }

  /**
   * Ends an attempt's log once its output is over: archives it, then writes the end marker (followers
   * stop there) with the live copy's expiry. A small log is archived from the writer's memory, so the
   * whole ending costs one Redis round trip. An archive failure is returned, not thrown: the live copy
   * then stays for a day and the reconciler archives it later.
   */
  async finish(key: LogKey, writer: TaskLogWriter): Promise<{ archived: boolean; error?: unknown }> {
    if (writer.bytes === 0) {
      await writer.close(LIVE_TTL_SECONDS); // nothing to keep: readers find an empty log
      return { archived: true };
    }
    const kept = writer.kept;
    if (kept) {
      const error = await this.archive.put(taskLogArchiveKey(key), framed(kept)).then(() => undefined, (e: unknown) => e ?? new Error('archive failed'));
      await writer.close(error ? UNARCHIVED_TTL_SECONDS : LIVE_TTL_SECONDS);
      return error ? { archived: false, error } : { archived: true };
    }
    await writer.close(UNARCHIVED_TTL_SECONDS);
    try {
      await this.archiveLive(key);
    } catch (error) {
      return { archived: false, error };
    }
    await this.expireLive(key, { archived: true });
    return { archived: true };
  }

  /** Copies the live log into the archive (after the writer closed), keeping each chunk's stream. */
  async archiveLive(key: LogKey): Promise<number> {
    const live = this.readLiveChunks(key, { follow: false });
    return this.archive.put(taskLogArchiveKey(key), framed(live));
  }

  /**
   * Gives the live copy an expiry: short once the archive is the source of truth, a day when archiving
   * failed (so an object-store outage cannot fill a `noeviction` Redis for good).
   */
  async expireLive(key: LogKey, options: { archived: boolean }): Promise<void> {
    await this.redis.expire(this.liveKey(key), options.archived ? LIVE_TTL_SECONDS : UNARCHIVED_TTL_SECONDS);
  }

  /** The archived log of a finished attempt, chunk by chunk with its stream; undefined if none exists. */
  async openArchived(key: LogKey, signal?: AbortSignal): Promise<AsyncIterable<LogChunk> | undefined> {
    const file = await this.archive.get(taskLogArchiveKey(key));
    if (!file) return undefined;
    signal?.addEventListener('abort', () => file.destroy(), { once: true });
    return decodeFrames(file);
  }

  /**
   * Reads the live stream from the start. With `follow`, blocks for new entries until the writer's
   * end marker (or the signal aborts, or `stillRunning` says the task is over and nothing more came).
   */
  async *readLiveChunks(
    key: LogKey,
    options: { follow: boolean; signal?: AbortSignal; stillRunning?: () => Promise<boolean> },
  ): AsyncGenerator<PlacedChunk> {
    const live = this.liveKey(key);
    let last = '0-0';
    // A blocking XREAD holds its connection, so followers get their own, closed as soon as they stop
    // (not when the XREAD times out): a follower's slot is given back then, and so is its connection.
    const reader = options.follow ? this.redis.duplicate() : this.redis;
    const close = () => reader.disconnect();
    if (reader !== this.redis) {
      reader.on('error', () => undefined); // surfaced by the failing XREAD
      options.signal?.addEventListener('abort', close, { once: true });
    }
    try {
      while (!options.signal?.aborted) {
        const reply = options.follow
          ? await reader.xreadBuffer('COUNT', 256, 'BLOCK', 1000, 'STREAMS', live, last)
          : await reader.xreadBuffer('COUNT', 256, 'STREAMS', live, last);
        const entries = reply?.[0]?.[1] ?? [];
        if (entries.length === 0) {
          if (!options.follow) return;
          if (options.stillRunning && !(await options.stillRunning())) return;
          continue;
        }
        for (const [id, fields] of entries) {
          last = id.toString();
          const entry = toEntry(fields);
          if (entry.eof) return;
          if (entry.chunk) yield entry.chunk;
        }
      }
    } finally {
      if (reader !== this.redis) {
        options.signal?.removeEventListener('abort', close);
        close();
      }
    }
  }
}

function toEntry(fields: Buffer[]): { eof: boolean; chunk?: PlacedChunk } {
  let stream: LogChunk['stream'] = 'stdout';
  let data: Buffer | undefined;
  let offset: number | undefined;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i].toString();
    if (name === 'eof') return { eof: true };
    if (name === 's') stream = fields[i + 1].toString() as LogChunk['stream'];
    if (name === 'o') offset = Number(fields[i + 1].toString());
    if (name === 'd') data = fields[i + 1];
  }
  return { eof: false, chunk: data ? { stream, data, offset } : undefined };
}

/**
 * Appends one attempt's output to its live stream, batching small writes, and enforcing the cap: past
 * it, one marker line is written and the rest dropped (the container's output is still drained).
 */
export class TaskLogWriter {
  private pending: LogChunk[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private failure: unknown;
  /** Whether the stream was cleared of an earlier owner's entries (done with the first batch). */
  private cleared = false;
  private keep: LogChunk[] | undefined = [];
  private keptBytes = 0;
  /** Bytes handed to a flush so far: the offset of the next batch's first byte. */
  private flushedBytes = 0;
  /** Entries this writer has in the stream; fewer there means the stream was lost (a FLUSHALL, a failover). */
  private entries = 0;
  bytes = 0;
  truncated = false;

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly capBytes: number,
  ) {}

  /** Everything written so far, while it is small enough to be kept in memory (see KEEP_BYTES). */
  get kept(): readonly LogChunk[] | undefined {
    return this.keep;
  }

  write(stream: LogChunk['stream'], data: Buffer): void {
    if (this.truncated) return;
    const room = this.capBytes - this.bytes;
    if (data.length > room) {
      if (room > 0) this.push(stream, data.subarray(0, room));
      this.truncated = true;
      this.push('system', Buffer.from(`\n[gofer] log truncated: output exceeded the ${this.capBytes}-byte cap\n`));
      return;
    }
    this.push(stream, data);
  }

  private push(stream: LogChunk['stream'], data: Buffer): void {
    this.bytes += data.length;
    this.pending.push({ stream, data });
    this.pendingBytes += data.length;
    if (this.keep) {
      this.keptBytes += data.length;
      if (this.keptBytes > KEEP_BYTES) this.keep = undefined;
      else this.keep.push({ stream, data });
    }
    if (this.pendingBytes >= FLUSH_BYTES) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  /** Sends what is pending (and `last`'s commands) in one MULTI, after any batch still in flight. */
  private flush(last?: (multi: ChainableCommander) => void): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    let offset = this.flushedBytes;
    this.flushedBytes += this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    if (batch.length === 0 && !last) return this.flushing;
    this.flushing = this.flushing.then(async () => {
      const multi = this.redis.multi();
      const clearing = !this.cleared;
      if (clearing) multi.del(this.key);
      this.cleared = true;
      // Each entry says where its bytes sit in the log, so a reader can tell a re-written stretch (an
      // adopting worker writes the container's whole output again) from new output.
      const merged = mergeAdjacent(batch);
      for (const chunk of merged) {
        multi.xadd(this.key, '*', 's', chunk.stream, 'o', String(offset), 'd', chunk.data);
        offset += chunk.data.length;
      }
      this.entries += merged.length;
      // While the whole log is in memory, a stream that lost entries can be written again (below).
      const check = this.keep !== undefined && merged.length > 0;
      if (check) multi.xlen(this.key);
      last?.(multi);
      const results = await multi.exec();
      const failed = results?.find(([error]) => error);
      if (failed) throw failed[0];
      const length = check ? Number(results?.[(clearing ? 1 : 0) + merged.length]?.[1] ?? this.entries) : this.entries;
      if (length < this.entries && this.keep) await this.rewrite(this.keep);
    }).catch((error) => {
      this.failure ??= error;
    });
    return this.flushing;
  }

  /**
   * Writes the whole log again from its start, after the stream lost entries nobody may have read yet
   * (Redis flushed or failed over): followers skip the bytes they had (entries carry their offsets) and
   * get the lost ones, as when an adopting worker writes a container's output again.
   */
  private async rewrite(kept: readonly LogChunk[]): Promise<void> {
    const multi = this.redis.multi();
    multi.del(this.key);
    let offset = 0;
    const merged = mergeAdjacent([...kept]);
    for (const chunk of merged) {
      multi.xadd(this.key, '*', 's', chunk.stream, 'o', String(offset), 'd', chunk.data);
      offset += chunk.data.length;
    }
    this.entries = merged.length;
    const results = await multi.exec();
    const failed = results?.find(([error]) => error);
    if (failed) throw failed[0];
  }

  /** Flushes, writes the end marker and the stream's expiry, and throws if any write to Redis failed. */
  async close(ttlSeconds: number): Promise<void> {
    await this.flush((multi) => {
      multi.xadd(this.key, '*', 'eof', '1');
      multi.expire(this.key, ttlSeconds);
    });
    if (this.failure) throw this.failure;
  }
}

async function* framed(chunks: Iterable<LogChunk> | AsyncIterable<LogChunk>): AsyncGenerator<Uint8Array> {
  for await (const chunk of chunks) yield encodeFrame(chunk);
}

function mergeAdjacent(chunks: LogChunk[]): LogChunk[] {
  const merged: LogChunk[] = [];
  for (const chunk of chunks) {
    const last = merged.at(-1);
    if (last && last.stream === chunk.stream) last.data = Buffer.concat([last.data, chunk.data]);
    else merged.push({ ...chunk });
  }
  return merged;
}
