/**
 * The encryption key configuration is unusable (empty, not base64, wrong length). Thrown at startup,
 * before anything is read or written; the message names the variable and says how to make a key.
 */
export class EncryptionKeyError extends Error {
  override readonly name = 'EncryptionKeyError';
}

/** Why a sealed secret could not be opened. */
export type SecretDecryptReason =
  /** The secret was sealed with a key that is neither the current nor a previous key. */
  | 'unknown_key'
  /** AES-GCM authentication failed: the bytes were modified, or they belong to another secret. */
  | 'authentication_failed'
  /** The stored value does not have the shape of a sealed secret at all. */
  | 'malformed';

/**
 * A sealed secret could not be opened. The message says which key and which secret (scope and key
 * name) were involved and what to do; it never contains plaintext, ciphertext or key bytes.
 */
export class SecretDecryptError extends Error {
  override readonly name = 'SecretDecryptError';

  constructor(
    readonly reason: SecretDecryptReason,
    message: string,
    /** Fingerprint of the key the secret says it was sealed with, when known. */
    readonly keyId?: string,
  ) {
    super(message);
  }
}
