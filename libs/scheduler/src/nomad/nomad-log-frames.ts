import type { NomadStreamFrame } from './nomad.types.js';

/** A file event in a log stream: Nomad's own strings, plus any it may add later. */
export type NomadFileEvent = 'file truncated' | 'file deleted' | (string & {});

/** What {@link decodeLogFrames} yields. */
export type NomadLogFrame =
  /** Log bytes; `offset` is the offset in `file` just after `data`: resume from there. */
  | { kind: 'data'; data: Buffer; offset: number; file: string }
  /**
   * `offset` is where the file stands at the event. The log file was truncated (Nomad then streams it again from offset 0) or deleted (the stream
   * then ends). Log rotation shows up as data from a new `file` (`<task>.stdout.1`, …), not as an event.
   */
  | { kind: 'file-event'; event: NomadFileEvent; offset: number; file: string };

const OPEN = 0x7b; // {
const CLOSE = 0x7d; // }
const QUOTE = 0x22; // "
const BACKSLASH = 0x5c; // \

/**
 * Decodes Nomad's log stream (concatenated JSON {@link NomadStreamFrame} objects, each usually followed by
 * a newline) as bytes arrive, whatever the read boundaries: a frame split over several reads, several
 * frames in one read. Heartbeat frames (`{}`) are skipped. A frame carrying a `FileEvent` and data yields
 * the event first.
 *
 * Scans bytes, not characters: the structural bytes (`{`, `}`, `"`, `\`) are ASCII and never occur inside
 * a multi-byte UTF-8 sequence, so a read that splits a character is harmless. Holds at most one frame.
 */
export async function* decodeLogFrames(source: AsyncIterable<Uint8Array>): AsyncGenerator<NomadLogFrame> {
  let parts: Buffer[] = []; // bytes of the frame in progress, from earlier reads
  let depth = 0;
  let inString = false;
  let escaped = false;

  for await (const input of source) {
    const chunk = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    let start = depth > 0 ? 0 : -1; // where the frame in progress begins in this chunk
    for (let i = 0; i < chunk.length; i++) {
      const byte = chunk[i]!;
      if (inString) {
        if (escaped) escaped = false;
        else if (byte === BACKSLASH) escaped = true;
        else if (byte === QUOTE) inString = false;
        continue;
      }
      if (byte === QUOTE) {
        if (depth === 0) throw new Error(`Nomad log stream: unexpected '"' between frames`);
        inString = true;
      } else if (byte === OPEN) {
        if (depth === 0) start = i;
        depth++;
      } else if (byte === CLOSE) {
        if (depth === 0) throw new Error(`Nomad log stream: unexpected '}' between frames`);
        depth--;
        if (depth === 0) {
          const tail = chunk.subarray(start, i + 1);
          const text = (parts.length === 0 ? tail : Buffer.concat([...parts, tail])).toString('utf8');
          parts = [];
          start = -1;
          yield* frameToEvents(JSON.parse(text) as NomadStreamFrame);
        }
      } else if (depth === 0 && byte !== 0x0a && byte !== 0x0d && byte !== 0x20 && byte !== 0x09) {
        throw new Error(`Nomad log stream: unexpected byte 0x${byte.toString(16)} between frames (not a JSON frame stream)`);
      }
    }
    if (depth > 0) parts.push(chunk.subarray(start));
  }
  if (depth > 0) throw new Error('Nomad log stream ended in the middle of a frame');
}

function* frameToEvents(frame: NomadStreamFrame): Generator<NomadLogFrame> {
  const file = frame.File ?? '';
  const offset = frame.Offset ?? 0;
  const data = frame.Data ? Buffer.from(frame.Data, 'base64') : undefined;
  // The event happened before the frame's data: after a truncation the data starts the new file.
  if (frame.FileEvent) yield { kind: 'file-event', event: frame.FileEvent, offset: offset - (data?.length ?? 0), file };
  if (data && data.length > 0) yield { kind: 'data', data, offset, file };
}
