import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeSealed, encodeSealed, type SealedSecret } from './sealed-secret.js';
import { SecretDecryptError } from './secret-errors.js';

const sealed: SealedSecret = { keyId: '0123456789abcdef', nonce: randomBytes(12), ciphertext: randomBytes(40) };

describe('encodeSealed / decodeSealed', () => {
  it('round-trips through one compact string', () => {
    const text = encodeSealed(sealed);
    expect(text).toMatch(/^v1\.0123456789abcdef\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(decodeSealed(text)).toEqual(sealed);
  });

  it('round-trips the shortest ciphertext (an empty value: just the tag)', () => {
    const empty = { ...sealed, ciphertext: randomBytes(16) };
    expect(decodeSealed(encodeSealed(empty))).toEqual(empty);
  });

  const valid = encodeSealed(sealed);
  const [, keyId, nonce, ciphertext] = valid.split('.');
  it.each<[string, string, string]>([
    ['empty', '', 'it has 1 dot-separated parts, not 4'],
    ['too few parts', `v1.${keyId}.${nonce}`, 'it has 3 dot-separated parts, not 4'],
    ['too many parts', `${valid}.x`, 'it has 5 dot-separated parts, not 4'],
    ['another version', `v2.${keyId}.${nonce}.${ciphertext}`, 'unknown format version'],
    ['a short key id', `v1.0123.${nonce}.${ciphertext}`, 'the key id is not 16 lowercase hex digits'],
    ['an upper-case key id', `v1.${keyId!.toUpperCase().replace(/[0-9]/g, 'A')}.${nonce}.${ciphertext}`, 'the key id is not 16 lowercase hex digits'],
    ['standard base64 with padding', `v1.${keyId}.${randomBytes(12).toString('base64').replace(/[+/]/g, 'A')}=.${ciphertext}`, 'the nonce or ciphertext is not base64url'],
    ['an empty ciphertext', `v1.${keyId}.${nonce}.`, 'the nonce or ciphertext is not base64url'],
    ['a short nonce', `v1.${keyId}.${randomBytes(8).toString('base64url')}.${ciphertext}`, 'the nonce must be 12 bytes'],
    ['a ciphertext shorter than the tag', `v1.${keyId}.${nonce}.${randomBytes(15).toString('base64url')}`, 'the ciphertext must be at least 16 bytes (it ends with the authentication tag)'],
  ])('rejects %s', (_, text, reason) => {
    let error: unknown;
    try {
      decodeSealed(text);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(SecretDecryptError);
    expect((error as SecretDecryptError).reason).toBe('malformed');
    expect((error as Error).message).toContain(`sealed secret is malformed: ${reason}`);
  });
});
