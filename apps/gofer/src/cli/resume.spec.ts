import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { resuming } from './resume.js';

const unavailable = () => Object.assign(new Error('14 UNAVAILABLE: this API replica is shutting down'), { code: status.UNAVAILABLE });

/** A log of `total` numbered items served by replicas that each fail after `perReplica` items. */
function flakyServer(total: number, perReplica: number, failure = unavailable) {
  const opened: number[] = [];
  return {
    opened,
    open(from: number): AsyncIterable<number> {
      opened.push(from);
      return (async function* () {
        for (let i = from, sent = 0; i < total; i++, sent++) {
          if (sent === perReplica) throw failure();
          yield i;
        }
      })();
    },
  };
}

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of source) items.push(item);
  return items;
}

describe('resuming', () => {
  it('reopens after UNAVAILABLE from where the caller got to: nothing missed, nothing twice', async () => {
    const server = flakyServer(10, 3);
    let next = 0;
    const reasons: string[] = [];
    const items: number[] = [];
    for await (const item of resuming(() => server.open(next), { firstDelayMs: 1, onReconnect: (r) => reasons.push(r) })) {
      items.push(item);
      next = item + 1;
    }
    expect(items).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(server.opened).toEqual([0, 3, 6, 9]);
    expect(reasons).toHaveLength(3);
    expect(reasons[0]).toMatch(/shutting down/);
  });

  it('passes any other error through at once', async () => {
    const server = flakyServer(10, 2, () => Object.assign(new Error('7 PERMISSION_DENIED'), { code: status.PERMISSION_DENIED }));
    await expect(collect(resuming(() => server.open(0), { firstDelayMs: 1 }))).rejects.toThrow(/PERMISSION_DENIED/);
    expect(server.opened).toEqual([0]);
  });

  it('gives up when the stream stays broken for the whole budget', async () => {
    let opens = 0;
    const open = () => ({
      async *[Symbol.asyncIterator]() {
        opens++;
        throw unavailable();
      },
    });
    await expect(collect(resuming<number>(open, { firstDelayMs: 1, giveUpAfterMs: 30 }))).rejects.toThrow(/UNAVAILABLE/);
    expect(opens).toBeGreaterThan(1);
  });
});
