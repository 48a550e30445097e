import { PIPELINE_LIMITS, type RetryPolicy } from './pipeline-config.js';

/**
 * How long to wait before trying a task again after attempt `failedAttempt` (1 = the first try)
 * failed, or `undefined` when that was the last attempt allowed. The wait starts at `backoffMs` and
 * doubles with each attempt (docs/design.md §2: "exponential from backoff"), capped at
 * {@link PIPELINE_LIMITS.maxRetryDelayMs}.
 */
export function retryDelayMs(retries: RetryPolicy, failedAttempt: number): number | undefined {
  if (!Number.isInteger(failedAttempt) || failedAttempt < 1) {
    throw new RangeError(`attempt numbers start at 1, got ${failedAttempt}`);
  }
  if (failedAttempt >= retries.attempts) return undefined;
  return Math.min(retries.backoffMs * 2 ** (failedAttempt - 1), PIPELINE_LIMITS.maxRetryDelayMs);
}
