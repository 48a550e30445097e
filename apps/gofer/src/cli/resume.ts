import { setTimeout as sleep } from 'node:timers/promises';
import { status } from '@grpc/grpc-js';

export interface ResumeOptions {
  /** Called before each reconnect, with why the stream ended. */
  onReconnect?: (reason: string) => void;
  /** How long the stream may stay broken (no item received) before the error is the command's. @default 60_000 */
  giveUpAfterMs?: number;
  /** First pause between reconnects; it doubles up to 2 s. @default 250 */
  firstDelayMs?: number;
}

/**
 * A server stream that survives losing its API replica. When the stream fails with UNAVAILABLE (the
 * replica shut down and drained its follows, died, or could not be reached), `open` is called again;
 * it must ask to resume after the last item the caller took (a log's byte offset, an event id), which
 * the caller keeps up to date as it consumes items. Other errors end the stream as they are.
 */
export async function* resuming<T>(open: () => AsyncIterable<T>, options: ResumeOptions = {}): AsyncGenerator<T> {
  const giveUpAfterMs = options.giveUpAfterMs ?? 60_000;
  const firstDelayMs = options.firstDelayMs ?? 250;
  let brokenSince: number | undefined;
  let delayMs = firstDelayMs;
  for (;;) {
    try {
      for await (const item of open()) {
        brokenSince = undefined;
        delayMs = firstDelayMs;
        yield item;
      }
      return;
    } catch (error) {
      if ((error as { code?: unknown }).code !== status.UNAVAILABLE) throw error;
      brokenSince ??= Date.now();
      if (Date.now() - brokenSince >= giveUpAfterMs) throw error;
      options.onReconnect?.((error as Error).message);
      await sleep(delayMs);
      delayMs = Math.min(delayMs * 2, 2000);
    }
  }
}
