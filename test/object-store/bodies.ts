// Bodies and readers shared by the object store tests.
import type { Readable } from 'node:stream';

export const MIB = 1024 * 1024;

/** A body yielding `parts` as chunks (strings as UTF-8). */
export async function* bodyOf(...parts: Array<string | Uint8Array>): AsyncGenerator<Uint8Array> {
  for (const part of parts) yield typeof part === 'string' ? Buffer.from(part) : part;
}

/** `total` bytes of `fill`, in chunks of `chunkSize`. */
export async function* filled(total: number, fill = 0x61, chunkSize = MIB): AsyncGenerator<Uint8Array> {
  for (let sent = 0; sent < total; sent += chunkSize) yield Buffer.alloc(Math.min(chunkSize, total - sent), fill);
}

/** Yields `before` bytes, then throws `error`: a client that disconnects mid-upload. */
export async function* failingAfter(before: number, error: Error): AsyncGenerator<Uint8Array> {
  yield* filled(before);
  throw error;
}

/**
 * A body that yields `before` bytes and then waits forever, with `reached` resolving once all of them
 * were taken: the point where a test aborts. `returned` resolves if the store closes the body.
 */
export function stalling(before: number): {
  body: AsyncIterable<Uint8Array>;
  reached: Promise<void>;
  returned: Promise<void>;
} {
  let reach!: () => void;
  let markReturned!: () => void;
  const reached = new Promise<void>((resolve) => (reach = resolve));
  const returned = new Promise<void>((resolve) => (markReturned = resolve));
  const chunks = [...chunked(before)];
  let index = 0;
  const iterator: AsyncIterator<Uint8Array> = {
    next: async () => {
      if (index < chunks.length) return { done: false, value: chunks[index++] };
      reach();
      return new Promise<IteratorResult<Uint8Array>>(() => undefined);
    },
    return: async () => {
      markReturned();
      return { done: true, value: undefined };
    },
  };
  return { body: { [Symbol.asyncIterator]: () => iterator }, reached, returned };
}

function* chunked(total: number, chunkSize = MIB): Generator<Uint8Array> {
  for (let sent = 0; sent < total; sent += chunkSize) yield Buffer.alloc(Math.min(chunkSize, total - sent), 0x62);
}

/** Reads a stream to the end. */
export async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
