import { describe, expect, it } from 'vitest';
import { decodeLogFrames, type NomadLogFrame } from './nomad-log-frames.js';

async function* reads(...chunks: Array<string | Buffer>): AsyncGenerator<Buffer> {
  for (const chunk of chunks) yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk, 'utf8');
}

async function decode(...chunks: Array<string | Buffer>): Promise<NomadLogFrame[]> {
  const out: NomadLogFrame[] = [];
  for await (const frame of decodeLogFrames(reads(...chunks))) out.push(frame);
  return out;
}

const b64 = (text: string) => Buffer.from(text, 'utf8').toString('base64');
const frame = (fields: Record<string, unknown>) => `${JSON.stringify(fields)}\n`;
const data = (text: string, offset: number, file = 'alloc/logs/main.stdout.0') => ({ kind: 'data', data: Buffer.from(text), offset, file });

describe('decodeLogFrames', () => {
  it('decodes several frames arriving in one read, skipping heartbeats', async () => {
    const stream = frame({ File: 'alloc/logs/main.stdout.0', Offset: 6, Data: b64('hello\n') }) + '{}\n' + frame({ File: 'alloc/logs/main.stdout.0', Offset: 12, Data: b64('world\n') }) + '{}';
    expect(await decode(stream)).toEqual([data('hello\n', 6), data('world\n', 12)]);
  });

  it('decodes a frame split at every possible byte boundary, and byte by byte', async () => {
    // A file name with a brace, a quote and a multi-byte character: structure must be read, not guessed.
    const file = 'alloc/logs/{x}"é".stdout.0';
    const stream = Buffer.from('{}\n' + frame({ File: file, Offset: 3, Data: b64('a}b') }) + frame({ File: file, Offset: 9, Data: b64('ünï') }));
    const expected = [data('a}b', 3, file), data('ünï', 9, file)];
    for (let cut = 0; cut <= stream.length; cut++) {
      expect(await decode(stream.subarray(0, cut), stream.subarray(cut))).toEqual(expected);
    }
    const bytes = [...stream].map((byte) => Buffer.from([byte]));
    expect(await decode(...bytes)).toEqual(expected);
  });

  it('decodes a large frame split over many reads', async () => {
    const text = 'x'.repeat(64 * 1024);
    const stream = Buffer.from(frame({ File: 'f', Offset: text.length, Data: b64(text) }));
    const chunks: Buffer[] = [];
    for (let i = 0; i < stream.length; i += 1000) chunks.push(stream.subarray(i, i + 1000));
    const [only, ...rest] = await decode(...chunks);
    expect(rest).toEqual([]);
    expect(only).toMatchObject({ kind: 'data', offset: text.length, file: 'f' });
    expect((only as { data: Buffer }).data.toString()).toBe(text);
  });

  it('surfaces truncation (before the data that follows it) and deletion as events', async () => {
    const stream =
      frame({ File: 'f', Offset: 10, Data: b64('0123456789') }) +
      frame({ File: 'f', FileEvent: 'file truncated', Offset: 3, Data: b64('new') }) +
      frame({ File: 'f', FileEvent: 'file deleted', Offset: 3 });
    expect(await decode(stream)).toEqual([
      data('0123456789', 10, 'f'),
      { kind: 'file-event', event: 'file truncated', offset: 0, file: 'f' },
      data('new', 3, 'f'),
      { kind: 'file-event', event: 'file deleted', offset: 3, file: 'f' },
    ]);
  });

  it('rejects what is not a frame stream, and a stream cut in the middle of a frame', async () => {
    await expect(decode('hello')).rejects.toThrow(/not a JSON frame stream/);
    await expect(decode('{"Data":"aGk=", "Off')).rejects.toThrow(/middle of a frame/);
  });
});
