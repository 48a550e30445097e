/** A piece of a task's output and the stream it came from (`system`: Gofer's own notes, e.g. truncation). */
export interface LogChunk {
  stream: 'stdout' | 'stderr' | 'system';
  data: Buffer;
}

/** A chunk that may know where its first byte sits in its attempt's log (live entries do). */
export interface PlacedChunk extends LogChunk {
  offset?: number;
}

/** A chunk at its place in the attempt's log. */
export interface PositionedChunk extends LogChunk {
  offset: number;
}

/**
 * The log from byte `from` on, each chunk with its offset, and no byte twice: a chunk that says where it
 * sits (live entries) is placed there, one that does not (archived frames) follows the one before. What
 * lies before `from`, or was already yielded, is skipped: a resumed read starts where the last one
 * stopped, and a stretch of the live stream written again by an adopting worker is not repeated.
 */
export async function* fromOffset(chunks: AsyncIterable<PlacedChunk>, from: number): AsyncGenerator<PositionedChunk> {
  let next = 0; // where a chunk without an offset starts
  let delivered = from; // every byte before this was yielded, or was not asked for
  for await (const chunk of chunks) {
    const start = chunk.offset ?? next;
    const end = start + chunk.data.length;
    next = end;
    if (end <= delivered) continue;
    const skip = Math.max(0, delivered - start);
    yield { stream: chunk.stream, data: skip ? chunk.data.subarray(skip) : chunk.data, offset: start + skip };
    delivered = end;
  }
}

/** The log up to byte `end` (not included): a stretch asked for with a `limit`. */
export async function* upTo(chunks: AsyncIterable<PositionedChunk>, end: number): AsyncGenerator<PositionedChunk> {
  for await (const chunk of chunks) {
    if (chunk.offset >= end) return;
    const room = end - chunk.offset;
    yield room < chunk.data.length ? { ...chunk, data: chunk.data.subarray(0, room) } : chunk;
    if (room <= chunk.data.length) return;
  }
}

/**
 * The last `bytes` of a log read to its end, and where it ends: what a tail-first reader is sent first.
 * Holds about `bytes` plus one chunk of data in memory, whatever the log's length.
 */
export async function lastBytes(chunks: AsyncIterable<PositionedChunk>, bytes: number): Promise<{ chunks: PositionedChunk[]; end: number }> {
  let kept: Array<PositionedChunk | undefined> = [];
  let head = 0; // kept[head…] is the window; dropped slots are emptied at once and compacted now and then
  let keptBytes = 0;
  let end = 0;
  for await (const chunk of chunks) {
    kept.push(chunk);
    keptBytes += chunk.data.length;
    end = chunk.offset + chunk.data.length;
    while (keptBytes - kept[head]!.data.length >= bytes) {
      keptBytes -= kept[head]!.data.length;
      kept[head++] = undefined; // its buffer can go now, not at the next compaction
    }
    if (head > 1024 && head * 2 > kept.length) {
      kept = kept.slice(head);
      head = 0;
    }
  }
  const window = kept.slice(head) as PositionedChunk[];
  const extra = keptBytes - bytes;
  if (extra > 0) {
    const first = window[0]!;
    window[0] = { ...first, data: first.data.subarray(extra), offset: first.offset + extra };
  }
  return { chunks: window, end };
}
