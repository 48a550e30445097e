import { describe, expect, it } from 'vitest';
import { formatMemorySize, parseMemorySize } from './memory-size.js';

describe('parseMemorySize', () => {
  it.each([
    [268435456, 268435456],
    ['268435456', 268435456],
    ['256Mi', 256 * 2 ** 20],
    ['1Gi', 2 ** 30],
    ['1.5Gi', 1.5 * 2 ** 30],
    ['64Ki', 64 * 1024],
    ['2Ti', 2 * 2 ** 40],
    ['512M', 512_000_000],
    ['1G', 1e9],
    ['100k', 100_000],
    ['100K', 100_000],
    ['1T', 1e12],
  ])('%j is %d bytes', (value, bytes) => {
    expect(parseMemorySize(value)).toBe(bytes);
  });

  it.each([['256MB'], ['512m'], ['1g'], ['1 Gi'], ['-1Gi'], ['Gi'], [''], ['1.5'], [-1], [1.5], [Number.NaN], ['9'.repeat(40)]])(
    'rejects %j',
    (value) => {
      expect(parseMemorySize(value)).toBeUndefined();
    },
  );
});

describe('formatMemorySize', () => {
  it.each([
    [256 * 2 ** 20, '256Mi'],
    [2 ** 30, '1Gi'],
    [1536 * 2 ** 20, '1536Mi'],
    [1000, '1000'],
    [6 * 2 ** 20, '6Mi'],
  ])('%d bytes is %s', (bytes, text) => {
    expect(formatMemorySize(bytes)).toBe(text);
    expect(parseMemorySize(text)).toBe(bytes);
  });
});
