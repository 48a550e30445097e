import type { LogChunk } from './log-chunk.js';

/**
 * The archive format of a task log: frames of an 8-byte header (stream id, three zero bytes, payload
 * length as uint32 big-endian) followed by the payload — Docker's own log framing, so stdout and
 * stderr stay apart after a task ends.
 */
const HEADER_BYTES = 8;
const IDS: Record<LogChunk['stream'], number> = { stdout: 1, stderr: 2, system: 3 };
const STREAMS: Record<number, LogChunk['stream']> = { 1: 'stdout', 2: 'stderr', 3: 'system' };

export function encodeFrame(chunk: LogChunk): Buffer {
  const header = Buffer.alloc(HEADER_BYTES);
  header[0] = IDS[chunk.stream];
  header.writeUInt32BE(chunk.data.length, 4);
  return Buffer.concat([header, chunk.data]);
}

/** Decodes frames as bytes arrive, holding at most one partial frame. Throws on bytes that are not frames. */
export async function* decodeFrames(source: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<LogChunk> {
  let pending = Buffer.alloc(0);
  for await (const input of source) {
    pending = pending.length === 0 ? Buffer.from(input) : Buffer.concat([pending, input]);
    let offset = 0;
    while (pending.length - offset >= HEADER_BYTES) {
      const stream = STREAMS[pending[offset]];
      if (!stream || pending[offset + 1] || pending[offset + 2] || pending[offset + 3]) {
        throw new Error('archived log is corrupt: bad frame header');
      }
      const length = pending.readUInt32BE(offset + 4);
      if (pending.length - offset - HEADER_BYTES < length) break;
      yield { stream, data: pending.subarray(offset + HEADER_BYTES, offset + HEADER_BYTES + length) };
      offset += HEADER_BYTES + length;
    }
    pending = pending.subarray(offset);
  }
  if (pending.length > 0) throw new Error('archived log is corrupt: truncated frame');
}
