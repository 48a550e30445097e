export { ENCRYPTION_KEY_BYTES, encryptionKeyId, parseEncryptionKey, parseEncryptionKeyList } from './encryption-key.js';
export { Keyring, type SecretContext } from './keyring.js';
export { decodeSealed, encodeSealed, NONCE_BYTES, TAG_BYTES, type SealedSecret } from './sealed-secret.js';
export { EncryptionKeyError, SecretDecryptError, type SecretDecryptReason } from './secret-errors.js';
export { MASK, MaskingStream, MIN_LINE_FRAGMENT_BYTES, SecretMasker } from './secret-masker.js';
export * from './secret.service.js';
export * from './secrets.module.js';
