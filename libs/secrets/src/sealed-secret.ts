import { SecretDecryptError } from './secret-errors.js';

/** AES-GCM nonce length: 96 bits, random per seal. */
export const NONCE_BYTES = 12;
/** AES-GCM authentication tag length, stored at the end of {@link SealedSecret.ciphertext}. */
export const TAG_BYTES = 16;

/** A secret value encrypted with AES-256-GCM; store all three fields. */
export interface SealedSecret {
  /** Fingerprint of the key it was sealed with (see `encryptionKeyId`). */
  keyId: string;
  /** The random 12-byte nonce. */
  nonce: Buffer;
  /** Encrypted value followed by the 16-byte authentication tag. */
  ciphertext: Buffer;
}

const KEY_ID = /^[0-9a-f]{16}$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;
const FORMAT = 'expected v1.<keyId>.<nonce>.<ciphertext>';

/**
 * Encodes a sealed secret as one compact string, `v1.<keyId>.<nonce>.<ciphertext>` (unpadded
 * base64url), for storage in a single text column.
 */
export function encodeSealed(sealed: SealedSecret): string {
  assertSealedShape(sealed);
  return `v1.${sealed.keyId}.${sealed.nonce.toString('base64url')}.${sealed.ciphertext.toString('base64url')}`;
}

/**
 * Parses a string made by {@link encodeSealed}.
 *
 * @throws {@link SecretDecryptError} with reason `malformed`, saying which part is wrong (never
 * repeating the text).
 */
export function decodeSealed(text: string): SealedSecret {
  const malformed = (what: string) => new SecretDecryptError('malformed', `sealed secret is malformed: ${what} (${FORMAT})`);
  const parts = text.split('.');
  if (parts.length !== 4) throw malformed(`it has ${parts.length} dot-separated parts, not 4`);
  const [version, keyId, nonce, ciphertext] = parts as [string, string, string, string];
  if (version !== 'v1') throw malformed('unknown format version');
  if (!KEY_ID.test(keyId)) throw malformed('the key id is not 16 lowercase hex digits');
  if (!BASE64URL.test(nonce) || !BASE64URL.test(ciphertext)) throw malformed('the nonce or ciphertext is not base64url');
  const sealed = { keyId, nonce: Buffer.from(nonce, 'base64url'), ciphertext: Buffer.from(ciphertext, 'base64url') };
  assertSealedShape(sealed);
  return sealed;
}

/** @internal Rejects a value that cannot be a sealed secret before any crypto is attempted. */
export function assertSealedShape(sealed: SealedSecret): void {
  const malformed = (what: string) => new SecretDecryptError('malformed', `sealed secret is malformed: ${what}`, sealed.keyId);
  if (typeof sealed.keyId !== 'string' || !KEY_ID.test(sealed.keyId)) {
    throw new SecretDecryptError('malformed', 'sealed secret is malformed: the key id is not 16 lowercase hex digits');
  }
  if (!Buffer.isBuffer(sealed.nonce) || sealed.nonce.length !== NONCE_BYTES) {
    throw malformed(`the nonce must be ${NONCE_BYTES} bytes`);
  }
  if (!Buffer.isBuffer(sealed.ciphertext) || sealed.ciphertext.length < TAG_BYTES) {
    throw malformed(`the ciphertext must be at least ${TAG_BYTES} bytes (it ends with the authentication tag)`);
  }
}
