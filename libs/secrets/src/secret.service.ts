import { Inject, Injectable } from '@nestjs/common';
import { GOFER_CONFIG, type GoferConfig } from '@gofer/config';
import { ClusterRepository, PipelinesRepository, SecretsRepository, Transactions, type SecretEntity } from '@gofer/dal';
import { INTERPOLATION_KEY_PATTERN } from '@gofer/pipeline';
import { Keyring } from './keyring.js';
import { decodeSealed, encodeSealed, type SealedSecret } from './sealed-secret.js';
import { SecretDecryptError } from './secret-errors.js';
import type { Logger } from 'pino';
import { LOGGER } from '@gofer/config';
import { failedPrecondition, invalidArgument, notFound } from '@gofer/errors';
import { EventLog } from '@gofer/events';
import { namespaceMatches, validateNamespacePatterns } from '@gofer/auth';

/** A pipeline's secrets, or the global ones. */
export type SecretScope = { namespaceId: string; pipelineId: string } | 'global';

/** The encryption key is missing, malformed or not the one the stored secrets were sealed with. */
export class EncryptionKeyMismatchError extends Error {
  override readonly name = 'EncryptionKeyMismatchError';
}

const MAX_VALUE_BYTES = 64 * 1024;
const RESEAL_BATCH = 100;

function scopeText(scope: SecretScope): string {
  return scope === 'global' ? 'global' : `pipeline:${scope.namespaceId}/${scope.pipelineId}`;
}

function scopeColumns(scope: SecretScope): { namespaceId: string; pipelineId: string } {
  return scope === 'global' ? { namespaceId: '', pipelineId: '' } : scope;
}

function describeScope(scope: SecretScope): string {
  return scope === 'global' ? 'global secret' : `secret of pipeline "${scope.pipelineId}"`;
}

/**
 * The secret store: values sealed with AES-256-GCM (scope and key as associated data, so a ciphertext
 * moved to another row does not open), under a keyring whose current key seals and whose previous keys
 * still open (key rotation). Values leave only through {@link get} with `includeValue` and through
 * {@link resolve} for a task's container.
 */
@Injectable()
export class SecretService {
  private readonly keyring: Keyring | undefined;

  constructor(
    private readonly transactions: Transactions,
    private readonly secrets: SecretsRepository,
    private readonly pipelines: PipelinesRepository,
    private readonly cluster: ClusterRepository,
    @Inject(GOFER_CONFIG) config: GoferConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly events: EventLog,
  ) {
    // A malformed key throws EncryptionKeyError here: the service does not start.
    this.keyring = config.encryptionKey ? Keyring.parse(config.encryptionKey, config.previousEncryptionKeys) : undefined;
  }

  get enabled(): boolean {
    return this.keyring !== undefined;
  }

  /**
   * Startup check: the configured key must open what is stored. The first start with a key stores a
   * sealed canary, so even a cluster without secrets notices a changed key.
   */
  async verifyKey(): Promise<void> {
    const cluster = await this.cluster.get();
    if (!this.keyring) {
      const sealed = await this.secrets.count();
      if (sealed > 0 || cluster.keyCanary) {
        throw new EncryptionKeyMismatchError(
          `GOFER_ENCRYPTION_KEY is not set, but this cluster's secrets were sealed with a key (${sealed} secret(s)); set it to that key`,
        );
      }
      return;
    }
    if (!cluster.keyCanary) {
      await this.cluster.setKeyCanaryIfUnset(encodeSealed(this.keyring.sealCanary()));
    } else {
      try {
        this.keyring.verifyCanary(decodeSealed(cluster.keyCanary));
      } catch (error) {
        throw new EncryptionKeyMismatchError(
          `GOFER_ENCRYPTION_KEY does not open this cluster's secrets: ${(error as Error).message}. ` +
            'Start with the key the secrets were sealed with (during a rotation, list the old one in GOFER_PREVIOUS_ENCRYPTION_KEYS)',
        );
      }
    }
    const unknown = await this.secrets.keyIdsOtherThan(this.keyring.keyIds);
    if (unknown.length > 0) {
      throw new EncryptionKeyMismatchError(
        `some secrets are sealed with key(s) ${unknown.join(', ')}, which GOFER_ENCRYPTION_KEY / GOFER_PREVIOUS_ENCRYPTION_KEYS do not include`,
      );
    }
  }

  private requireKeyring(): Keyring {
    if (!this.keyring) {
      throw failedPrecondition('the secret store is off: start Gofer with GOFER_ENCRYPTION_KEY (32 bytes as base64, e.g. from `openssl rand -base64 32`)');
    }
    return this.keyring;
  }

  async put(scope: SecretScope, key: string, value: string, namespaces: string[] = []): Promise<SecretEntity> {
    const keyring = this.requireKeyring();
    const problems: string[] = [];
    if (!INTERPOLATION_KEY_PATTERN.test(key)) problems.push(`key: "${key.slice(0, 64)}" is not a valid secret key (1-256 of A-Z a-z 0-9 _ . -)`);
    if (Buffer.byteLength(value) > MAX_VALUE_BYTES) problems.push(`value: ${Buffer.byteLength(value)} bytes, the limit is ${MAX_VALUE_BYTES}`);
    if (value.includes('\0')) problems.push('value: contains a NUL byte (secrets reach containers as environment variables)');
    if (scope === 'global') {
      if (namespaces.length === 0) problems.push('namespaces: a global secret needs at least one namespace (exact name or /regex/)');
      problems.push(...validateNamespacePatterns(namespaces));
    }
    if (problems.length > 0) throw invalidArgument(problems.join('\n'));
    if (scope !== 'global' && !(await this.pipelines.exists(scope.namespaceId, scope.pipelineId))) {
      throw notFound(`pipeline "${scope.pipelineId}" not found in namespace "${scope.namespaceId}"`);
    }
    const sealed = keyring.seal(value, { scope: scopeText(scope), key });
    const columns = scopeColumns(scope);
    const now = new Date();
    return this.transactions.once(async (m) => {
      await this.secrets.upsert(m, {
        ...columns, key, keyId: sealed.keyId, nonce: sealed.nonce, ciphertext: sealed.ciphertext, namespaces, now,
      });
      await this.events.append(m, { kind: 'secret_put', ...columns, details: { key, scope: scope === 'global' ? 'global' : 'pipeline' } });
      return this.secrets.getIn(m, columns, key);
    });
  }

  async get(scope: SecretScope, key: string, includeValue: boolean): Promise<{ secret: SecretEntity; value?: string }> {
    const secret = await this.secrets.find(scopeColumns(scope), key);
    if (!secret) throw notFound(`${describeScope(scope)} "${key}" not found`);
    if (!includeValue) return { secret };
    return { secret, value: this.open(secret, scope) };
  }

  async list(scope: SecretScope): Promise<SecretEntity[]> {
    return this.secrets.list(scopeColumns(scope));
  }

  async delete(scope: SecretScope, key: string): Promise<void> {
    const columns = scopeColumns(scope);
    await this.transactions.once(async (m) => {
      if (!(await this.secrets.delete(m, columns, key))) throw notFound(`${describeScope(scope)} "${key}" not found`);
      await this.events.append(m, { kind: 'secret_deleted', ...columns, details: { key, scope: scope === 'global' ? 'global' : 'pipeline' } });
    });
  }

  /**
   * The values a task's interpolations name, for its container only. A missing key, or a global secret
   * its namespace may not use, is named in the error (the task fails with failed_precondition).
   */
  async resolve(namespaceId: string, pipelineId: string, refs: { pipeline: string[]; global: string[] }): Promise<{
    pipeline: Map<string, string>;
    global: Map<string, string>;
    missing: string[];
  }> {
    const pipeline = new Map<string, string>();
    const global = new Map<string, string>();
    const missing: string[] = [];
    if (refs.pipeline.length === 0 && refs.global.length === 0) return { pipeline, global, missing };
    if (!this.keyring) {
      return { pipeline, global, missing: ['the secret store is off (GOFER_ENCRYPTION_KEY is not set)'] };
    }
    if (refs.pipeline.length > 0) {
      const scope = { namespaceId, pipelineId };
      const rows = await this.secrets.findByKeys(scope, refs.pipeline);
      for (const row of rows) pipeline.set(row.key, this.open(row, scope));
      for (const key of refs.pipeline) if (!pipeline.has(key)) missing.push(`pipeline secret "${key}" does not exist`);
    }
    if (refs.global.length > 0) {
      const rows = await this.secrets.findByKeys(scopeColumns('global'), refs.global);
      for (const row of rows) {
        if (row.namespaces.some((pattern) => namespaceMatches(pattern, namespaceId))) global.set(row.key, this.open(row, 'global'));
        else missing.push(`global secret "${row.key}" may not be used in namespace "${namespaceId}"`);
      }
      for (const key of refs.global) {
        if (!global.has(key) && !rows.some((row) => row.key === key)) missing.push(`global secret "${key}" does not exist`);
      }
    }
    return { pipeline, global, missing };
  }

  private open(row: SecretEntity, scope: SecretScope): string {
    const sealed: SealedSecret = { keyId: row.keyId, nonce: row.nonce, ciphertext: row.ciphertext };
    try {
      return this.requireKeyring().open(sealed, { scope: scopeText(scope), key: row.key });
    } catch (error) {
      if (error instanceof SecretDecryptError) {
        this.logger.error({ key: row.key, scope: scopeText(scope), reason: error.reason }, 'a stored secret does not decrypt');
        throw failedPrecondition(`${describeScope(scope)} "${row.key}" cannot be decrypted: ${error.message}`);
      }
      throw error;
    }
  }

  /**
   * Re-seals every secret (and the canary) not sealed with the current key, in small transactions, while
   * the service keeps running. Returns how many were re-sealed.
   */
  async rotate(): Promise<number> {
    const keyring = this.requireKeyring();
    let resealed = 0;
    for (;;) {
      const batch = await this.transactions.once(async (m) => {
        const rows = await this.secrets.lockNotSealedWith(m, keyring.currentKeyId, RESEAL_BATCH);
        for (const row of rows) {
          const scope: SecretScope = row.pipelineId === '' ? 'global' : { namespaceId: row.namespaceId, pipelineId: row.pipelineId };
          const sealed = keyring.reseal({ keyId: row.keyId, nonce: row.nonce, ciphertext: row.ciphertext }, { scope: scopeText(scope), key: row.key });
          await this.secrets.reseal(m, row, sealed);
        }
        return rows.length;
      });
      resealed += batch;
      if (batch < RESEAL_BATCH) break;
    }
    await this.cluster.setKeyCanary(encodeSealed(keyring.sealCanary()));
    this.logger.info({ resealed, key_id: keyring.currentKeyId }, 'secrets re-sealed with the current key');
    return resealed;
  }
}
