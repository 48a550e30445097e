import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { pacedStream } from './grpc-stream.js';

/** A stand-in for a grpc-js call whose send buffer the test fills and drains. */
class FakeCall extends EventEmitter {
  writableNeedDrain = false;
}

describe('pacedStream', () => {
  it('stops pulling from the generator while the call needs a drain, and resumes after it', async () => {
    const call = new FakeCall();
    let pulled = 0;
    async function* produce() {
      for (let i = 0; i < 5; i++) {
        pulled++;
        yield i;
      }
    }
    const received: number[] = [];
    const done = new Promise<void>((resolve) => {
      pacedStream(call, produce).subscribe({
        next: (value) => {
          received.push(value);
          if (value === 1) call.writableNeedDrain = true; // the buffer fills after the second value
        },
        complete: () => resolve(),
      });
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(received).toEqual([0, 1]);
    expect(pulled).toBe(2); // nothing read ahead while the call is full
    call.writableNeedDrain = false;
    call.emit('drain');
    await done;
    expect(received).toEqual([0, 1, 2, 3, 4]);
  });

  it('aborts the generator when the client goes away', async () => {
    const call = new FakeCall();
    let aborted = false;
    async function* produce(signal: AbortSignal) {
      signal.addEventListener('abort', () => (aborted = true));
      yield 1;
      await new Promise(() => undefined); // a follow that would never end by itself
    }
    const subscription = pacedStream(call, produce).subscribe();
    await new Promise((resolve) => setTimeout(resolve, 10));
    subscription.unsubscribe();
    expect(aborted).toBe(true);
  });
});
