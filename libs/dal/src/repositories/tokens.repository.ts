import { literal } from '../statement.js';

/** Deletes the tokens of a run (`inject_api_token`), in the transaction that completes the run. */
export function deleteRunTokensSql(run: { namespaceId: string; pipelineId: string; runId: number }): string {
  return `DELETE FROM tokens WHERE run_namespace_id = ${literal(run.namespaceId)} AND run_pipeline_id = ${literal(run.pipelineId)} AND run_id = ${literal(run.runId)}`;
}
