import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { inspect } from 'node:util';
import { ENCRYPTION_KEY_BYTES, encryptionKeyId, parseEncryptionKey, parseEncryptionKeyList } from './encryption-key.js';
import { assertSealedShape, NONCE_BYTES, TAG_BYTES, type SealedSecret } from './sealed-secret.js';
import { EncryptionKeyError, SecretDecryptError } from './secret-errors.js';

/**
 * What a secret is bound to. It is authenticated (AES-GCM associated data) but not encrypted: a
 * ciphertext copied to another secret's row fails to open instead of yielding the wrong value.
 */
export interface SecretContext {
  /** Where the secret lives, e.g. `global` or `pipeline:<namespace>/<pipeline>`. */
  scope: string;
  /** The secret's name within its scope. */
  key: string;
}

// Bumped if the associated-data layout or the cipher ever changes; old seals stay openable by version.
const FORMAT_VERSION = 1;
// Separates the canary from every user secret whatever its scope and name.
const Purpose = { Secret: 1, Canary: 2 } as const;
type Purpose = (typeof Purpose)[keyof typeof Purpose];
const CANARY_PLAINTEXT = 'gofer encryption key check';
const KEY_SETTINGS = 'GOFER_ENCRYPTION_KEY / GOFER_PREVIOUS_ENCRYPTION_KEYS';

interface KeyEntry {
  id: string;
  sealingKey: Buffer;
}

/**
 * The encryption keys the service knows: the current one (used to seal) and previous ones (still
 * accepted to open, while secrets are re-sealed after a rotation). Seals with AES-256-GCM, a random
 * 96-bit nonce per value, and the secret's scope and name as associated data.
 *
 * Key bytes are kept in private fields and never appear in messages, `inspect` or JSON.
 */
export class Keyring {
  readonly #current: KeyEntry;
  readonly #byId = new Map<string, KeyEntry>();

  /**
   * @param current - The key new values are sealed with (32 bytes).
   * @param previous - Older keys that may still have sealed stored values (duplicates are ignored).
   * @throws {@link EncryptionKeyError} when a key is not 32 bytes.
   */
  constructor(current: Buffer, previous: readonly Buffer[] = []) {
    this.#current = this.#add(current, 'the current encryption key');
    previous.forEach((key, index) => this.#add(key, `previous encryption key ${index + 1}`));
  }

  /**
   * Builds a keyring from the configuration's text values.
   *
   * @param currentKey - `GOFER_ENCRYPTION_KEY`: one base64 key.
   * @param previousKeys - `GOFER_PREVIOUS_ENCRYPTION_KEYS`: comma-separated base64 keys, may be empty.
   * @throws {@link EncryptionKeyError} naming the variable (and entry) that is wrong.
   */
  static parse(currentKey: string, previousKeys?: string): Keyring {
    return new Keyring(parseEncryptionKey(currentKey), parseEncryptionKeyList(previousKeys));
  }

  /** Fingerprint of the key new values are sealed with. */
  get currentKeyId(): string {
    return this.#current.id;
  }

  /** Fingerprints of every configured key, the current one first. */
  get keyIds(): string[] {
    return [...this.#byId.keys()];
  }

  /** Seals `plaintext` for the secret named by `context`, with the current key and a fresh nonce. */
  seal(plaintext: string, context: SecretContext): SealedSecret {
    return this.#seal(Buffer.from(plaintext, 'utf8'), associatedData(Purpose.Secret, context));
  }

  /**
   * Opens a value sealed by {@link seal} for the same `context`.
   *
   * @throws {@link SecretDecryptError} `unknown_key` when its key is not configured,
   * `authentication_failed` when it was modified or belongs to another context, `malformed` when it
   * is not a sealed value.
   */
  open(sealed: SealedSecret, context: SecretContext): string {
    const secret = `secret ${JSON.stringify(context.key)} (scope ${JSON.stringify(context.scope)})`;
    const entry = this.#entryFor(sealed, secret);
    const plaintext = this.#open(entry, sealed, associatedData(Purpose.Secret, context));
    if (plaintext === undefined) {
      throw new SecretDecryptError(
        'authentication_failed',
        `${secret} could not be decrypted with key ${entry.id}: the stored value was modified or belongs to ` +
          'another secret (sealed for a different scope or name); set the secret again',
        sealed.keyId,
      );
    }
    try {
      return plaintext.toString('utf8');
    } finally {
      plaintext.fill(0);
    }
  }

  /** Whether `sealed` was sealed with a key other than the current one (re-seal it after a rotation). */
  needsReseal(sealed: SealedSecret): boolean {
    return sealed.keyId !== this.#current.id;
  }

  /**
   * Opens `sealed` with whichever configured key sealed it and seals the value again with the current
   * key. Throws like {@link open}.
   */
  reseal(sealed: SealedSecret, context: SecretContext): SealedSecret {
    return this.seal(this.open(sealed, context), context);
  }

  /**
   * Seals a fixed value under a context no secret can have. Store it once; {@link verifyCanary} at
   * every startup then detects a wrong key even when no secret exists yet.
   */
  sealCanary(): SealedSecret {
    return this.#seal(Buffer.from(CANARY_PLAINTEXT), associatedData(Purpose.Canary, { scope: '', key: '' }));
  }

  /**
   * Checks a canary made by {@link sealCanary}; returns normally when a configured key opens it.
   * Call {@link needsReseal} on it afterwards to move it to the current key.
   *
   * @throws {@link SecretDecryptError} whose message tells the operator which key is missing.
   */
  verifyCanary(sealed: SealedSecret): void {
    assertSealedShape(sealed);
    const entry = this.#byId.get(sealed.keyId);
    if (entry === undefined) {
      throw new SecretDecryptError(
        'unknown_key',
        `the configured encryption key does not match this installation: its stored key check was sealed with key ` +
          `${sealed.keyId}, but the configured keys are ${this.#describeKeys()}; start with the key this installation ` +
          `was set up with in GOFER_ENCRYPTION_KEY (or, while rotating, list it in GOFER_PREVIOUS_ENCRYPTION_KEYS)`,
        sealed.keyId,
      );
    }
    const plaintext = this.#open(entry, sealed, associatedData(Purpose.Canary, { scope: '', key: '' }));
    if (plaintext === undefined || plaintext.toString() !== CANARY_PLAINTEXT) {
      throw new SecretDecryptError(
        'authentication_failed',
        `the stored encryption key check (sealed with key ${entry.id}) failed authentication although that key is ` +
          'configured: the stored value was modified; restore it from a backup or delete it to store a new one',
        sealed.keyId,
      );
    }
  }

  [inspect.custom](): string {
    return `Keyring { current: ${this.#current.id}, keys: [${this.keyIds.join(', ')}] }`;
  }

  toJSON(): { currentKeyId: string; keyIds: string[] } {
    return { currentKeyId: this.currentKeyId, keyIds: this.keyIds };
  }

  #add(key: Buffer, what: string): KeyEntry {
    if (!Buffer.isBuffer(key) || key.length !== ENCRYPTION_KEY_BYTES) {
      throw new EncryptionKeyError(`${what} must be ${ENCRYPTION_KEY_BYTES} bytes; got ${Buffer.isBuffer(key) ? key.length : typeof key}`);
    }
    const id = encryptionKeyId(key);
    const known = this.#byId.get(id);
    if (known) return known;
    // A derived sealing key keeps the AES key separate from the one the fingerprint is computed with.
    const entry = { id, sealingKey: Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'gofer secret sealing v1', 32)) };
    this.#byId.set(id, entry);
    return entry;
  }

  #entryFor(sealed: SealedSecret, secret: string): KeyEntry {
    assertSealedShape(sealed);
    const entry = this.#byId.get(sealed.keyId);
    if (entry === undefined) {
      throw new SecretDecryptError(
        'unknown_key',
        `${secret} was sealed with key ${sealed.keyId}, which is not configured: set ${KEY_SETTINGS} to the key it ` +
          `was sealed with (configured keys: ${this.#describeKeys()})`,
        sealed.keyId,
      );
    }
    return entry;
  }

  #seal(plaintext: Buffer, aad: Buffer): SealedSecret {
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#current.sealingKey, nonce, { authTagLength: TAG_BYTES });
    cipher.setAAD(aad);
    const ciphertext = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    plaintext.fill(0);
    return { keyId: this.#current.id, nonce, ciphertext };
  }

  /** The plaintext, or undefined when authentication fails. */
  #open(entry: KeyEntry, sealed: SealedSecret, aad: Buffer): Buffer | undefined {
    const body = sealed.ciphertext.subarray(0, sealed.ciphertext.length - TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', entry.sealingKey, sealed.nonce, { authTagLength: TAG_BYTES });
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.ciphertext.subarray(sealed.ciphertext.length - TAG_BYTES));
    const plaintext = decipher.update(body);
    try {
      return Buffer.concat([plaintext, decipher.final()]);
    } catch {
      return undefined;
    } finally {
      plaintext.fill(0);
    }
  }

  #describeKeys(): string {
    return this.keyIds.map((id) => (id === this.#current.id ? `${id} (current)` : id)).join(', ');
  }
}

/**
 * Associated data: format version, purpose, then scope and key each prefixed with their UTF-8 byte
 * length, so no two different contexts encode alike (("a", "bc") ≠ ("ab", "c")).
 */
function associatedData(purpose: Purpose, context: SecretContext): Buffer {
  const scope = wellFormedUtf8(context.scope, 'scope');
  const key = wellFormedUtf8(context.key, 'key');
  const aad = Buffer.alloc(2 + 4 + scope.length + 4 + key.length);
  aad.writeUInt8(FORMAT_VERSION, 0);
  aad.writeUInt8(purpose, 1);
  aad.writeUInt32BE(scope.length, 2);
  scope.copy(aad, 6);
  aad.writeUInt32BE(key.length, 6 + scope.length);
  key.copy(aad, 10 + scope.length);
  return aad;
}

// A lone UTF-16 surrogate encodes as U+FFFD, which would make two different names share a context.
function wellFormedUtf8(text: string, what: string): Buffer {
  if (typeof text !== 'string') throw new TypeError(`secret ${what} must be a string`);
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.toString('utf8') !== text) throw new TypeError(`secret ${what} is not well-formed Unicode`);
  return bytes;
}
