import { EventEmitter } from 'node:events';
import { Metadata } from '@grpc/grpc-js';
import { unauthenticated } from '@gofer/errors';
import { Observable, of, Subject, throwError } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { holdingSlot, pacedStream, whileAuthorized } from './grpc-stream.js';

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

describe('whileAuthorized', () => {
  function metadataWith(token: string): Metadata {
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${token}`);
    return metadata;
  }

  it('re-checks the bearer token while the stream is open and ends it with the refusal', async () => {
    const checked: Array<string | undefined> = [];
    let valid = true;
    const tokens = {
      authenticate: async (secret: string | undefined) => {
        checked.push(secret);
        if (!valid) throw unauthenticated('API token tok_1 is disabled');
      },
    };
    let tornDown = false;
    const source = new Observable<number>((subscriber) => {
      subscriber.next(1);
      return () => (tornDown = true);
    });
    const received: number[] = [];
    const ended = new Promise<unknown>((resolve) => {
      whileAuthorized(source, tokens, metadataWith('gofer_secret'), 10).subscribe({ next: (v) => received.push(v), error: resolve });
    });
    await new Promise((resolve) => setTimeout(resolve, 35));
    expect(checked.length).toBeGreaterThanOrEqual(2);
    expect(new Set(checked)).toEqual(new Set(['gofer_secret']));
    valid = false;
    expect(await ended).toMatchObject({ code: 'unauthenticated', message: 'API token tok_1 is disabled' });
    expect(received).toEqual([1]);
    expect(tornDown).toBe(true);
  });

  it('keeps the stream when a check fails for another reason (database away), and stops checking once it ends', async () => {
    let calls = 0;
    const tokens = {
      authenticate: async () => {
        calls++;
        throw new Error('connection refused');
      },
    };
    const subject = new Subject<number>();
    let errored = false;
    const subscription = whileAuthorized(subject, tokens, metadataWith('gofer_x'), 10).subscribe({ error: () => (errored = true) });
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(errored).toBe(false);
    expect(calls).toBeGreaterThanOrEqual(2);
    subject.complete();
    expect(subscription.closed).toBe(true);
    const after = calls;
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(calls).toBe(after);
  });
});

describe('holdingSlot', () => {
  it('takes the slot on subscription and gives it back on complete, error and unsubscribe', () => {
    let held = 0;
    const take = () => {
      held++;
      return () => held--;
    };
    const completing = holdingSlot(take, of(1));
    expect(held).toBe(0); // nothing taken before subscription
    completing.subscribe();
    expect(held).toBe(0);

    holdingSlot(take, throwError(() => new Error('boom'))).subscribe({ error: () => undefined });
    expect(held).toBe(0);

    const open = holdingSlot(take, new Subject<number>()).subscribe();
    expect(held).toBe(1);
    open.unsubscribe();
    expect(held).toBe(0);
  });

  it('ends the stream with the refusal when no slot is free', () => {
    const refusal = new Error('no slot');
    let error: unknown;
    let subscribed = false;
    const source = new Observable<number>(() => void (subscribed = true));
    holdingSlot(() => { throw refusal; }, source).subscribe({ error: (e) => (error = e) });
    expect(error).toBe(refusal);
    expect(subscribed).toBe(false);
  });
});
