import { describe, expect, it } from 'vitest';
import { retryDelayMs } from './retry-policy.js';

describe('retryDelayMs', () => {
  it.each([
    [{ attempts: 1, backoffMs: 2000 }, 1, undefined],
    [{ attempts: 3, backoffMs: 2000 }, 1, 2000],
    [{ attempts: 3, backoffMs: 2000 }, 2, 4000],
    [{ attempts: 3, backoffMs: 2000 }, 3, undefined],
    [{ attempts: 5, backoffMs: 0 }, 4, 0],
    [{ attempts: 10, backoffMs: 3_600_000 }, 9, 3_600_000],
    [{ attempts: 10, backoffMs: 60_000 }, 7, 3_600_000],
  ])('%j after failed attempt %d → %j', (retries, attempt, delay) => {
    expect(retryDelayMs(retries, attempt)).toBe(delay);
  });

  it('refuses attempt numbers below 1', () => {
    expect(() => retryDelayMs({ attempts: 3, backoffMs: 0 }, 0)).toThrow('attempt numbers start at 1, got 0');
  });
});
