import { Inject, Injectable } from '@nestjs/common';
import { IsNull, type DataSource, type EntityManager } from 'typeorm';
import { DATA_SOURCE } from '../dal.tokens.js';
import { ClusterEntity } from '../entities/cluster.entity.js';
import { TokenEntity } from '../entities/token.entity.js';
import { literal } from '../statement.js';

/** Deletes the tokens of a run (`inject_api_token`), in the transaction that completes the run. */
export function deleteRunTokensSql(run: { namespaceId: string; pipelineId: string; runId: number }): string {
  return `DELETE FROM tokens WHERE run_namespace_id = ${literal(run.namespaceId)} AND run_pipeline_id = ${literal(run.pipelineId)} AND run_id = ${literal(run.runId)}`;
}

/** The `tokens` table. Methods taking an `EntityManager` run in the caller's transaction. */
@Injectable()
export class TokensRepository {
  constructor(@Inject(DATA_SOURCE) private readonly db: DataSource) {}

  /**
   * Marks the cluster as bootstrapped (its `cluster` row's `bootstrapped`), unless it already is: true
   * when this call claimed it, so the first management token is issued only once.
   */
  async claimBootstrap(m: EntityManager): Promise<boolean> {
    const claimed = await m.update(ClusterEntity, { singleton: 1, bootstrapped: IsNull() }, { bootstrapped: new Date() });
    return !!claimed.affected;
  }

  /** Inserts a token; the entity inserted. */
  async insert(m: EntityManager, fields: TokenEntity): Promise<TokenEntity> {
    const token = m.create(TokenEntity, fields);
    await m.insert(TokenEntity, token);
    return token;
  }

  /** The token whose secret has this SHA-256. */
  findByHash(hash: Buffer): Promise<TokenEntity | null> {
    return this.db.manager.findOneBy(TokenEntity, { hash });
  }

  find(id: string): Promise<TokenEntity | null> {
    return this.db.manager.findOneBy(TokenEntity, { id });
  }

  /** Every token, oldest first. */
  list(): Promise<TokenEntity[]> {
    return this.db.manager.find(TokenEntity, { order: { created: 'ASC', id: 'ASC' } });
  }

  /** Deletes a token; false when there is no such token. */
  async delete(m: EntityManager, id: string): Promise<boolean> {
    const deleted = await m.delete(TokenEntity, { id });
    return !!deleted.affected;
  }

  /** Disables or enables a token; false when there is no such token. */
  async setDisabled(m: EntityManager, id: string, disabled: boolean): Promise<boolean> {
    const updated = await m.update(TokenEntity, { id }, { disabled });
    return !!updated.affected;
  }
}
