import { describe, expect, it } from 'vitest';
import { KeyedQueue } from './keyed-queue.js';

/** A promise and the function that resolves it. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

describe('KeyedQueue', () => {
  it('runs the work of one key one at a time, in order, whatever the earlier work did', async () => {
    const queue = new KeyedQueue();
    const log: string[] = [];
    const gate = deferred();
    const first = queue.run('a', async () => {
      log.push('first start');
      await gate.promise;
      log.push('first end');
      throw new Error('first failed');
    });
    const second = queue.run('a', () => {
      log.push('second');
      return 2;
    });
    const other = queue.run('b', () => {
      log.push('other key');
      return 'b';
    });
    expect(await other).toBe('b');
    expect(log).toEqual(['first start', 'other key']);
    gate.resolve();
    await expect(first).rejects.toThrow('first failed');
    expect(await second).toBe(2);
    expect(log).toEqual(['first start', 'other key', 'first end', 'second']);
  });

  it('forgets keys with nothing left to run', async () => {
    const queue = new KeyedQueue();
    await Promise.all([queue.run('a', () => 1), queue.run('b', () => Promise.reject(new Error('x'))).catch(() => 0)]);
    for (let i = 0; i < 10 && queue.size > 0; i++) await Promise.resolve();
    expect(queue.size).toBe(0);
  });
});
