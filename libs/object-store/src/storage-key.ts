import { createHash } from 'node:crypto';
import { ObjectStoreError } from './object-store.error.js';

/** Longest storage key accepted, in UTF-8 bytes (S3's own limit for object keys). */
export const MAX_STORAGE_KEY_BYTES = 1024;

/**
 * Longest segment every supported backend stores: MinIO refuses longer ones (a file name's limit on most
 * filesystems). The directory store and AWS S3 take any segment of a valid key; keys meant for every
 * backend keep to this (see {@link portableSegment}).
 */
export const MAX_PORTABLE_SEGMENT_BYTES = 255;

/** How much of a name a shortened {@link portableSegment} keeps, ahead of the hash. */
const PORTABLE_KEPT = 200;

const SEGMENT = /^[A-Za-z0-9_.-]+$/;
const RULES =
  'storage keys are segments of A-Z a-z 0-9 _ . - separated by single "/", with no "." or ".." segment, ' +
  `at most ${MAX_STORAGE_KEY_BYTES} bytes`;

/**
 * Throws {@link ObjectStoreError} `invalid_key` unless `key` is a well-formed storage key: segments of
 * `[A-Za-z0-9_.-]+` separated by single `/`, no `.` or `..` segment, no leading, trailing or double slash,
 * at most {@link MAX_STORAGE_KEY_BYTES} bytes. Every backend checks this before touching storage, so a key
 * can never name a path outside the store's directory or prefix.
 */
export function assertStorageKey(key: unknown): asserts key is string {
  const problem = storageKeyProblem(key);
  if (problem !== undefined) {
    throw new ObjectStoreError('invalid_key', `invalid storage key ${quote(key)}: ${problem}; ${RULES}`);
  }
}

/**
 * Throws {@link ObjectStoreError} `invalid_key` unless `prefix` is a storage key followed by one `/`
 * (`a/b/`). The trailing slash is required so that `a/b/` never matches `a/bc`, and an empty prefix
 * (the whole store) is not accepted.
 */
export function assertStoragePrefix(prefix: unknown): asserts prefix is string {
  let problem: string | undefined;
  if (typeof prefix !== 'string') problem = 'not a string';
  else if (!prefix.endsWith('/')) problem = 'a prefix must end with "/" (e.g. "logs/default/p/3/")';
  else problem = storageKeyProblem(prefix.slice(0, -1));
  if (problem !== undefined) {
    throw new ObjectStoreError('invalid_key', `invalid storage prefix ${quote(prefix)}: ${problem}; ${RULES}`);
  }
}

/**
 * `name` (storage key characters, not `.` or `..`) as one key segment every backend stores: the name
 * itself when it fits in {@link MAX_PORTABLE_SEGMENT_BYTES}, else its first 200 bytes, `-` and 32 hex
 * digits of its SHA-256, which keeps it readable and distinct names apart. A name that happens to look
 * like a shortened one can still meet it, so callers needing unique keys add their own id after it.
 * Throws {@link ObjectStoreError} `invalid_key` for anything that is not a segment.
 */
export function portableSegment(name: string): string {
  const problem = storageKeyProblem(name) ?? (name.includes('/') ? 'contains "/"' : undefined);
  if (problem !== undefined) {
    throw new ObjectStoreError('invalid_key', `invalid storage key segment ${quote(name)}: ${problem}; ${RULES}`);
  }
  if (name.length <= MAX_PORTABLE_SEGMENT_BYTES) return name;
  return `${name.slice(0, PORTABLE_KEPT)}-${createHash('sha256').update(name).digest('hex').slice(0, 32)}`;
}

function storageKeyProblem(key: unknown): string | undefined {
  if (typeof key !== 'string') return 'not a string';
  if (key.length === 0) return 'empty';
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_STORAGE_KEY_BYTES) return `${bytes} bytes long`;
  if (key.startsWith('/')) return 'starts with "/"';
  if (key.endsWith('/')) return 'ends with "/"';
  for (const segment of key.split('/')) {
    if (segment === '') return 'contains "//"';
    if (segment === '.' || segment === '..') return `contains a "${segment}" segment`;
    if (!SEGMENT.test(segment)) {
      const bad = [...segment].find((char) => !SEGMENT.test(char)) ?? segment;
      return `contains ${describeChar(bad)}`;
    }
  }
  return undefined;
}

function describeChar(char: string): string {
  const code = char.codePointAt(0) ?? 0;
  const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;
  return code >= 0x21 && code <= 0x7e ? `"${char}" (${hex})` : hex;
}

/** Quotes a key for a message, shortened so a hostile 1 MB key does not become a 1 MB log line. */
function quote(key: unknown): string {
  if (typeof key !== 'string') return String(typeof key);
  const shown = key.length > 80 ? `${key.slice(0, 80)}…` : key;
  return JSON.stringify(shown);
}
