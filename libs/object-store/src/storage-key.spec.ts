import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ObjectStoreError } from './object-store.error.js';
import { assertStorageKey, assertStoragePrefix, MAX_PORTABLE_SEGMENT_BYTES, portableSegment } from './storage-key.js';

describe('assertStorageKey', () => {
  const valid = [
    'objects/default/my-pipeline/run/12/build.tar',
    'logs/default/p/3/task.1.log',
    'a',
    '.hidden/..dots/x..y/-_.',
    'k'.repeat(1024),
    Array.from({ length: 512 }, () => 'a').join('/').slice(0, 1023),
  ];
  it.each(valid)('accepts %j', (key) => expect(() => assertStorageKey(key)).not.toThrow());

  const invalid: Array<[unknown, string]> = [
    ['', 'empty'],
    ['/abs', 'starts with "/"'],
    ['a/', 'ends with "/"'],
    ['a//b', 'contains "//"'],
    ['.', 'contains a "." segment'],
    ['a/./b', 'contains a "." segment'],
    ['..', 'contains a ".." segment'],
    ['../x', 'contains a ".." segment'],
    ['a/../../b', 'contains a ".." segment'],
    ['a\0b', 'contains U+0000'],
    ['a b', 'contains U+0020'],
    ['a\\b', 'contains "\\" (U+005C)'],
    ['a:b', 'contains ":" (U+003A)'],
    ['objects/ünïcode', 'contains U+00FC'],
    ['objects/😀', 'contains U+1F600'],
    ['k'.repeat(1025), '1025 bytes long'],
    ['é'.repeat(513), '1026 bytes long'],
    [42, 'not a string'],
    [undefined, 'not a string'],
  ];
  it.each(invalid)('rejects %j: %s', (key, problem) => {
    let error: unknown;
    try {
      assertStorageKey(key);
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(ObjectStoreError);
    expect(error).toMatchObject({ kind: 'invalid_key' });
    expect((error as Error).message).toContain(`: ${problem}; storage keys are segments of`);
  });

  it('shortens a long key in the message', () => {
    expect(() => assertStorageKey('x'.repeat(100_000))).toThrow(/^invalid storage key "x{80}…": 100000 bytes long/);
  });
});

describe('assertStoragePrefix', () => {
  it.each(['a/', 'logs/default/p/3/', 'runs/default/p/12/'])('accepts %j', (prefix) =>
    expect(() => assertStoragePrefix(prefix)).not.toThrow(),
  );

  it.each([
    ['', 'a prefix must end with "/"'],
    ['a', 'a prefix must end with "/"'],
    ['/', 'empty'],
    ['a//', 'ends with "/"'],
    ['../', 'contains a ".." segment'],
    ['/a/', 'starts with "/"'],
  ])('rejects %j: %s', (prefix, problem) => {
    expect(() => assertStoragePrefix(prefix)).toThrow(ObjectStoreError);
    expect(() => assertStoragePrefix(prefix)).toThrow(problem);
  });
});

describe('portableSegment', () => {
  const hash = (name: string) => createHash('sha256').update(name).digest('hex').slice(0, 32);
  it.each([
    ['a', 'a'],
    ['build.tar', 'build.tar'],
    ['k'.repeat(255), 'k'.repeat(255)],
    ['k'.repeat(256), `${'k'.repeat(200)}-${hash('k'.repeat(256))}`],
    [`${'k'.repeat(255)}x`, `${'k'.repeat(200)}-${hash(`${'k'.repeat(255)}x`)}`],
  ])('%j', (name, segment) => {
    expect(portableSegment(name)).toBe(segment);
    expect(segment.length).toBeLessThanOrEqual(MAX_PORTABLE_SEGMENT_BYTES);
    expect(() => assertStorageKey(segment)).not.toThrow();
  });

  it.each([
    ['', 'empty'],
    ['a/b', 'contains "/"'],
    ['..', 'contains a ".." segment'],
    ['a b', 'contains U+0020'],
  ])('rejects %j: %s', (name, problem) => {
    expect(() => portableSegment(name)).toThrow(ObjectStoreError);
    expect(() => portableSegment(name)).toThrow(`invalid storage key segment ${JSON.stringify(name)}: ${problem}`);
  });
});
