import { describe, expect, it } from 'vitest';
import { decodeFrames, encodeFrame } from './log-frames.js';
import type { LogChunk } from './log-chunk.js';

async function* pieces(buffer: Buffer, size: number) {
  for (let i = 0; i < buffer.length; i += size) yield buffer.subarray(i, i + size);
}

async function decodeAll(buffer: Buffer, size: number): Promise<LogChunk[]> {
  const out: LogChunk[] = [];
  for await (const chunk of decodeFrames(pieces(buffer, size))) out.push({ stream: chunk.stream, data: Buffer.from(chunk.data) });
  return out;
}

describe('log frames', () => {
  const chunks: LogChunk[] = [
    { stream: 'stdout', data: Buffer.from('hello\n') },
    { stream: 'stderr', data: Buffer.from('oops\n') },
    { stream: 'system', data: Buffer.from('[gofer] truncated\n') },
    { stream: 'stdout', data: Buffer.alloc(70_000, 'x') },
    { stream: 'stdout', data: Buffer.alloc(0) },
  ];
  const encoded = Buffer.concat(chunks.map(encodeFrame));

  it.each([1, 3, 8, 9, 4096, encoded.length])('round-trips when read %i bytes at a time', async (size) => {
    expect(await decodeAll(encoded, size)).toEqual(chunks);
  });

  it('rejects bytes that are not frames', async () => {
    await expect(decodeAll(Buffer.from('plain text, not frames'), 5)).rejects.toThrow('bad frame header');
  });

  it('rejects a truncated frame', async () => {
    await expect(decodeAll(encoded.subarray(0, encoded.length - 3), 100)).rejects.toThrow('truncated frame');
  });
});
