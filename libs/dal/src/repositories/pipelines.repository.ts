import { Inject, Injectable } from '@nestjs/common';
import { In, type DataSource, type EntityManager } from 'typeorm';
import { DATA_SOURCE } from '../dal.tokens.js';
import { PipelineEntity, type PipelineState } from '../entities/pipeline.entity.js';
import { RunEntity } from '../entities/run.entity.js';
import { SecretEntity } from '../entities/secret.entity.js';

/**
 * The `pipelines` table (with `retired_pipelines`, which keeps the counters of deleted ones). Methods
 * taking an `EntityManager` run in the caller's transaction.
 */
@Injectable()
export class PipelinesRepository {
  constructor(@Inject(DATA_SOURCE) private readonly db: DataSource) {}

  /**
   * Inserts a pipeline unless it exists, continuing the version and run counters of a deleted pipeline
   * of the same id (`retired_pipelines`); true when it inserted.
   */
  async insertIfAbsent(
    m: EntityManager,
    pipeline: { namespaceId: string; id: string; name: string; description: string; parallelism: number },
  ): Promise<boolean> {
    const created = (await m.query(
      `INSERT INTO pipelines (namespace_id, id, name, description, state, parallelism, latest_version, last_run_id)
         SELECT $1, $2, $3, $4, 'enabled', $5, COALESCE(r.last_version, 0), COALESCE(r.last_run_id, 0)
           FROM (SELECT 1) AS one LEFT JOIN retired_pipelines r ON r.namespace_id = $1 AND r.pipeline_id = $2
         ON CONFLICT DO NOTHING RETURNING id`,
      [pipeline.namespaceId, pipeline.id, pipeline.name, pipeline.description, pipeline.parallelism],
    )) as unknown[];
    return created.length > 0;
  }

  /** Raises a pipeline's counters to those of its retired predecessor (read again after a racing delete committed). */
  async catchUpRetiredCounters(m: EntityManager, namespaceId: string, pipelineId: string): Promise<void> {
    await m.query(
      `UPDATE pipelines p SET latest_version = GREATEST(p.latest_version, r.last_version),
                  last_run_id = GREATEST(p.last_run_id, r.last_run_id)
             FROM retired_pipelines r
            WHERE r.namespace_id = $1 AND r.pipeline_id = $2 AND p.namespace_id = $1 AND p.id = $2`,
      [namespaceId, pipelineId],
    );
  }

  exists(namespaceId: string, id: string): Promise<boolean> {
    return this.db.manager.existsBy(PipelineEntity, { namespaceId, id });
  }

  find(namespaceId: string, id: string): Promise<PipelineEntity | null> {
    return this.db.manager.findOneBy(PipelineEntity, { namespaceId, id });
  }

  /** A namespace's pipelines, by id. */
  list(namespaceId: string): Promise<PipelineEntity[]> {
    return this.db.manager.find(PipelineEntity, { where: { namespaceId }, order: { id: 'ASC' } });
  }

  /** The pipeline with its row locked (`FOR UPDATE`) until the transaction ends; null if absent. */
  lock(m: EntityManager, namespaceId: string, id: string): Promise<PipelineEntity | null> {
    return m.findOne(PipelineEntity, { where: { namespaceId, id }, lock: { mode: 'pessimistic_write' } });
  }

  /** Every pipeline of a namespace, their rows locked (`FOR UPDATE`) until the transaction ends. */
  lockAllOf(m: EntityManager, namespaceId: string): Promise<PipelineEntity[]> {
    return m.find(PipelineEntity, { where: { namespaceId }, lock: { mode: 'pessimistic_write' } });
  }

  async save(m: EntityManager, pipeline: PipelineEntity): Promise<void> {
    await m.save(pipeline);
  }

  /** Sets a pipeline's state; false when there is no such pipeline. */
  async setState(m: EntityManager, namespaceId: string, id: string, state: PipelineState): Promise<boolean> {
    const result = await m.update(PipelineEntity, { namespaceId, id }, { state, updated: new Date() });
    return !!result.affected;
  }

  /** How many runs of a pipeline (or of every pipeline of a namespace) are pending or running. */
  countUnfinishedRuns(m: EntityManager, namespaceId: string, pipelineId?: string): Promise<number> {
    const state = In(['pending', 'running']);
    return m.countBy(RunEntity, pipelineId === undefined ? { namespaceId, state } : { namespaceId, pipelineId, state });
  }

  /**
   * Deletes a pipeline (or every pipeline of a namespace) with its secrets, first keeping its counters
   * (`retired_pipelines`) so a pipeline created again under the same id never re-uses a run id or a
   * config version. Configs, runs, task runs and objects cascade.
   */
  async delete(m: EntityManager, namespaceId: string, pipelineId?: string): Promise<void> {
    await m.delete(SecretEntity, pipelineId === undefined ? { namespaceId } : { namespaceId, pipelineId });
    await this.retireCounters(m, namespaceId, pipelineId);
    await m.delete(PipelineEntity, pipelineId === undefined ? { namespaceId } : { namespaceId, id: pipelineId });
  }

  /**
   * Keeps the counters of pipelines about to be deleted (one, or every one of a namespace), so a pipeline
   * created again under the same id continues its run ids and versions.
   */
  private async retireCounters(m: EntityManager, namespaceId: string, pipelineId?: string): Promise<void> {
    await m.query(
      `INSERT INTO retired_pipelines (namespace_id, pipeline_id, last_run_id, last_version)
     SELECT namespace_id, id, last_run_id, latest_version FROM pipelines
      WHERE namespace_id = $1 AND ($2::text IS NULL OR id = $2)
     ON CONFLICT (namespace_id, pipeline_id) DO UPDATE
       SET last_run_id = GREATEST(retired_pipelines.last_run_id, EXCLUDED.last_run_id),
           last_version = GREATEST(retired_pipelines.last_version, EXCLUDED.last_version)`,
      [namespaceId, pipelineId ?? null],
    );
  }
}
