/**
 * Queue names and job payloads. DO NOT CHANGE THE VALUES OF THIS ENUM: queue names are a wire contract
 * between API and worker replicas of different versions during a rolling deploy.
 */
export enum QueueName {
  Tasks = 'gofer-tasks',
}

/** Identifies one attempt of one task run. Payloads carry ids only; workers reload rows from Postgres. */
export interface TaskAttemptKey {
  namespaceId: string;
  pipelineId: string;
  runId: number;
  taskId: string;
  attempt: number;
}

export type GoferJob = { name: 'task'; queue: QueueName.Tasks; data: TaskAttemptKey };

/**
 * Deterministic BullMQ job id of a task attempt: adding it twice is a no-op, so the reconciler and the
 * engine can both enqueue freely. Ids never contain `:` (BullMQ reserves it); `.` cannot appear in
 * namespace, pipeline or task ids, so the parts cannot run into each other.
 */
export function taskJobId(key: TaskAttemptKey): string {
  return `${key.namespaceId}.${key.pipelineId}.${key.runId}.${key.taskId}.${key.attempt}`;
}


/** A task attempt's ids as structured log fields (`run_id`, `task_id` …), never interpolated. */
export function attemptLogFields(key: TaskAttemptKey) {
  return { namespace_id: key.namespaceId, pipeline_id: key.pipelineId, run_id: key.runId, task_id: key.taskId, attempt: key.attempt };
}
