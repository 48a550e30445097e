import { randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { encryptionKeyId } from './encryption-key.js';
import { Keyring, type SecretContext } from './keyring.js';
import { decodeSealed, encodeSealed, type SealedSecret } from './sealed-secret.js';
import { EncryptionKeyError, SecretDecryptError, type SecretDecryptReason } from './secret-errors.js';

const oldKey = randomBytes(32);
const newKey = randomBytes(32);
const ctx = (scope: string, key: string): SecretContext => ({ scope, key });
const pipelineToken = ctx('pipeline:default/build', 'TOKEN');

function decryptError(fn: () => unknown): SecretDecryptError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SecretDecryptError);
    return error as SecretDecryptError;
  }
  throw new Error('expected a SecretDecryptError');
}

/** Messages must never reveal the value or the key. */
function expectNoLeak(message: string, plaintext: string, ...keys: Buffer[]) {
  if (plaintext.length >= 4) expect(message).not.toContain(plaintext);
  for (const key of keys) {
    for (const encoding of ['base64', 'base64url', 'hex'] as const) expect(message).not.toContain(key.toString(encoding).slice(0, 12));
  }
}

describe('Keyring sealing', () => {
  const keyring = new Keyring(newKey);

  it.each<[string, string, SecretContext]>([
    ['a short value', 'hunter2', pipelineToken],
    ['an empty value', '', pipelineToken],
    ['multi-byte UTF-8', 'pässwörd 🔑 пароль', ctx('global', 'ÜBER')],
    ['a multi-line PEM-like value', '-----BEGIN KEY-----\nabc\ndef\n-----END KEY-----\n', ctx('global', 'SSH_KEY')],
    ['a large value', 'x'.repeat(100_000), ctx('pipeline:ns/p', 'BIG')],
    ['an empty scope and key', 'v', ctx('', '')],
  ])('round-trips %s', (_, plaintext, context) => {
    const sealed = keyring.seal(plaintext, context);
    expect(sealed.keyId).toBe(keyring.currentKeyId);
    expect(sealed.nonce).toHaveLength(12);
    expect(sealed.ciphertext).toHaveLength(Buffer.byteLength(plaintext) + 16);
    expect(keyring.open(sealed, context)).toBe(plaintext);
    expect(keyring.open(decodeSealed(encodeSealed(sealed)), context)).toBe(plaintext);
  });

  it('uses a fresh nonce for every seal', () => {
    const a = keyring.seal('same', pipelineToken);
    const b = keyring.seal('same', pipelineToken);
    expect(a.nonce.equals(b.nonce)).toBe(false);
    expect(a.ciphertext.equals(b.ciphertext)).toBe(false);
  });

  it('does not contain the plaintext', () => {
    const plaintext = 'a-very-recognisable-value';
    const sealed = keyring.seal(plaintext, pipelineToken);
    expect(sealed.ciphertext.includes(Buffer.from(plaintext))).toBe(false);
    expect(encodeSealed(sealed)).not.toContain(plaintext);
  });

  it.each<[string, SecretContext, SecretContext]>([
    ['another key name', ctx('global', 'A'), ctx('global', 'B')],
    ['another scope', ctx('pipeline:ns/a', 'TOKEN'), ctx('pipeline:ns/b', 'TOKEN')],
    ['scope and key swapped', ctx('x', 'y'), ctx('y', 'x')],
    ['the boundary moved ("a","bc") vs ("ab","c")', ctx('a', 'bc'), ctx('ab', 'c')],
    ['a NUL moved between the fields', ctx('a\0', 'b'), ctx('a', '\0b')],
    ['a case change', ctx('global', 'token'), ctx('global', 'TOKEN')],
  ])('refuses to open under %s', (_, sealedFor, openedAs) => {
    const sealed = keyring.seal('s3cret-value', sealedFor);
    const error = decryptError(() => keyring.open(sealed, openedAs));
    expect(error.reason).toBe('authentication_failed');
    expect(error.message).toBe(
      `secret ${JSON.stringify(openedAs.key)} (scope ${JSON.stringify(openedAs.scope)}) could not be decrypted with key ` +
        `${keyring.currentKeyId}: the stored value was modified or belongs to another secret (sealed for a different ` +
        'scope or name); set the secret again',
    );
    expectNoLeak(error.message, 's3cret-value', newKey);
  });

  it('refuses both ciphertexts when two rows swap them', () => {
    const a = ctx('pipeline:ns/p', 'A');
    const b = ctx('pipeline:ns/p', 'B');
    const sealedA = keyring.seal('value-of-a', a);
    const sealedB = keyring.seal('value-of-b', b);
    expect(decryptError(() => keyring.open(sealedB, a)).reason).toBe('authentication_failed');
    expect(decryptError(() => keyring.open(sealedA, b)).reason).toBe('authentication_failed');
    // Swapping only the nonces or only the ciphertexts fails too.
    expect(decryptError(() => keyring.open({ ...sealedA, nonce: sealedB.nonce }, a)).reason).toBe('authentication_failed');
    expect(decryptError(() => keyring.open({ ...sealedA, ciphertext: sealedB.ciphertext }, a)).reason).toBe('authentication_failed');
  });

  it('detects a change to any bit of the nonce, the ciphertext or the tag', () => {
    const sealed = keyring.seal('tamper-me', pipelineToken);
    const variants: Array<[string, SealedSecret]> = [];
    for (const field of ['nonce', 'ciphertext'] as const) {
      for (let byte = 0; byte < sealed[field].length; byte++) {
        for (const bit of [0x01, 0x80]) {
          const copy = Buffer.from(sealed[field]);
          copy[byte]! ^= bit;
          variants.push([`${field}[${byte}]^${bit}`, { ...sealed, [field]: copy }]);
        }
      }
    }
    variants.push(['ciphertext truncated', { ...sealed, ciphertext: sealed.ciphertext.subarray(1) }]);
    variants.push(['ciphertext extended', { ...sealed, ciphertext: Buffer.concat([sealed.ciphertext, Buffer.from([0])]) }]);
    for (const [, variant] of variants) {
      expect(decryptError(() => keyring.open(variant, pipelineToken)).reason).toBe('authentication_failed');
    }
    expect(keyring.open(sealed, pipelineToken)).toBe('tamper-me');
  });

  it('refuses a keyId relabelled to another configured key', () => {
    const both = new Keyring(newKey, [oldKey]);
    const sealed = both.seal('relabel', pipelineToken);
    const error = decryptError(() => both.open({ ...sealed, keyId: encryptionKeyId(oldKey) }, pipelineToken));
    expect(error.reason).toBe('authentication_failed');
  });

  it('says which key is missing when the keyId is not configured', () => {
    const sealed = new Keyring(oldKey).seal('old-value', pipelineToken);
    const error = decryptError(() => keyring.open(sealed, pipelineToken));
    expect(error.reason).toBe('unknown_key');
    expect(error.keyId).toBe(encryptionKeyId(oldKey));
    expect(error.message).toBe(
      `secret "TOKEN" (scope "pipeline:default/build") was sealed with key ${encryptionKeyId(oldKey)}, which is not ` +
        'configured: set GOFER_ENCRYPTION_KEY / GOFER_PREVIOUS_ENCRYPTION_KEYS to the key it was sealed with ' +
        `(configured keys: ${keyring.currentKeyId} (current))`,
    );
    expectNoLeak(error.message, 'old-value', oldKey, newKey);
  });

  it.each<[string, Partial<SealedSecret>, string]>([
    ['a short nonce', { nonce: randomBytes(8) }, 'the nonce must be 12 bytes'],
    ['a ciphertext without a tag', { ciphertext: randomBytes(10) }, 'the ciphertext must be at least 16 bytes'],
    ['a bad keyId', { keyId: 'not-a-key-id' }, 'the key id is not 16 lowercase hex digits'],
  ])('calls %s malformed', (_, change, message) => {
    const sealed = { ...keyring.seal('v', pipelineToken), ...change };
    const error = decryptError(() => keyring.open(sealed, pipelineToken));
    expect(error.reason).toBe<SecretDecryptReason>('malformed');
    expect(error.message).toContain(message);
  });

  it('refuses scope or key names that are not well-formed Unicode', () => {
    expect(() => keyring.seal('v', ctx('global', '\uD800'))).toThrow('secret key is not well-formed Unicode');
  });
});

describe('Keyring rotation', () => {
  const before = new Keyring(oldKey);
  const during = new Keyring(newKey, [oldKey]);
  const after = new Keyring(newKey);

  it('opens values sealed with a previous key and says they need re-sealing', () => {
    const sealed = before.seal('rotate-me', pipelineToken);
    expect(during.open(sealed, pipelineToken)).toBe('rotate-me');
    expect(during.needsReseal(sealed)).toBe(true);
    expect(before.needsReseal(sealed)).toBe(false);
  });

  it('re-seals with the current key', () => {
    const sealed = before.seal('rotate-me', pipelineToken);
    const resealed = during.reseal(sealed, pipelineToken);
    expect(resealed.keyId).toBe(encryptionKeyId(newKey));
    expect(resealed.keyId).not.toBe(sealed.keyId);
    expect(during.needsReseal(resealed)).toBe(false);
    expect(after.open(resealed, pipelineToken)).toBe('rotate-me');
    expect(decryptError(() => before.open(resealed, pipelineToken)).reason).toBe('unknown_key');
  });

  it('lists its keys, current first, ignoring duplicates', () => {
    const keyring = new Keyring(newKey, [oldKey, newKey, oldKey]);
    expect(keyring.currentKeyId).toBe(encryptionKeyId(newKey));
    expect(keyring.keyIds).toEqual([encryptionKeyId(newKey), encryptionKeyId(oldKey)]);
  });

  it('is built from the configuration text', () => {
    const keyring = Keyring.parse(newKey.toString('base64'), `${oldKey.toString('base64url')},`);
    expect(keyring.keyIds).toEqual([encryptionKeyId(newKey), encryptionKeyId(oldKey)]);
    expect(Keyring.parse(newKey.toString('base64')).keyIds).toEqual([encryptionKeyId(newKey)]);
    expect(() => Keyring.parse('')).toThrow(EncryptionKeyError);
    expect(() => Keyring.parse(newKey.toString('base64'), 'AAAA')).toThrow(/^GOFER_PREVIOUS_ENCRYPTION_KEYS must be 32 bytes/);
  });

  it('refuses a key of the wrong length', () => {
    expect(() => new Keyring(randomBytes(16))).toThrow('the current encryption key must be 32 bytes; got 16');
    expect(() => new Keyring(newKey, [randomBytes(31)])).toThrow('previous encryption key 1 must be 32 bytes; got 31');
  });

  it('never shows key bytes when inspected or serialised', () => {
    const keyring = new Keyring(newKey, [oldKey]);
    for (const text of [inspect(keyring, { showHidden: true, depth: 10 }), JSON.stringify(keyring), String(keyring)]) {
      expectNoLeak(text, '', newKey, oldKey);
    }
    expect(inspect(keyring)).toBe(`Keyring { current: ${keyring.currentKeyId}, keys: [${keyring.keyIds.join(', ')}] }`);
  });
});

describe('Keyring canary', () => {
  it('verifies with the key it was sealed with', () => {
    const keyring = new Keyring(newKey);
    expect(() => keyring.verifyCanary(keyring.sealCanary())).not.toThrow();
    expect(() => keyring.verifyCanary(decodeSealed(encodeSealed(keyring.sealCanary())))).not.toThrow();
  });

  it('stops a start with the wrong key, saying which key the data needs', () => {
    const canary = new Keyring(oldKey).sealCanary();
    const wrong = new Keyring(newKey);
    const error = decryptError(() => wrong.verifyCanary(canary));
    expect(error.reason).toBe('unknown_key');
    expect(error.message).toBe(
      `the configured encryption key does not match this installation: its stored key check was sealed with key ` +
        `${encryptionKeyId(oldKey)}, but the configured keys are ${encryptionKeyId(newKey)} (current); start with the ` +
        'key this installation was set up with in GOFER_ENCRYPTION_KEY (or, while rotating, list it in ' +
        'GOFER_PREVIOUS_ENCRYPTION_KEYS)',
    );
    expectNoLeak(error.message, '', oldKey, newKey);
  });

  it('passes during a rotation and then needs re-sealing', () => {
    const canary = new Keyring(oldKey).sealCanary();
    const during = new Keyring(newKey, [oldKey]);
    expect(() => during.verifyCanary(canary)).not.toThrow();
    expect(during.needsReseal(canary)).toBe(true);
    expect(during.needsReseal(during.sealCanary())).toBe(false);
  });

  it('detects a modified canary', () => {
    const keyring = new Keyring(newKey);
    const canary = keyring.sealCanary();
    const ciphertext = Buffer.from(canary.ciphertext);
    ciphertext[0]! ^= 1;
    const error = decryptError(() => keyring.verifyCanary({ ...canary, ciphertext }));
    expect(error.reason).toBe('authentication_failed');
    expect(error.message).toContain(`the stored encryption key check (sealed with key ${keyring.currentKeyId}) failed authentication`);
  });

  it('is not interchangeable with a secret, whatever its scope and name', () => {
    const keyring = new Keyring(newKey);
    expect(decryptError(() => keyring.open(keyring.sealCanary(), ctx('', ''))).reason).toBe('authentication_failed');
    expect(decryptError(() => keyring.verifyCanary(keyring.seal('gofer encryption key check', ctx('', '')))).reason).toBe(
      'authentication_failed',
    );
  });
});
