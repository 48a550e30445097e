import { describe, expect, it } from 'vitest';
import {
  elapsedMs,
  formatAgo,
  formatBytes,
  formatDuration,
  formatElapsed,
  formatFields,
  formatIn,
  formatTable,
  formatTimestamp,
} from './format.js';

describe('formatDuration', () => {
  const cases: Array<[number, string]> = [
    [0, '0.0s'],
    [-5, '0.0s'],
    [49, '0.0s'],
    [400, '0.4s'],
    [3_200, '3.2s'],
    [3_249, '3.2s'],
    [59_900, '59.9s'],
    [59_960, '1m00s'],
    [60_000, '1m00s'],
    [125_000, '2m05s'],
    [3_599_000, '59m59s'],
    [3_600_000, '1h00m'],
    [3_720_000, '1h02m'],
    [86_340_000, '23h59m'],
    [90_000_000, '1d01h'],
    [59_918_000_000, '693d11h'],
  ];
  it.each(cases)('%i ms -> %s', (ms, text) => expect(formatDuration(ms)).toBe(text));
});

describe('elapsed', () => {
  it('is undefined (shown as -) when it never started', () => {
    expect(elapsedMs(0, 0, 5_000)).toBeUndefined();
    expect(formatElapsed(0, 0, 5_000)).toBe('-');
  });
  it('runs until now while not ended', () => expect(formatElapsed(1_000, 0, 4_200)).toBe('3.2s'));
  it('stops at ended', () => expect(formatElapsed(1_000, 2_500, 99_000)).toBe('1.5s'));
});

describe('formatAgo', () => {
  const now = Date.UTC(2025, 5, 15, 12, 0, 0);
  const cases: Array<[number, string]> = [
    [0, '-'],
    [now - 2_000, 'just now'],
    [now - 42_000, '42s ago'],
    [now - 5 * 60_000, '5m ago'],
    [now - 3 * 3_600_000, '3h ago'],
    [now - 2 * 86_400_000, '2d ago'],
    [Date.UTC(2025, 0, 2), '2025-01-02'],
  ];
  it.each(cases)('%i -> %s', (at, text) => expect(formatAgo(at, now)).toBe(text));

  it('adds the ISO time in detail views', () => {
    expect(formatTimestamp(now - 60_000, now)).toBe('1m ago (2025-06-15T11:59:00.000Z)');
    expect(formatTimestamp(0, now)).toBe('-');
  });
});

describe('formatTable', () => {
  it('aligns columns and leaves no trailing spaces', () => {
    expect(formatTable(['ID', 'STATE', 'NOTE'], [['hello', 'enabled', ''], ['a', 'disabled', 'x']])).toBe(
      ['ID     STATE     NOTE', 'hello  enabled', 'a      disabled  x'].join('\n'),
    );
  });

  it('aligns field values', () => {
    expect(formatFields([['state', 'running'], ['config', 'version 2']])).toBe('  state   running\n  config  version 2');
  });
});

describe('formatIn', () => {
  const now = Date.UTC(2025, 5, 15, 12, 0, 0);
  const cases: Array<[number, string]> = [
    [now + 42_000, 'in 42s'],
    [now + 5 * 60_000, 'in 5m'],
    [now + 3 * 3_600_000 + 1, 'in 3h'],
    [now + 29 * 86_400_000 + 5_000, 'in 29d'],
    [now - 5 * 60_000, '5m ago'],
  ];
  it.each(cases)('%i -> %s', (at, text) => expect(formatIn(at, now)).toBe(text));
});

describe('formatBytes', () => {
  const cases: Array<[number, string]> = [
    [0, '0 B'],
    [999, '999 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [20 * 1024 * 1024, '20.0 MiB'],
    [1024 * 1024 - 1, '1.0 MiB'],
    [1.5 * 1024 ** 3, '1.5 GiB'],
    [3 * 1024 ** 5, '3072.0 TiB'],
  ];
  it.each(cases)('%i -> %s', (bytes, text) => expect(formatBytes(bytes)).toBe(text));
});
