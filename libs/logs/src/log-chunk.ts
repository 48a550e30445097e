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
