import { ObjectStoreError } from './object-store.error.js';

/**
 * Re-yields a put's body while counting its bytes, enforcing `maxBytes` and the abort signal. Both
 * backends read the body only through this, so the limit and cancellation behave the same on each.
 *
 * `failure` remembers the first error raised while reading (the body's own, `too_large`, or the abort
 * reason): a backend that sees a secondary error while cleaning up (an S3 multipart abort failing) still
 * reports the one that explains why the put failed.
 */
export class MeteredBody implements AsyncIterable<Uint8Array> {
  /** Bytes yielded so far. */
  size = 0;
  /** The first error raised while reading, if any. */
  failure: unknown = undefined;

  private readonly maxBytes: number | undefined;
  private readonly signal: AbortSignal | undefined;

  constructor(
    private readonly source: AsyncIterable<Uint8Array>,
    private readonly key: string,
    options: { maxBytes?: number; signal?: AbortSignal } = {},
  ) {
    if (options.maxBytes !== undefined && !(Number.isSafeInteger(options.maxBytes) && options.maxBytes >= 0)) {
      throw new RangeError(`maxBytes must be a non-negative integer, got ${options.maxBytes}`);
    }
    this.maxBytes = options.maxBytes;
    this.signal = options.signal;
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array> {
    const iterator = this.source[Symbol.asyncIterator]();
    // Whether the source is finished (ended or threw); if not when we stop, it is closed below.
    let sourceDone = false;
    try {
      for (;;) {
        this.signal?.throwIfAborted();
        const next = await this.nextOrAbort(iterator, () => (sourceDone = true));
        if (next.done) return;
        const chunk = next.value;
        if (!(chunk instanceof Uint8Array)) {
          throw new TypeError(`an object store body must yield Uint8Array chunks, got ${typeof chunk}`);
        }
        this.size += chunk.byteLength;
        if (this.maxBytes !== undefined && this.size > this.maxBytes) {
          throw new ObjectStoreError(
            'too_large',
            `the value for "${this.key}" is larger than the limit of ${formatBytes(this.maxBytes)}; nothing was ` +
              'stored: store a smaller value or raise the limit',
          );
        }
        yield chunk;
      }
    } catch (error) {
      this.failure ??= error;
      throw error;
    } finally {
      if (!sourceDone) {
        // We stopped early (limit, abort, consumer gone): let the source release what it holds. Not
        // awaited: a source stuck in next() would otherwise hold the put forever.
        Promise.resolve()
          .then(() => iterator.return?.())
          .catch(() => undefined);
      }
    }
  }

  /** `iterator.next()`, but an abort wins even while the source is stalled. */
  private nextOrAbort(
    iterator: AsyncIterator<Uint8Array>,
    onSourceDone: () => void,
  ): Promise<IteratorResult<Uint8Array>> {
    const next = iterator.next().then(
      (result) => (result.done && onSourceDone(), result),
      (error: unknown) => (onSourceDone(), Promise.reject(error)),
    );
    const signal = this.signal;
    if (!signal) return next;
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
      next.then(
        (result) => (signal.removeEventListener('abort', onAbort), resolve(result)),
        (error: unknown) => (signal.removeEventListener('abort', onAbort), reject(error)),
      );
    });
  }
}

/** `10485760 bytes (10 MiB)`: exact for the log line, readable for the person. */
export function formatBytes(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = '';
  for (const next of units) {
    if (value < 1024) break;
    value /= 1024;
    unit = next;
  }
  const readable = unit === '' ? '' : ` (${Number.isInteger(value) ? value : value.toFixed(1)} ${unit})`;
  return `${bytes} bytes${readable}`;
}
