import { describe, expect, it } from 'vitest';
import { formatBytes, MeteredBody } from './metered-body.js';

async function* chunks(...sizes: number[]): AsyncGenerator<Uint8Array> {
  for (const size of sizes) yield new Uint8Array(size);
}

async function drain(body: AsyncIterable<Uint8Array>): Promise<number> {
  let total = 0;
  for await (const chunk of body) total += chunk.byteLength;
  return total;
}

describe('MeteredBody', () => {
  it('counts the bytes it passes on', async () => {
    const body = new MeteredBody(chunks(3, 0, 4), 'k');
    expect(await drain(body)).toBe(7);
    expect(body).toMatchObject({ size: 7, failure: undefined });
  });

  it('accepts exactly maxBytes and rejects one more, before passing the chunk on', async () => {
    expect(await drain(new MeteredBody(chunks(2, 3), 'k', { maxBytes: 5 }))).toBe(5);
    const over = new MeteredBody(chunks(2, 3, 1), 'logs/x', { maxBytes: 5 });
    let passed = 0;
    await expect(
      (async () => {
        for await (const chunk of over) passed += chunk.byteLength;
      })(),
    ).rejects.toMatchObject({ kind: 'too_large', message: expect.stringContaining('"logs/x" is larger than the limit of 5 bytes') });
    expect(passed).toBe(5);
    expect(over.failure).toMatchObject({ kind: 'too_large' });
  });

  it('closes the source when it stops early', async () => {
    let closed = false;
    const source = (async function* () {
      try {
        for (;;) yield new Uint8Array(10);
      } finally {
        closed = true;
      }
    })();
    await expect(drain(new MeteredBody(source, 'k', { maxBytes: 25 }))).rejects.toMatchObject({ kind: 'too_large' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(closed).toBe(true);
  });

  it('remembers the source error', async () => {
    const failure = new Error('gone');
    const body = new MeteredBody(
      (async function* () {
        yield new Uint8Array(1);
        throw failure;
      })(),
      'k',
    );
    await expect(drain(body)).rejects.toBe(failure);
    expect(body.failure).toBe(failure);
  });

  it('rejects chunks that are not bytes', async () => {
    const body = new MeteredBody((async function* () { yield 'text' as unknown as Uint8Array; })(), 'k');
    await expect(drain(body)).rejects.toThrow('must yield Uint8Array chunks, got string');
  });

  it('an abort wins over a stalled source', async () => {
    const controller = new AbortController();
    const stalled: AsyncIterable<Uint8Array> = { [Symbol.asyncIterator]: () => ({ next: () => new Promise(() => undefined) }) };
    const draining = drain(new MeteredBody(stalled, 'k', { signal: controller.signal }));
    const reason = new Error('cancelled');
    controller.abort(reason);
    await expect(draining).rejects.toBe(reason);
  });

  it.each([-1, 1.5, Number.NaN])('rejects maxBytes %s', (maxBytes) => {
    expect(() => new MeteredBody(chunks(), 'k', { maxBytes })).toThrow(RangeError);
  });
});

describe('formatBytes', () => {
  it.each([
    [0, '0 bytes'],
    [1023, '1023 bytes'],
    [1024, '1024 bytes (1 KiB)'],
    [64 * 1024 * 1024, '67108864 bytes (64 MiB)'],
    [1536 * 1024, '1572864 bytes (1.5 MiB)'],
  ])('%d → %s', (bytes, text) => expect(formatBytes(bytes)).toBe(text));
});
