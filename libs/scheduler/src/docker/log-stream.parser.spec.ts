import { describe, expect, it } from 'vitest';
import type { LogChunk } from '../scheduler.js';
import { demultiplexLogStream } from './log-stream.parser.js';

function frame(type: number, payload: string | Buffer): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const header = Buffer.alloc(8);
  header[0] = type;
  header.writeUInt32BE(data.length, 4);
  return Buffer.concat([header, data]);
}

async function collect(chunks: Buffer[]): Promise<LogChunk[]> {
  async function* source() {
    yield* chunks;
  }
  const out: LogChunk[] = [];
  for await (const chunk of demultiplexLogStream(source())) out.push(chunk);
  return out;
}

/** Joins consecutive chunks of the same stream, so results compare independently of chunk boundaries. */
function joined(chunks: LogChunk[]): Array<{ stream: string; text: string }> {
  const out: Array<{ stream: string; text: string }> = [];
  for (const { stream, data } of chunks) {
    const last = out.at(-1);
    if (last?.stream === stream) last.text += data.toString();
    else out.push({ stream, text: data.toString() });
  }
  return out;
}

/** Splits `buffer` into pieces of `size` bytes (the last may be shorter). */
function split(buffer: Buffer, size: number): Buffer[] {
  const pieces: Buffer[] = [];
  for (let i = 0; i < buffer.length; i += size) pieces.push(buffer.subarray(i, i + size));
  return pieces;
}

const mixed = Buffer.concat([frame(1, 'out 1\n'), frame(2, 'err 1\n'), frame(1, 'out 2\n'), frame(1, 'out 3\n'), frame(2, 'err 2\n')]);
const expected = [
  { stream: 'stdout', text: 'out 1\n' },
  { stream: 'stderr', text: 'err 1\n' },
  { stream: 'stdout', text: 'out 2\nout 3\n' },
  { stream: 'stderr', text: 'err 2\n' },
];

describe('demultiplexLogStream', () => {
  const cases: Array<{ name: string; chunks: Buffer[] }> = [
    { name: 'one chunk', chunks: [mixed] },
    { name: 'one byte at a time', chunks: split(mixed, 1) },
    { name: 'header split across chunks', chunks: split(mixed, 3) },
    { name: 'payload split across chunks', chunks: split(mixed, 11) },
    { name: 'with empty chunks', chunks: [Buffer.alloc(0), ...split(mixed, 7), Buffer.alloc(0)] },
  ];
  it.each(cases)('splits stdout and stderr: $name', async ({ chunks }) => {
    expect(joined(await collect(chunks))).toEqual(expected);
  });

  it('merges consecutive same-stream frames within one input chunk', async () => {
    const lines = Buffer.concat(Array.from({ length: 1000 }, (_, i) => frame(1, `line ${i}\n`)));
    const out = await collect([lines]);
    expect(out).toHaveLength(1);
    expect(out[0]!.data.toString()).toBe(Array.from({ length: 1000 }, (_, i) => `line ${i}\n`).join(''));
  });

  it('emits a large frame piecewise instead of buffering it', async () => {
    const payload = Buffer.alloc(1024 * 1024, 'x');
    const out = await collect(split(frame(2, payload), 64 * 1024));
    expect(out.length).toBeGreaterThan(1);
    expect(Math.max(...out.map((c) => c.data.length))).toBeLessThanOrEqual(64 * 1024);
    expect(Buffer.concat(out.map((c) => c.data)).equals(payload)).toBe(true);
    expect(new Set(out.map((c) => c.stream))).toEqual(new Set(['stderr']));
  });

  it('treats stdin frames (type 0) as stdout and skips empty frames', async () => {
    expect(joined(await collect([frame(0, 'a'), frame(2, ''), frame(1, 'b')]))).toEqual([{ stream: 'stdout', text: 'ab' }]);
  });

  it('passes output that is not multiplexed (TTY) through as stdout', async () => {
    const text = 'hello from a tty\nsecond line\n';
    expect(joined(await collect(split(Buffer.from(text), 5)))).toEqual([{ stream: 'stdout', text }]);
  });

  it('pulls input only as the consumer asks (backpressure)', async () => {
    let pulled = 0;
    async function* source() {
      for (let i = 0; i < 100; i++) {
        pulled++;
        yield frame(1, `chunk ${i}\n`);
      }
    }
    const iterator = demultiplexLogStream(source());
    await iterator.next();
    await iterator.next();
    expect(pulled).toBe(2);
    await iterator.return(undefined);
  });
});
