import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration } from './duration.js';

describe('parseDuration', () => {
  it.each([
    ['0', 0],
    ['0s', 0],
    ['500ms', 500],
    ['2s', 2_000],
    ['10m', 600_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['1h0m0s1ms', 3_600_001],
    ['1m30s', 90_000],
    ['1.5h', 5_400_000],
    ['1.5s', 1_500],
    ['0.0004s', 0],
    ['0.0006s', 1],
    ['168h', 604_800_000],
  ])('%s is %d ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    ['', 'empty'],
    ['10', 'a number without a unit'],
    ['1d', 'days are not a Go unit'],
    ['1us', 'sub-millisecond units'],
    ['1ns', 'sub-millisecond units'],
    ['2S', 'upper-case unit'],
    ['-1s', 'a sign'],
    ['+1s', 'a sign'],
    [' 1s', 'leading space'],
    ['1s ', 'trailing space'],
    ['1 s', 'space before the unit'],
    ['1s30m', 'units out of order'],
    ['1s1s', 'a unit twice'],
    ['1ms1s', 'ms before s'],
    ['.5s', 'no digit before the point'],
    ['5.s', 'no digit after the point'],
    ['1e3s', 'exponent'],
    ['s', 'a unit without a number'],
    ['1h30', 'a trailing number without a unit'],
    ['9'.repeat(30) + 'h', 'too large to be exact'],
    ['1'.repeat(70) + 's', 'too long'],
  ])('rejects %j (%s)', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [500, '500ms'],
    [2_000, '2s'],
    [90_000, '1m30s'],
    [5_400_000, '1h30m'],
    [90_061_001, '25h1m1s1ms'],
  ])('%d ms is %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
    expect(parseDuration(text)).toBe(ms);
  });

  it('refuses values that are not whole non-negative milliseconds', () => {
    expect(() => formatDuration(-1)).toThrow(RangeError);
    expect(() => formatDuration(1.5)).toThrow(RangeError);
  });
});
