import { Inject, Injectable } from '@nestjs/common';
import { In, type DataSource, type EntityManager } from 'typeorm';
import { DATA_SOURCE } from '../dal.tokens.js';
import { ObjectEntity } from '../entities/object.entity.js';

/** Whose objects: a pipeline's (`runId` 0) or one run's. */
export interface ObjectOwner {
  namespaceId: string;
  pipelineId: string;
  runId: number;
}

function ownerColumns(owner: ObjectOwner): ObjectOwner {
  return { namespaceId: owner.namespaceId, pipelineId: owner.pipelineId, runId: owner.runId };
}

/** The `objects` table: which pipeline and run objects exist and where their content is stored. */
@Injectable()
export class ObjectsRepository {
  constructor(@Inject(DATA_SOURCE) private readonly db: DataSource) {}

  async find(owner: ObjectOwner, key: string): Promise<ObjectEntity | null> {
    return this.db.manager.findOneBy(ObjectEntity, { ...ownerColumns(owner), key });
  }

  /** The object `key` of `owner`, read in transaction `m`. */
  async findIn(m: EntityManager, owner: ObjectOwner, key: string): Promise<ObjectEntity | null> {
    return m.findOneBy(ObjectEntity, { ...ownerColumns(owner), key });
  }

  /** Records an object (replacing the row with its owner and key); the saved row. */
  async save(
    m: EntityManager,
    object: ObjectOwner & Pick<ObjectEntity, 'key' | 'size' | 'sha256' | 'storageKey' | 'created'>,
  ): Promise<ObjectEntity> {
    const row = m.create(ObjectEntity, {
      ...ownerColumns(object), key: object.key, size: object.size, sha256: object.sha256, storageKey: object.storageKey, created: object.created,
    });
    await m.save(row);
    return row;
  }

  /** An owner's objects, newest first (then by key). */
  async list(owner: ObjectOwner): Promise<ObjectEntity[]> {
    return this.db.manager.find(ObjectEntity, { where: ownerColumns(owner), order: { created: 'DESC', key: 'ASC' } });
  }

  /** An owner's objects past its newest `limit` (newest first, then by key), read in transaction `m`. */
  async findPastNewest(m: EntityManager, owner: ObjectOwner, limit: number): Promise<ObjectEntity[]> {
    return m.find(ObjectEntity, { where: ownerColumns(owner), order: { created: 'DESC', key: 'ASC' }, skip: limit });
  }

  /** The owner's objects with one of `keys` (those that exist). */
  async findByKeys(owner: ObjectOwner, keys: string[]): Promise<ObjectEntity[]> {
    return this.db.manager.findBy(ObjectEntity, { ...ownerColumns(owner), key: In(keys) });
  }

  async delete(m: EntityManager, owner: ObjectOwner, key: string): Promise<void> {
    await m.delete(ObjectEntity, { ...ownerColumns(owner), key });
  }

  async deleteKeys(m: EntityManager, owner: ObjectOwner, keys: string[]): Promise<void> {
    await m.delete(ObjectEntity, { ...ownerColumns(owner), key: In(keys) });
  }

  /** Deletes the objects of a pipeline's runs 1…`lastRunId`; what each was and where its content is. */
  async deleteRunObjectsUpTo(
    m: EntityManager,
    namespaceId: string,
    pipelineId: string,
    lastRunId: number,
  ): Promise<Array<{ run_id: number; key: string; storage_key: string }>> {
    const [rows] = (await m.query(
      `DELETE FROM objects WHERE namespace_id = $1 AND pipeline_id = $2 AND run_id BETWEEN 1 AND $3
           RETURNING run_id, key, storage_key`,
      [namespaceId, pipelineId, lastRunId],
    )) as [Array<{ run_id: number; key: string; storage_key: string }>, number];
    return rows;
  }
}
