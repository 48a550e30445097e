/**
 * A task attempt's identity and every spelling of it: the BullMQ job id, the container's name and
 * labels, the live log's Redis key, the archived log's storage key and the structured log fields.
 *
 * DO NOT CHANGE ANY SPELLING. They are a wire and storage contract: workers of different versions
 * adopt each other's containers by name, the reaper finds them by label, and archived logs of past runs
 * are read back by key. `task-attempt-key.spec.ts` pins each one on fixed inputs.
 */

/** Identifies one attempt of one task run. Payloads carry ids only; workers reload rows from Postgres. */
export interface TaskAttemptKey {
  namespaceId: string;
  pipelineId: string;
  runId: number;
  taskId: string;
  attempt: number;
}

/**
 * Deterministic BullMQ job id of a task attempt: adding it twice is a no-op, so the reconciler and the
 * engine can both enqueue freely. Ids never contain `:` (BullMQ reserves it); `.` cannot appear in
 * namespace, pipeline or task ids, so the parts cannot run into each other.
 *
 * @example taskJobId(key) === 'default.hello.12.greet.2'
 */
export function taskJobId(key: TaskAttemptKey): string {
  return `${key.namespaceId}.${key.pipelineId}.${key.runId}.${key.taskId}.${key.attempt}`;
}

/**
 * Container name of a task attempt: deterministic, so a second worker finds (adopts) it instead of
 * starting the task twice (docs/design.md §4). Only the first 8 characters of the cluster id go in.
 *
 * @example taskContainerName('0123456789ab', key) === 'gofer.01234567.default.hello.12.greet.2'
 */
export function taskContainerName(clusterId: string, key: TaskAttemptKey): string {
  return `gofer.${clusterId.slice(0, 8)}.${key.namespaceId}.${key.pipelineId}.${key.runId}.${key.taskId}.${key.attempt}`;
}

const CLUSTER_LABEL = 'gofer.cluster';

/**
 * The label every container of a cluster carries (task attempts' and, later, triggers'): the filter
 * that lists them. Which of them are task attempts' is {@link parseTaskAttemptLabels}'s to say.
 */
export function clusterLabels(clusterId: string): Record<string, string> {
  return { [CLUSTER_LABEL]: clusterId };
}

/** The labels of a task attempt's container (docs/design.md §4); {@link parseTaskAttemptLabels} reads them back. */
export function taskContainerLabels(clusterId: string, key: TaskAttemptKey): Record<string, string> {
  return {
    ...clusterLabels(clusterId),
    'gofer.namespace': key.namespaceId,
    'gofer.pipeline': key.pipelineId,
    'gofer.run': String(key.runId),
    'gofer.task': key.taskId,
    'gofer.attempt': String(key.attempt),
  };
}

/** The `gofer.*` labels a task attempt's container has: exactly these, no more, no fewer. */
const TASK_LABEL_NAMES: ReadonlySet<string> = new Set(Object.keys(taskContainerLabels('c', { namespaceId: 'n', pipelineId: 'p', runId: 1, taskId: 't', attempt: 1 })));
/**
 * Every namespace, pipeline and task id matches this: the union of their rules (libs/pipeline/src/ids.ts),
 * kept here because queue, a leaf lib, imports no other; the parse needs only to refuse what no id can be.
 */
const LABEL_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;
/** Runs and attempts count from 1 and are Postgres `int` columns; `String(n)` never writes a leading zero. */
const LABEL_NUMBER = /^[1-9]\d{0,9}$/;
const MAX_INT = 2 ** 31 - 1;

/**
 * The attempt a container's labels name ({@link taskContainerLabels} read back), or undefined unless
 * they are exactly a task attempt's label set: `gofer.cluster` and the five attempt labels, each valid,
 * and no other `gofer.*` label. Anything else is some other container of the cluster (a trigger's
 * service, say) or was labelled by hand, and whoever cleans up task containers must leave it alone.
 * Labels outside `gofer.*` (an image's own, say) do not matter.
 */
export function parseTaskAttemptLabels(labels: Readonly<Record<string, string | undefined>>): TaskAttemptKey | undefined {
  for (const [name, value] of Object.entries(labels)) {
    if (value !== undefined && name.startsWith('gofer.') && !TASK_LABEL_NAMES.has(name)) return undefined;
  }
  if (!labels[CLUSTER_LABEL]) return undefined;
  const namespaceId = id(labels['gofer.namespace']);
  const pipelineId = id(labels['gofer.pipeline']);
  const runId = count(labels['gofer.run']);
  const taskId = id(labels['gofer.task']);
  const attempt = count(labels['gofer.attempt']);
  if (namespaceId === undefined || pipelineId === undefined || runId === undefined || taskId === undefined || attempt === undefined) {
    return undefined;
  }
  return { namespaceId, pipelineId, runId, taskId, attempt };
}

function id(value: string | undefined): string | undefined {
  return value !== undefined && LABEL_ID.test(value) ? value : undefined;
}

function count(value: string | undefined): number | undefined {
  if (value === undefined || !LABEL_NUMBER.test(value)) return undefined;
  const n = Number(value);
  return n <= MAX_INT ? n : undefined;
}

/**
 * Redis key of a task attempt's live log stream (see `libs/logs/src/task-logs.service.ts`), under the
 * process's Redis prefix (`GOFER_REDIS_PREFIX`).
 *
 * @example taskLiveLogKey('gofer', key) === 'gofer:logs:default:hello:12:greet:2'
 */
export function taskLiveLogKey(redisPrefix: string, key: TaskAttemptKey): string {
  return `${redisPrefix}:logs:${key.namespaceId}:${key.pipelineId}:${key.runId}:${key.taskId}:${key.attempt}`;
}

/**
 * Object-store key of a finished task attempt's archived log.
 *
 * @example taskLogArchiveKey(key) === 'logs/default/hello/12/greet.2.log'
 */
export function taskLogArchiveKey(key: TaskAttemptKey): string {
  return `${pipelineLogArchivePrefix(key.namespaceId, key.pipelineId)}${key.runId}/${key.taskId}.${key.attempt}.log`;
}

/**
 * Object-store prefix under which every archived log of a pipeline's attempts lies
 * ({@link taskLogArchiveKey}): deleting it removes them all.
 *
 * @example pipelineLogArchivePrefix('default', 'hello') === 'logs/default/hello/'
 */
export function pipelineLogArchivePrefix(namespaceId: string, pipelineId: string): string {
  return `logs/${namespaceId}/${pipelineId}/`;
}

/** A task attempt's ids as structured log fields (`run_id`, `task_id` …), never interpolated. */
export function attemptLogFields(key: TaskAttemptKey) {
  return { namespace_id: key.namespaceId, pipeline_id: key.pipelineId, run_id: key.runId, task_id: key.taskId, attempt: key.attempt };
}
