import { Inject, Injectable } from '@nestjs/common';
import { In, Not, type DataSource, type EntityManager } from 'typeorm';
import { DATA_SOURCE } from '../dal.tokens.js';
import { SecretEntity } from '../entities/secret.entity.js';

/** A secret's scope columns: a pipeline's, or `''`/`''` for a global secret. */
export interface SecretOwner {
  namespaceId: string;
  pipelineId: string;
}

/** The `secrets` table: sealed values (key id, nonce, ciphertext) of pipeline and global secrets. */
@Injectable()
export class SecretsRepository {
  constructor(@Inject(DATA_SOURCE) private readonly db: DataSource) {}

  /** Whether the pipeline a pipeline secret belongs to exists. */
  /** How many secrets are stored (all scopes). */
  async count(): Promise<number> {
    return this.db.manager.countBy(SecretEntity, {});
  }

  /** The key ids secrets are sealed with that are not among `keyIds` (each once). */
  async keyIdsOtherThan(keyIds: readonly string[]): Promise<string[]> {
    const rows = await this.db.manager
      .createQueryBuilder(SecretEntity, 's')
      .select('DISTINCT s.key_id', 'key_id')
      .where('s.key_id NOT IN (:...ids)', { ids: keyIds })
      .getRawMany<{ key_id: string }>();
    return rows.map((row) => row.key_id);
  }

  /** Inserts a sealed secret, or replaces the one with its scope and key. */
  async upsert(
    m: EntityManager,
    secret: SecretOwner & Pick<SecretEntity, 'key' | 'keyId' | 'nonce' | 'ciphertext'> & { namespaces: readonly string[]; now: Date },
  ): Promise<void> {
    await m.query(
      `INSERT INTO secrets (namespace_id, pipeline_id, key, key_id, nonce, ciphertext, namespaces, created, updated)
           VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $8)
           ON CONFLICT (namespace_id, pipeline_id, key) DO UPDATE
             SET key_id = excluded.key_id, nonce = excluded.nonce, ciphertext = excluded.ciphertext,
                 namespaces = excluded.namespaces, updated = excluded.updated`,
      [secret.namespaceId, secret.pipelineId, secret.key, secret.keyId, secret.nonce, secret.ciphertext, JSON.stringify(secret.namespaces), secret.now],
    );
  }

  /** The secret `key` of `owner`, read in transaction `m`; throws if there is none. */
  async getIn(m: EntityManager, owner: SecretOwner, key: string): Promise<SecretEntity> {
    return m.findOneByOrFail(SecretEntity, { namespaceId: owner.namespaceId, pipelineId: owner.pipelineId, key });
  }

  async find(owner: SecretOwner, key: string): Promise<SecretEntity | null> {
    return this.db.manager.findOneBy(SecretEntity, { namespaceId: owner.namespaceId, pipelineId: owner.pipelineId, key });
  }

  /** An owner's secrets, by key. */
  async list(owner: SecretOwner): Promise<SecretEntity[]> {
    return this.db.manager.find(SecretEntity, { where: { namespaceId: owner.namespaceId, pipelineId: owner.pipelineId }, order: { key: 'ASC' } });
  }

  /** The owner's secrets with one of `keys` (those that exist). */
  async findByKeys(owner: SecretOwner, keys: string[]): Promise<SecretEntity[]> {
    return this.db.manager.findBy(SecretEntity, { namespaceId: owner.namespaceId, pipelineId: owner.pipelineId, key: In(keys) });
  }

  /** Deletes the secret `key` of `owner`; whether there was one. */
  async delete(m: EntityManager, owner: SecretOwner, key: string): Promise<boolean> {
    const deleted = await m.delete(SecretEntity, { namespaceId: owner.namespaceId, pipelineId: owner.pipelineId, key });
    return Boolean(deleted.affected);
  }

  /** Up to `limit` secrets not sealed with `keyId`, locked (skipping those another transaction holds). */
  async lockNotSealedWith(m: EntityManager, keyId: string, limit: number): Promise<SecretEntity[]> {
    return m.find(SecretEntity, {
      where: { keyId: Not(keyId) },
      take: limit,
      lock: { mode: 'pessimistic_write', onLocked: 'skip_locked' },
    });
  }

  /** Replaces a secret's sealed value, if it is still sealed with the key id `row` was read with. */
  async reseal(
    m: EntityManager,
    row: Pick<SecretEntity, 'namespaceId' | 'pipelineId' | 'key' | 'keyId'>,
    sealed: Pick<SecretEntity, 'keyId' | 'nonce' | 'ciphertext'>,
  ): Promise<void> {
    await m.update(
      SecretEntity,
      { namespaceId: row.namespaceId, pipelineId: row.pipelineId, key: row.key, keyId: row.keyId },
      { keyId: sealed.keyId, nonce: sealed.nonce, ciphertext: sealed.ciphertext },
    );
  }
}
