import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encryptionKeyId, parseEncryptionKey, parseEncryptionKeyList } from './encryption-key.js';
import { EncryptionKeyError } from './secret-errors.js';

const key = Buffer.from(Array.from({ length: 32 }, (_, i) => i * 7 + 250)); // has + / - _ in its encodings
const HOW = 'e.g. `openssl rand -base64 32`';

describe('parseEncryptionKey', () => {
  const accepted: Array<[string, string]> = [
    ['standard base64, padded', key.toString('base64')],
    ['standard base64, unpadded', key.toString('base64').replace(/=+$/, '')],
    ['url-safe base64, unpadded', key.toString('base64url')],
    ['url-safe base64, padded', `${key.toString('base64url')}=`],
    ['surrounding whitespace and newline', `  ${key.toString('base64')}\n`],
  ];
  it.each(accepted)('accepts %s', (_, text) => {
    expect(parseEncryptionKey(text).equals(key)).toBe(true);
  });

  const rejected: Array<[string, string, string]> = [
    ['empty', '', `GOFER_ENCRYPTION_KEY is empty: set it to 32 random bytes encoded as base64 (${HOW})`],
    ['only whitespace', ' \n', `GOFER_ENCRYPTION_KEY is empty: set it to 32 random bytes encoded as base64 (${HOW})`],
    ['16 bytes', randomBytes(16).toString('base64'), `GOFER_ENCRYPTION_KEY must be 32 bytes encoded as base64 (${HOW}); got 16 bytes`],
    ['33 bytes', randomBytes(33).toString('base64'), `GOFER_ENCRYPTION_KEY must be 32 bytes encoded as base64 (${HOW}); got 33 bytes`],
    ['a hex key', key.toString('hex'), `GOFER_ENCRYPTION_KEY must be 32 bytes encoded as base64 (${HOW}); got 48 bytes (it looks like hex: encode the 32 bytes as base64 instead)`],
    ['a character outside base64', `${key.toString('base64').slice(0, 20)}!${key.toString('base64').slice(21)}`, `GOFER_ENCRYPTION_KEY is not valid base64: it must be 32 bytes encoded as base64 (${HOW})`],
    ['whitespace inside', `${key.toString('base64').slice(0, 20)} ${key.toString('base64').slice(20)}`, `GOFER_ENCRYPTION_KEY is not valid base64: it must be 32 bytes encoded as base64 (${HOW})`],
    ['padding in the middle', `AAAA=AAA${key.toString('base64')}`, `GOFER_ENCRYPTION_KEY is not valid base64: it must be 32 bytes encoded as base64 (${HOW})`],
    ['wrong padding', `${key.toString('base64')}=`, `GOFER_ENCRYPTION_KEY is not valid base64: it must be 32 bytes encoded as base64 (${HOW})`],
    ['an impossible length', `${key.toString('base64').replace(/=+$/, '')}AA`, `GOFER_ENCRYPTION_KEY is not valid base64: it must be 32 bytes encoded as base64 (${HOW})`],
  ];
  it.each(rejected)('rejects %s with a clear message that does not repeat the text', (_, text, message) => {
    let error: unknown;
    try {
      parseEncryptionKey(text);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(EncryptionKeyError);
    expect((error as Error).message).toBe(message);
    if (text.trim().length > 0) expect((error as Error).message).not.toContain(text.trim().slice(0, 12));
  });

  it('names the variable it is given', () => {
    expect(() => parseEncryptionKey('', 'MY_KEY')).toThrow(/^MY_KEY is empty/);
  });
});

describe('parseEncryptionKeyList', () => {
  const other = randomBytes(32);
  it.each<[string, string | undefined, Buffer[]]>([
    ['undefined', undefined, []],
    ['empty', '', []],
    ['one key', key.toString('base64'), [key]],
    ['two keys with blanks and spaces', ` ${key.toString('base64')} , ,${other.toString('base64url')},`, [key, other]],
  ])('parses %s', (_, text, expected) => {
    expect(parseEncryptionKeyList(text)).toEqual(expected);
  });

  it('names the bad entry by position', () => {
    expect(() => parseEncryptionKeyList(`${key.toString('base64')},${randomBytes(8).toString('base64')}`)).toThrow(
      `GOFER_PREVIOUS_ENCRYPTION_KEYS (entry 2) must be 32 bytes encoded as base64 (${HOW}); got 8 bytes`,
    );
  });
});

describe('encryptionKeyId', () => {
  it('is the first 16 hex digits of HMAC-SHA256(key, "gofer key id")', () => {
    expect(encryptionKeyId(key)).toBe(createHmac('sha256', key).update('gofer key id').digest('hex').slice(0, 16));
    expect(encryptionKeyId(key)).toMatch(/^[0-9a-f]{16}$/);
  });

  it('differs between keys and is stable for one key', () => {
    expect(encryptionKeyId(Buffer.from(key))).toBe(encryptionKeyId(key));
    expect(encryptionKeyId(randomBytes(32))).not.toBe(encryptionKeyId(key));
  });
});
