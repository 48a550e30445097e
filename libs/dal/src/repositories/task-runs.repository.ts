import { Inject, Injectable } from '@nestjs/common';
import type { DataSource, EntityManager } from 'typeorm';
import { DATA_SOURCE } from '../dal.tokens.js';
import { TaskRunEntity } from '../entities/task-run.entity.js';
import { literal, type Statement } from '../statement.js';

/**
 * The `task_runs` table's hot-path statements: claim, adopt, record the container, complete, retry.
 * Each one fences on the attempt's state, number and worker (docs/design.md §4). Their text is pinned
 * by test/dal/statements.spec.ts.
 */

const RUN_KEY = 'namespace_id = $1 AND pipeline_id = $2 AND run_id = $3';

/** An attempt's key as the values `$1`…`$5` of the single-attempt statements. */
export function attemptValues(key: { namespaceId: string; pipelineId: string; runId: number; taskId: string; attempt: number }): unknown[] {
  return [key.namespaceId, key.pipelineId, key.runId, key.taskId, key.attempt];
}

/**
 * The attempts of a batch as arrays, one per key column (`$1`…`$5`, in {@link ATTEMPT_ARRAYS}' order), so
 * a batch of any size is one named statement.
 */
export function attemptArrays(keys: ReadonlyArray<{ namespaceId: string; pipelineId: string; runId: number; taskId: string; attempt: number }>): unknown[] {
  return [
    keys.map((k) => k.namespaceId), keys.map((k) => k.pipelineId), keys.map((k) => k.runId),
    keys.map((k) => k.taskId), keys.map((k) => k.attempt),
  ];
}
const ATTEMPT_ARRAYS = 'unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::int[])';
const JOIN_ATTEMPT = `t.namespace_id = i.ns AND t.pipeline_id = i.p AND t.run_id = i.run AND t.task_id = i.task AND t.attempt = i.attempt`;

/** An attempt's key, as the batch statements return it (so each row finds its item). */
const ATTEMPT_COLUMNS = 't.namespace_id, t.pipeline_id, t.run_id, t.task_id, t.attempt';
const CLAIMED_COLUMNS = `${ATTEMPT_COLUMNS}, t.started, t.ready_at, t.cancel_requested, t.scheduler_id`;
/** The end of both claim statements: an event per claimed attempt (worker $6), and the claimed rows. */
const RECORD_CLAIMS = `event AS (
             INSERT INTO events (kind, namespace_id, pipeline_id, run_id, task_id, details)
             SELECT 'task_run_started', namespace_id, pipeline_id, run_id, task_id,
                    jsonb_build_object('attempt', attempt, 'worker_id', $6::text)
               FROM claimed)
           SELECT * FROM claimed`;

/**
 * The per-attempt statements come in two forms: for one attempt (`$1`…`$5` its key), and for a batch
 * ({@link attemptArrays}). Postgres plans a batch statement afresh on every execution (its plan depends
 * on the arrays' length), which costs more than running it, so a lone attempt takes the single form.
 */
export const TASK_RUN_SQL = {
  /**
   * waiting → running for worker $6; the claimed attempt's fields come back from the UPDATE itself, and
   * the claim is recorded as an event.
   */
  claim: {
    name: 'gofer_claim',
    text: `WITH claimed AS (
             UPDATE task_runs t SET state = 'running', worker_id = $6, started = now()
              WHERE t.namespace_id = $1 AND t.pipeline_id = $2 AND t.run_id = $3 AND t.task_id = $4 AND t.attempt = $5
                AND t.state = 'waiting'
          RETURNING ${CLAIMED_COLUMNS}),
           ${RECORD_CLAIMS}`,
  },
  /**
   * {@link TASK_RUN_SQL.claim} for a batch. The state test is written so no index can serve it: each attempt is
   * then found by its primary key, however many are waiting (through the in-flight index the statement
   * would scan every waiting attempt).
   */
  claimBatch: {
    name: 'gofer_claim_batch',
    text: `WITH claimed AS (
             UPDATE task_runs t SET state = 'running', worker_id = $6, started = now()
               FROM ${ATTEMPT_ARRAYS} AS i (ns, p, run, task, attempt)
              WHERE ${JOIN_ATTEMPT} AND (t.state || '') = 'waiting'
          RETURNING ${CLAIMED_COLUMNS}),
           ${RECORD_CLAIMS}`,
  },
  /**
   * Takes over a running attempt for worker $6, and returns who had it: only one nobody owns (handed
   * back, see {@link TASK_RUN_SQL.release}), or whose worker has not heartbeaten for $7 seconds (dead),
   * or that is $6's own. A live owner keeps its attempt even when its queue job moved on (it lost Redis
   * for a while): it still watches the container and will record the result.
   */
  adopt: {
    name: 'gofer_adopt',
    text: `UPDATE task_runs t SET worker_id = $6 FROM task_runs old
            WHERE t.namespace_id = $1 AND t.pipeline_id = $2 AND t.run_id = $3 AND t.task_id = $4
              AND t.attempt = $5 AND t.state = 'running'
              AND old.namespace_id = t.namespace_id AND old.pipeline_id = t.pipeline_id
              AND old.run_id = t.run_id AND old.task_id = t.task_id
              AND (t.worker_id IS NULL OR t.worker_id = $6 OR NOT EXISTS (
                    SELECT 1 FROM workers w WHERE w.id = t.worker_id AND w.last_seen >= now() - make_interval(secs => $7)))
        RETURNING t.started, t.ready_at, t.cancel_requested, t.scheduler_id, old.worker_id AS previous_worker`,
  },
  /**
   * After a refused adoption: how long until the attempt's live owner (if it still holds it running)
   * would be presumed dead, in ms ($7 = GOFER_WORKER_DEAD_AFTER in seconds). No row: nothing to wait for.
   */
  heldFor: {
    name: 'gofer_held_for',
    text: `SELECT GREATEST(0, EXTRACT(EPOCH FROM (w.last_seen + make_interval(secs => $7) - now())) * 1000)::int AS ms
             FROM task_runs t JOIN workers w ON w.id = t.worker_id
            WHERE t.namespace_id = $1 AND t.pipeline_id = $2 AND t.run_id = $3 AND t.task_id = $4
              AND t.attempt = $5 AND t.state = 'running' AND t.worker_id <> $6`,
  },
  /** Hands a running attempt of worker $6 back (shutdown, or the worker no longer runs it): anyone may adopt it. */
  release: {
    name: 'gofer_release',
    text: `UPDATE task_runs t SET worker_id = NULL
            WHERE t.namespace_id = $1 AND t.pipeline_id = $2 AND t.run_id = $3 AND t.task_id = $4
              AND t.attempt = $5 AND t.state = 'running' AND t.worker_id = $6
        RETURNING t.task_id`,
  },
  /** Records the container (or allocation) id $7 of an attempt, fenced on state and worker $6. */
  recordSchedulerId: {
    name: 'gofer_record_scheduler_id',
    text: `UPDATE task_runs t SET scheduler_id = $7
            WHERE t.namespace_id = $1 AND t.pipeline_id = $2 AND t.run_id = $3 AND t.task_id = $4 AND t.attempt = $5
              AND t.state = 'running' AND t.worker_id = $6
        RETURNING ${ATTEMPT_COLUMNS}`,
  },
  /** {@link TASK_RUN_SQL.recordSchedulerId} for a batch: the ids in $7, an array like the keys. */
  recordSchedulerIdBatch: {
    name: 'gofer_record_scheduler_id_batch',
    text: `UPDATE task_runs t SET scheduler_id = i.scheduler_id
             FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::int[], $7::text[])
                  AS i (ns, p, run, task, attempt, scheduler_id)
            WHERE ${JOIN_ATTEMPT} AND t.state = 'running' AND t.worker_id = $6
        RETURNING ${ATTEMPT_COLUMNS}`,
  },
  /** Completes the tasks of runs $3 (ids) that never started as cancelled (reason $4 at $5). */
  cancelNotStarted: {
    name: 'gofer_cancel_not_started',
    text: `UPDATE task_runs SET state = 'complete', status = 'cancelled', status_reason = $4::jsonb, ended = $5
        WHERE namespace_id = $1 AND pipeline_id = $2 AND run_id = ANY($3::int[]) AND state IN ('processing', 'waiting')
    RETURNING run_id, task_id, attempt`,
  },
  /** Asks the running attempts of runs $3 (ids) to stop; their workers see it and stop the containers. */
  requestStop: {
    name: 'gofer_request_stop',
    text: `UPDATE task_runs SET cancel_requested = true
        WHERE namespace_id = $1 AND pipeline_id = $2 AND run_id = ANY($3::int[]) AND state = 'running'`,
  },
  statesOfRuns: {
    name: 'gofer_states_of_runs',
    text: `SELECT run_id, task_id, state, status FROM task_runs WHERE namespace_id = $1 AND pipeline_id = $2 AND run_id = ANY($3::int[])`,
  },
  firstFailure: {
    name: 'gofer_first_failure',
    text: `SELECT task_id, status_reason FROM task_runs
            WHERE namespace_id = $1 AND pipeline_id = $2 AND run_id = $3 AND status = 'failed'
            ORDER BY ended NULLS LAST, task_id LIMIT 1`,
  },
  attemptForRetry: {
    name: 'gofer_attempt_for_retry',
    text: `SELECT scheduler_id, started, cancel_requested FROM task_runs
            WHERE namespace_id = $1 AND pipeline_id = $2 AND run_id = $3 AND task_id = $4 AND attempt = $5
              AND state = 'running' AND worker_id = $6`,
  },
  retryAttempt: {
    name: 'gofer_retry_attempt',
    text: `UPDATE task_runs SET attempt = attempt + 1, state = 'waiting', ready_at = $7, worker_id = NULL,
                  scheduler_id = NULL, exit_code = NULL, started = NULL, log_bytes = 0, logs_truncated = false,
                  logs_archived = false, past_attempts = past_attempts || jsonb_build_array($8::jsonb)
            WHERE namespace_id = $1 AND pipeline_id = $2 AND run_id = $3 AND task_id = $4 AND attempt = $5
              AND state = 'running' AND worker_id = $6 RETURNING attempt`,
  },
  taskStates: {
    name: 'gofer_task_states',
    text: `SELECT task_id, state, status FROM task_runs WHERE ${RUN_KEY}`,
  },
} satisfies Record<string, Statement>;

/** Marks ready tasks waiting and skips the ones that can no longer run (each with its reason as JSON). */
export function advanceSql(
  run: { namespaceId: string; pipelineId: string; id: number },
  ready: readonly string[],
  skipped: ReadonlyArray<{ taskId: string; reason: string }>,
  now: Date,
): string {
  const where = `namespace_id = ${literal(run.namespaceId)} AND pipeline_id = ${literal(run.pipelineId)} AND run_id = ${literal(run.id)}`;
  const statements: string[] = [];
  if (ready.length > 0) {
    statements.push(`UPDATE task_runs SET state = 'waiting', ready_at = ${literal(now)}
                      WHERE ${where} AND state = 'processing' AND task_id = ANY(${literal(ready)})`);
  }
  for (const { taskId, reason } of skipped) {
    statements.push(`UPDATE task_runs SET state = 'complete', status = 'skipped', ended = ${literal(now)},
                            status_reason = ${literal(reason)}::jsonb
                      WHERE ${where} AND state = 'processing' AND task_id = ${literal(taskId)}`);
  }
  return statements.join(';\n');
}

/**
 * Completes several attempts (each fenced on state, attempt and worker) and reads every task of their
 * runs, in one statement; a completed row says which attempt and worker it was recorded for. The
 * SELECT sees the snapshot from before the UPDATE, so the caller overlays the completed rows; the run
 * locks taken before this statement make every sibling's commit visible. Callers pass each (task,
 * attempt, worker) once.
 */
export function completeAndReadBatchSql(items: ReadonlyArray<{
  key: { namespaceId: string; pipelineId: string; runId: number; taskId: string; attempt: number };
  workerId: string;
  result: {
    status: string; reason?: string; description: string; exitCode?: number;
    logBytes?: number; logsTruncated?: boolean; logsArchived?: boolean;
  };
  ended: Date;
}>): string {
  const values = items.map(({ key, workerId, result, ended }) => {
    const reason = result.reason ? JSON.stringify({ reason: result.reason, description: result.description }) : 'null';
    return `(${literal(key.namespaceId)}::text, ${literal(key.pipelineId)}::text, ${literal(key.runId)}::int, ${literal(key.taskId)}::text,
             ${literal(key.attempt)}::int, ${literal(workerId)}::text, ${literal(result.status)}::text, ${literal(reason)}::jsonb,
             ${literal(result.exitCode ?? null)}::int, ${literal(ended)}, ${literal(result.logBytes ?? 0)}::bigint,
             ${literal(result.logsTruncated ?? false)}, ${literal(result.logsArchived ?? false)})`;
  });
  return `WITH input (ns, p, run, task, attempt, worker, status, reason, exit_code, ended, log_bytes, truncated, archived) AS (
            VALUES ${values.join(',\n                   ')}),
          done AS (
            UPDATE task_runs t SET state = 'complete', status = i.status, status_reason = i.reason, exit_code = i.exit_code,
                   ended = i.ended, log_bytes = i.log_bytes, logs_truncated = i.truncated, logs_archived = i.archived
              FROM input i
             WHERE t.namespace_id = i.ns AND t.pipeline_id = i.p AND t.run_id = i.run AND t.task_id = i.task
               AND t.attempt = i.attempt AND t.state = 'running' AND t.worker_id = i.worker
         RETURNING t.namespace_id, t.pipeline_id, t.run_id, t.task_id, t.started, i.attempt, i.worker, i.status, i.exit_code, i.reason),
          event AS (
            INSERT INTO events (kind, namespace_id, pipeline_id, run_id, task_id, details)
            SELECT 'task_run_completed', d.namespace_id, d.pipeline_id, d.run_id, d.task_id,
                   jsonb_build_object('attempt', d.attempt, 'status', d.status, 'exit_code', d.exit_code, 'reason', d.reason -> 'reason')
              FROM done d)
          SELECT t.namespace_id, t.pipeline_id, t.run_id, t.task_id, t.state, t.status,
                 done.task_id IS NOT NULL AS completed, done.started AS completed_started,
                 done.attempt AS completed_attempt, done.worker AS completed_worker, done.status AS completed_status
            FROM task_runs t
            LEFT JOIN done ON done.namespace_id = t.namespace_id AND done.pipeline_id = t.pipeline_id
                          AND done.run_id = t.run_id AND done.task_id = t.task_id
           WHERE (t.namespace_id, t.pipeline_id, t.run_id) IN (SELECT DISTINCT ns, p, run FROM input)`;
}

/** A task run of a new run: a fresh one, or one reused from the run it retries (its success carried over). */
export interface NewTaskRun {
  taskId: string;
  image: string;
  reused?: TaskRunEntity;
}

/** Inserts the task runs of a new run: fresh ones processing, reused ones complete and successful. */
export function insertTaskRunsSql(run: { namespaceId: string; pipelineId: string; runId: number }, tasks: readonly NewTaskRun[]): string {
  const rows = tasks.map(({ taskId, image, reused: old }) => `(${[
    literal(run.namespaceId), literal(run.pipelineId), literal(run.runId), literal(taskId), literal(old?.attempt ?? 1),
    literal(old ? 'complete' : 'processing'), literal(old ? 'successful' : null), `${literal(old?.exitCode ?? null)}::int`,
    literal(image), literal(old?.schedulerId ?? null), literal(old?.workerId ?? null),
    `${literal(old ? (old.reusedFromRun ?? old.runId) : null)}::int`, `${literal(old?.logBytes ?? '0')}::bigint`,
    literal(old?.logsTruncated ?? false), literal(old?.logsArchived ?? false),
    `${literal(old?.started ?? null)}::timestamptz`, `${literal(old?.ended ?? null)}::timestamptz`,
  ].join(', ')})`);
  return `INSERT INTO task_runs (namespace_id, pipeline_id, run_id, task_id, attempt, state, status, exit_code, image,
                                scheduler_id, worker_id, reused_from_run, log_bytes, logs_truncated, logs_archived, started, ended)
         VALUES ${rows.join(',\n                ')}`;
}

/** An attempt's key as the reconciler's queries return it. */
export interface AttemptRow {
  namespace_id: string;
  pipeline_id: string;
  run_id: number;
  task_id: string;
  attempt: number;
}

/** Reads and writes of `task_runs` for the reconciler and the cold path of RunEngine (the hot path uses the statements above). */
@Injectable()
export class TaskRunsRepository {
  constructor(@Inject(DATA_SOURCE) private readonly db: DataSource) {}

  /** A task's run (its latest attempt), or null (`m`: inside that transaction). */
  async find(key: { namespaceId: string; pipelineId: string; runId: number; taskId: string }, m: EntityManager = this.db.manager): Promise<TaskRunEntity | null> {
    return m.findOneBy(TaskRunEntity, { namespaceId: key.namespaceId, pipelineId: key.pipelineId, runId: key.runId, taskId: key.taskId });
  }

  /** Every task run of a run. */
  async ofRun(key: { namespaceId: string; pipelineId: string; runId: number }): Promise<TaskRunEntity[]> {
    return this.db.manager.findBy(TaskRunEntity, { namespaceId: key.namespaceId, pipelineId: key.pipelineId, runId: key.runId });
  }

  /**
   * Completes a task that has not started as cancelled by a user (compare-and-set on its state);
   * whether it did.
   */
  async cancelIfNotStarted(m: EntityManager, key: { namespaceId: string; pipelineId: string; runId: number; taskId: string }, ended: Date): Promise<boolean> {
    const result = await m
      .createQueryBuilder()
      .update(TaskRunEntity)
      .set({
        state: 'complete', status: 'cancelled', ended,
        statusReason: { reason: 'cancelled', description: 'cancelled by a user before it started' },
      })
      .where('namespace_id = :ns AND pipeline_id = :p AND run_id = :r AND task_id = :t AND state IN (:...states)', {
        ns: key.namespaceId, p: key.pipelineId, r: key.runId, t: key.taskId, states: ['processing', 'waiting'],
      })
      .execute();
    return Boolean(result.affected);
  }

  /** Asks a running task to stop (its worker sees the flag); whether it was running. */
  async requestStopIfRunning(m: EntityManager, key: { namespaceId: string; pipelineId: string; runId: number; taskId: string }): Promise<boolean> {
    const result = await m.update(
      TaskRunEntity,
      { namespaceId: key.namespaceId, pipelineId: key.pipelineId, runId: key.runId, taskId: key.taskId, state: 'running' },
      { cancelRequested: true },
    );
    return Boolean(result.affected);
  }

  /** Running attempts of worker `workerId` that a user asked to cancel. */
  async cancelRequested(workerId: string): Promise<AttemptRow[]> {
    return this.db.query(
      `SELECT namespace_id, pipeline_id, run_id, task_id, attempt FROM task_runs
         WHERE state = 'running' AND worker_id = $1 AND cancel_requested`,
      [workerId],
    );
  }

  /**
   * Attempts that may have lost their queue job: waiting ones, and running ones whose worker is gone,
   * silent for `deadAfterSeconds`, or `workerId` itself (the caller leaves out those it is running).
   */
  async maybeLost(deadAfterSeconds: number, workerId: string): Promise<Array<AttemptRow & { state: string; worker_id: string | null; ready_at: Date | null }>> {
    return this.db.query(
      `SELECT t.namespace_id, t.pipeline_id, t.run_id, t.task_id, t.attempt, t.state, t.worker_id, t.ready_at
       FROM task_runs t LEFT JOIN workers w ON w.id = t.worker_id
       WHERE t.state = 'waiting'
          OR (t.state = 'running' AND (w.id IS NULL OR w.last_seen < now() - make_interval(secs => $1) OR t.worker_id = $2))
       ORDER BY t.state = 'running' DESC -- a backlog of waiting attempts must not hide running ones past the limit
       LIMIT 10000`,
      [deadAfterSeconds, workerId],
    );
  }

  /** Completed attempts of the last day whose logs are still only in Redis (archiving failed when they ended). */
  async logsNotArchived(): Promise<AttemptRow[]> {
    return this.db.query(
      `SELECT namespace_id, pipeline_id, run_id, task_id, attempt FROM task_runs
         WHERE state = 'complete' AND NOT logs_archived AND log_bytes > 0 AND reused_from_run IS NULL
           AND ended BETWEEN now() - interval '1 day' AND now() - interval '5 seconds'
         LIMIT 100`,
    );
  }

  async markLogsArchived(key: { namespaceId: string; pipelineId: string; runId: number; taskId: string; attempt: number }): Promise<void> {
    await this.db.query(
      `UPDATE task_runs SET logs_archived = true
         WHERE namespace_id = $1 AND pipeline_id = $2 AND run_id = $3 AND task_id = $4 AND attempt = $5`,
      [key.namespaceId, key.pipelineId, key.runId, key.taskId, key.attempt],
    );
  }
}
