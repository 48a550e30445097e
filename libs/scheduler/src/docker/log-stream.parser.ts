import type { LogChunk } from '../scheduler.js';

const HEADER_BYTES = 8;
const STREAM_TYPES: Record<number, LogChunk['stream'] | undefined> = { 0: 'stdout', 1: 'stdout', 2: 'stderr' };

/**
 * Splits Docker's multiplexed log stream (frames of an 8-byte header — stream type, 3 zero bytes, payload
 * length as uint32 BE — followed by the payload) into stdout/stderr chunks as the bytes arrive.
 *
 * Never holds more than one input chunk: a frame's payload is emitted piecewise as it arrives, and
 * consecutive pieces of the same stream within one input chunk are merged so a log of many short lines
 * does not turn into as many tiny chunks. Pulling from `source` only when the consumer asks keeps the
 * engine's backpressure intact. Output that is not multiplexed (a container with a TTY) is passed through
 * as stdout.
 */
export async function* demultiplexLogStream(source: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<LogChunk> {
  const header = Buffer.alloc(HEADER_BYTES);
  let headerFilled = 0;
  let remaining = 0; // payload bytes still to come for the current frame
  let current: LogChunk['stream'] = 'stdout';
  let raw = false;

  for await (const input of source) {
    const chunk = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    if (raw) {
      if (chunk.length > 0) yield { stream: 'stdout', data: chunk };
      continue;
    }
    const out: LogChunk[] = [];
    let pieces: Buffer[] = [];
    let piecesStream: LogChunk['stream'] = current;
    const flush = () => {
      if (pieces.length > 0) out.push({ stream: piecesStream, data: pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces) });
      pieces = [];
    };

    let offset = 0;
    while (offset < chunk.length) {
      if (remaining === 0) {
        const take = Math.min(HEADER_BYTES - headerFilled, chunk.length - offset);
        chunk.copy(header, headerFilled, offset, offset + take);
        headerFilled += take;
        offset += take;
        if (headerFilled < HEADER_BYTES) break;
        headerFilled = 0;
        const stream = STREAM_TYPES[header[0]!];
        if (stream === undefined || header[1] !== 0 || header[2] !== 0 || header[3] !== 0) {
          // Not a frame header: the stream is raw (TTY) output, so everything, header bytes included, is stdout.
          flush();
          raw = true;
          out.push({ stream: 'stdout', data: Buffer.concat([Buffer.from(header), chunk.subarray(offset)]) });
          offset = chunk.length;
          break;
        }
        remaining = header.readUInt32BE(4);
        current = stream;
        continue;
      }
      const take = Math.min(remaining, chunk.length - offset);
      if (current !== piecesStream) {
        flush();
        piecesStream = current;
      }
      pieces.push(chunk.subarray(offset, offset + take));
      offset += take;
      remaining -= take;
    }
    flush();
    yield* out;
  }
}
