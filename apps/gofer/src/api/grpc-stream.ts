import { once } from 'node:events';
import type { Metadata } from '@grpc/grpc-js';
import { GoferError } from '@gofer/errors';
import { defer, finalize, Observable } from 'rxjs';
import type { ReleaseSlot } from './follow-slots.js';
import { bearer } from './authorization.guard.js';
import { replicaShuttingDown } from './shutdown.js';

/** The part of a grpc-js server call that pacing needs. */
export interface PacedCall {
  readonly writableNeedDrain: boolean;
  once(event: 'drain', listener: () => void): unknown;
  removeListener(event: 'drain', listener: () => void): unknown;
}

/**
 * A server stream from an async generator. It pulls the next value only while the call's send buffer
 * has room: Nest buffers, without limit, whatever arrives while grpc-js says "full", so pacing here is
 * what keeps a slow reader (`gofer taskrun logs … | less`) from piling a whole log up in memory.
 * The client cancelling the call aborts the generator.
 */
export function pacedStream<T>(call: PacedCall, produce: (signal: AbortSignal) => AsyncGenerator<T>): Observable<T> {
  return new Observable<T>((subscriber) => {
    const abort = new AbortController();
    (async () => {
      for await (const value of produce(abort.signal)) {
        if (subscriber.closed) break;
        subscriber.next(value);
        if (call.writableNeedDrain) await once(call as unknown as NodeJS.EventEmitter, 'drain', { signal: abort.signal });
      }
      subscriber.complete();
    })().catch((error: unknown) => {
      if (!abort.signal.aborted) subscriber.error(error);
    });
    return () => abort.abort();
  });
}

/**
 * How often an open stream re-checks its caller's token. Verified tokens are cached for 2 s, so a token
 * deleted, disabled or expired loses its streams within about that time, as it loses its calls.
 */
export const RECHECK_MS = 1000;

/** What re-checking a token needs (TokenService). */
export interface TokenChecker {
  authenticate(secret: string): Promise<unknown>;
}

/**
 * `source` for as long as the caller's token stays valid. The gateway checked the token when the call
 * opened, but a follow can outlive it by days: every {@link RECHECK_MS} the token is verified again,
 * and a refusal (UNAUTHENTICATED: deleted, disabled, expired) ends the stream with that error. A check
 * that fails for another reason (the database briefly unreachable) is simply tried again.
 */
export function whileAuthorized<T>(source: Observable<T>, tokens: TokenChecker, metadata: Metadata, everyMs = RECHECK_MS): Observable<T> {
  const secret = bearer(metadata);
  return new Observable<T>((subscriber) => {
    let checking = false;
    const timer = setInterval(() => {
      if (checking) return;
      checking = true;
      tokens.authenticate(secret).then(
        () => (checking = false),
        (error: unknown) => {
          checking = false;
          if (error instanceof GoferError) subscriber.error(error);
        },
      );
    }, everyMs);
    const subscription = source.subscribe(subscriber);
    return () => {
      clearInterval(timer);
      subscription.unsubscribe();
    };
  });
}

/**
 * `source` holding a slot while it is subscribed: `take` runs when the stream starts (its refusal is
 * the stream's error) and the slot is given back when the stream ends for any reason — completion,
 * error, the client cancelling or its deadline passing (grpc-js reports both as "cancelled", and Nest
 * unsubscribes). Nest does not subscribe to a call cancelled before its handler returned, so nothing
 * is taken for it. When `shutdown` aborts (the process is shutting down), the stream ends with
 * UNAVAILABLE, which tells the client to resume elsewhere; a follow never ends by itself, so this is
 * what lets the process stop.
 */
export function holdingSlot<T>(take: () => ReleaseSlot, source: Observable<T>, shutdown?: AbortSignal): Observable<T> {
  return defer(() => {
    if (shutdown?.aborted) throw replicaShuttingDown();
    const release = take();
    return new Observable<T>((subscriber) => {
      const end = () => subscriber.error(replicaShuttingDown());
      shutdown?.addEventListener('abort', end, { once: true });
      const subscription = source.subscribe(subscriber);
      return () => {
        shutdown?.removeEventListener('abort', end);
        subscription.unsubscribe();
      };
    }).pipe(finalize(release));
  });
}
