import type { EntityManager } from 'typeorm';

/** Deletes the objects of a pipeline's runs 1…`lastRunId`; what each was and where its content is. */
export async function deleteRunObjectsUpTo(
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
