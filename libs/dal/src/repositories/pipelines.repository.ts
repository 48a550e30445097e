import type { EntityManager } from 'typeorm';

/**
 * Inserts a pipeline unless it exists, continuing the version and run counters of a deleted pipeline
 * of the same id (`retired_pipelines`); true when it inserted.
 */
export async function insertPipelineIfAbsent(
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
export async function catchUpRetiredCounters(m: EntityManager, namespaceId: string, pipelineId: string): Promise<void> {
  await m.query(
    `UPDATE pipelines p SET latest_version = GREATEST(p.latest_version, r.last_version),
                  last_run_id = GREATEST(p.last_run_id, r.last_run_id)
             FROM retired_pipelines r
            WHERE r.namespace_id = $1 AND r.pipeline_id = $2 AND p.namespace_id = $1 AND p.id = $2`,
    [namespaceId, pipelineId],
  );
}

/**
 * Keeps the counters of pipelines about to be deleted (one, or every one of a namespace), so a pipeline
 * created again under the same id continues its run ids and versions.
 */
export async function retirePipelineCounters(m: EntityManager, namespaceId: string, pipelineId?: string): Promise<void> {
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
