import { once } from 'node:events';
import { Observable } from 'rxjs';

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
