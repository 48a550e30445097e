import { describe, expect, it } from 'vitest';
import { GroupCommit } from '@gofer/dal';

/** Pure batching logic: the batch function is a stand-in that records what it was given. */
describe('GroupCommit', () => {
  const deferred = () => {
    let resolve!: () => void;
    const promise = new Promise<void>((r) => (resolve = r));
    return { promise, resolve };
  };

  it('sends at once when idle, and batches what arrives while batches are in flight', async () => {
    const batches: number[][] = [];
    const gate = deferred();
    const group = new GroupCommit(async (items: readonly number[]) => {
      batches.push([...items]);
      await gate.promise;
      return items.map((n) => n * 10);
    }, { maxBatch: 3, maxInFlight: 2 });
    const results = Promise.all([1, 2, 3, 4, 5, 6].map((n) => group.submit(n)));
    gate.resolve();
    expect(await results).toEqual([10, 20, 30, 40, 50, 60]);
    expect(batches).toEqual([[1], [2], [3, 4, 5], [6]]);
  });

  it('retries a failed batch one item at a time, so only the bad item fails', async () => {
    const batches: number[][] = [];
    const group = new GroupCommit(async (items: readonly number[]) => {
      batches.push([...items]);
      if (items.includes(4)) throw new Error(`bad item in ${items.join(',')}`);
      return items.map((n) => n * 10);
    }, { maxBatch: 10, maxInFlight: 1 });
    const results = await Promise.allSettled([1, 3, 4, 5].map((n) => group.submit(n)));
    expect(results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message))).toEqual([10, 30, 'bad item in 4', 50]);
    expect(batches).toEqual([[1], [3, 4, 5], [3], [4], [5]]);
  });

  it('never has two batches in flight that share a key; an item with a busy key waits for the next batch', async () => {
    const batches: string[][] = [];
    const gates = new Map<string, () => void>();
    const group = new GroupCommit(async (items: readonly string[]) => {
      batches.push([...items]);
      await new Promise<void>((resolve) => gates.set(items.join(), resolve));
      return [...items];
    }, { maxBatch: 10, maxInFlight: 2, keysOf: (item) => [item.split('.')[0]!] });
    const results = Promise.all(['r1.a', 'r1.b', 'r2.a', 'r1.c', 'r3.a'].map((item) => group.submit(item)));
    // r1.a goes at once; r1.b must wait for it, so the second batch is r2.a alone (it was next).
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches).toEqual([['r1.a'], ['r2.a']]);
    gates.get('r1.a')!();
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches.at(-1)).toEqual(['r1.b', 'r1.c', 'r3.a']); // r2 is still busy, r1 no longer
    gates.get('r2.a')!();
    gates.get('r1.b,r1.c,r3.a')!();
    expect(await results).toEqual(['r1.a', 'r1.b', 'r2.a', 'r1.c', 'r3.a']);
  });

  it('fails the items of a batch that gives too few results, instead of answering them with nothing', async () => {
    const group = new GroupCommit(async (items: readonly number[]) => (items.length > 1 ? [1] : [items[0]! * 10]), { maxBatch: 10, maxInFlight: 1 });
    // The first goes alone; the next three share a batch that answers one of them, so each is retried alone.
    expect(await Promise.all([1, 2, 3, 4].map((n) => group.submit(n)))).toEqual([10, 20, 30, 40]);
    const broken = new GroupCommit(async () => [] as number[], { maxBatch: 10, maxInFlight: 1 });
    await expect(broken.submit(1)).rejects.toThrow('a batch of 1 gave 0 results');
  });

  it('turns a batch function that throws synchronously into a failed item', async () => {
    const group = new GroupCommit((() => {
      throw new Error('sync');
    }) as unknown as (items: readonly number[]) => Promise<number[]>, { maxBatch: 10, maxInFlight: 1 });
    expect((await Promise.allSettled([1, 2, 3].map((n) => group.submit(n)))).map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
  });
});
