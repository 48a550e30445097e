import { Inject, Injectable } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import { DATA_SOURCE } from '../dal.tokens.js';
import { NamespaceEntity } from '../entities/namespace.entity.js';

/** The `namespaces` table. Methods taking an `EntityManager` run in the caller's transaction. */
@Injectable()
export class NamespacesRepository {
  constructor(@Inject(DATA_SOURCE) private readonly db: DataSource) {}

  /** Inserts a namespace unless one has its id; true when it inserted. */
  async insertIfAbsent(
    m: EntityManager,
    namespace: { id: string; name: string; description: string; created: Date },
  ): Promise<boolean> {
    const inserted = (await m.query(
      `INSERT INTO namespaces (id, name, description, created, updated) VALUES ($1, $2, $3, $4, $4)
         ON CONFLICT DO NOTHING RETURNING id`,
      [namespace.id, namespace.name, namespace.description, namespace.created],
    )) as unknown[];
    return inserted.length > 0;
  }

  /** The namespace, read in a transaction that just wrote it (throws if absent). */
  getIn(m: EntityManager, id: string): Promise<NamespaceEntity> {
    return m.findOneByOrFail(NamespaceEntity, { id });
  }

  find(id: string): Promise<NamespaceEntity | null> {
    return this.db.manager.findOneBy(NamespaceEntity, { id });
  }

  /** Every namespace, by id. */
  list(): Promise<NamespaceEntity[]> {
    return this.db.manager.find(NamespaceEntity, { order: { id: 'ASC' } });
  }

  exists(m: EntityManager, id: string): Promise<boolean> {
    return m.existsBy(NamespaceEntity, { id });
  }

  /** The namespace with its row locked (`FOR UPDATE`) until the transaction ends; null if absent. */
  lock(m: EntityManager, id: string): Promise<NamespaceEntity | null> {
    return m.findOne(NamespaceEntity, { where: { id }, lock: { mode: 'pessimistic_write' } });
  }

  async delete(m: EntityManager, id: string): Promise<void> {
    await m.delete(NamespaceEntity, { id });
  }
}
