import { createHmac } from 'node:crypto';
import { EncryptionKeyError } from './secret-errors.js';

/** AES-256 needs exactly this many key bytes. */
export const ENCRYPTION_KEY_BYTES = 32;

const HOW_TO_MAKE_ONE = 'e.g. `openssl rand -base64 32`';

// Standard and URL-safe alphabets (Node decodes both), optional padding. Whitespace inside is refused
// rather than skipped so that a key pasted with a line break is noticed, not silently reassembled.
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/**
 * Decodes a 32-byte encryption key given as base64 (standard or URL-safe, padded or not; surrounding
 * whitespace is ignored).
 *
 * @param name - The setting the text came from, used in error messages.
 * @default name `GOFER_ENCRYPTION_KEY`
 * @throws {@link EncryptionKeyError} when the text is empty, not base64, or not 32 bytes. The message
 * never repeats the text.
 */
export function parseEncryptionKey(text: string, name = 'GOFER_ENCRYPTION_KEY'): Buffer {
  const trimmed = text.trim();
  if (trimmed === '') {
    throw new EncryptionKeyError(`${name} is empty: set it to 32 random bytes encoded as base64 (${HOW_TO_MAKE_ONE})`);
  }
  const padded = trimmed.includes('=');
  if (!BASE64.test(trimmed) || (padded ? trimmed.length % 4 !== 0 : trimmed.length % 4 === 1)) {
    throw new EncryptionKeyError(
      `${name} is not valid base64: it must be 32 bytes encoded as base64 (${HOW_TO_MAKE_ONE})`,
    );
  }
  const key = Buffer.from(trimmed, 'base64');
  if (key.length !== ENCRYPTION_KEY_BYTES) {
    // 64 hex digits are valid base64 too (48 bytes): a hex key is the most likely mistake.
    const hint = /^[0-9a-fA-F]{64}$/.test(trimmed) ? ' (it looks like hex: encode the 32 bytes as base64 instead)' : '';
    throw new EncryptionKeyError(
      `${name} must be 32 bytes encoded as base64 (${HOW_TO_MAKE_ONE}); got ${key.length} bytes${hint}`,
    );
  }
  return key;
}

/**
 * Decodes a comma-separated list of keys (blank entries are skipped, so `""` is an empty list).
 * Errors name the entry by its 1-based position.
 *
 * @default name `GOFER_PREVIOUS_ENCRYPTION_KEYS`
 */
export function parseEncryptionKeyList(text: string | undefined, name = 'GOFER_PREVIOUS_ENCRYPTION_KEYS'): Buffer[] {
  if (text === undefined) return [];
  const entries = text.split(',').map((entry) => entry.trim());
  return entries.flatMap((entry, index) =>
    entry === '' ? [] : [parseEncryptionKey(entry, entries.length > 1 ? `${name} (entry ${index + 1})` : name)],
  );
}

/**
 * The key's version id: a fingerprint (first 16 hex digits of HMAC-SHA256(key, "gofer key id")).
 * Derived rather than numbered, so nobody maintains versions by hand, and a secret sealed with a key
 * that is not configured is recognised as such. It reveals nothing usable about the key.
 */
export function encryptionKeyId(key: Buffer): string {
  return createHmac('sha256', key).update('gofer key id').digest('hex').slice(0, 16);
}
