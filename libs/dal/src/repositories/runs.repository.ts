import { Inject, Injectable } from '@nestjs/common';
import { notFound } from '@gofer/errors';
import { In, Like, type DataSource, type EntityManager, type FindOptionsWhere } from 'typeorm';
import { DATA_SOURCE } from '../dal.tokens.js';
import { PipelineEntity } from '../entities/pipeline.entity.js';
import { RunEntity, type RunState, type RunStatus } from '../entities/run.entity.js';
import { TaskRunEntity } from '../entities/task-run.entity.js';
import { literal, type Statement } from '../statement.js';

/** Why a run is pending (see {@link RunRepository.pendingByReason}). */
export type PendingReason = 'parallelism' | 'disabled' | 'admission';

/** What decides why a pipeline's pending runs wait (see {@link RunRepository.pendingContext}). */
export interface PendingContext {
  /** The pipeline's state. */
  state: 'enabled' | 'disabled';
  /** Its parallelism limit; 0 is unlimited. */
  parallelism: number;
  /** How many of its runs are running. */
  running: number;
}

/**
 * Why a pipeline's pending run waits: the same rules, in the same order, as the CASE of
 * {@link RunRepository.pendingByReason} (keep the two in step).
 */
export function pendingReasonOf(context: PendingContext): PendingReason {
  if (context.state === 'disabled') return 'disabled';
  if (context.parallelism > 0 && context.running >= context.parallelism) return 'parallelism';
  return 'admission';
}

/** A run's key. */
export interface RunKey {
  namespaceId: string;
  pipelineId: string;
  runId: number;
}

/** The columns of a run the state machine reads, taken with the run's row lock. */
const SELECT_RUN = 'SELECT namespace_id, pipeline_id, id, config_version, state, cancel_requested, started FROM runs';

/** Locks a run's row (every transition of the run's tasks serialises on it). */
export function lockRunSql(namespaceId: string, pipelineId: string, runId: number): string {
  return `${SELECT_RUN}
           WHERE namespace_id = ${literal(namespaceId)} AND pipeline_id = ${literal(pipelineId)} AND id = ${literal(runId)}
             FOR UPDATE`;
}

/** Locks every unfinished run of a pipeline, in key order (as {@link lockRunsSql} does). */
export function lockUnfinishedRunsSql(namespaceId: string, pipelineId: string): string {
  return `${SELECT_RUN}
           WHERE namespace_id = ${literal(namespaceId)} AND pipeline_id = ${literal(pipelineId)} AND state <> 'complete'
           ORDER BY namespace_id, pipeline_id, id FOR UPDATE`;
}

/** Locks several runs' rows, in key order (so two batches never wait on each other in a cycle). */
export function lockRunsSql(keys: ReadonlyArray<{ namespaceId: string; pipelineId: string; runId: number }>): string {
  const tuples = [...new Map(keys.map((k) => [`${k.namespaceId}/${k.pipelineId}/${k.runId}`, k])).values()]
    .map((k) => `(${literal(k.namespaceId)}, ${literal(k.pipelineId)}, ${literal(k.runId)})`);
  return `${SELECT_RUN}
           WHERE (namespace_id, pipeline_id, id) IN (${tuples.join(', ')})
           ORDER BY namespace_id, pipeline_id, id FOR UPDATE`;
}

/**
 * Statements of the less frequent transitions (per run rather than per task). The statement snapshot
 * (test/dal/statements.spec.ts) pins their exact text.
 */
export const RUN_SQL = {
  admissionNeeded: {
    name: 'gofer_admission_needed',
    text: `SELECT parallelism, EXISTS (SELECT 1 FROM runs WHERE namespace_id = $1 AND pipeline_id = $2 AND state = 'pending') AS has_pending
             FROM pipelines WHERE namespace_id = $1 AND id = $2`,
  },
  pipelineExists: {
    name: 'gofer_pipeline_exists',
    text: 'SELECT 1 AS found FROM pipelines WHERE namespace_id = $1 AND id = $2',
  },
  lockPipeline: {
    name: 'gofer_lock_pipeline',
    text: 'SELECT parallelism FROM pipelines WHERE namespace_id = $1 AND id = $2 FOR UPDATE',
  },
  countRunning: {
    name: 'gofer_count_running',
    text: `SELECT count(*)::int AS running FROM runs WHERE namespace_id = $1 AND pipeline_id = $2 AND state = 'running'`,
  },
  // SKIP LOCKED: a pending run locked by a concurrent cancel is that cancel's business (it completes
  // the run); waiting for it would deadlock (cancel holds the run and wants the pipeline row).
  admitPending: {
    name: 'gofer_admit_pending',
    text: `WITH next AS (
             SELECT namespace_id, pipeline_id, id FROM runs
              WHERE namespace_id = $1 AND pipeline_id = $2 AND state = 'pending'
              ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED)
           UPDATE runs r SET state = 'running', started = $4 FROM next
            WHERE r.namespace_id = next.namespace_id AND r.pipeline_id = next.pipeline_id AND r.id = next.id
        RETURNING r.namespace_id, r.pipeline_id, r.id, r.config_version, r.state, r.cancel_requested, r.started`,
  },
  completeRun: {
    name: 'gofer_complete_run',
    text: `UPDATE runs SET state = 'complete', status = $4, status_reason = $5::jsonb, ended = $6
            WHERE namespace_id = $1 AND pipeline_id = $2 AND id = $3 AND state = 'running' RETURNING id`,
  },
  /** Asks runs $3 (ids) to cancel; a pending one starts (so it can complete) at $4. */
  requestCancel: {
    name: 'gofer_request_cancel',
    text: `UPDATE runs SET cancel_requested = true,
              state = CASE WHEN state = 'pending' THEN 'running' ELSE state END, started = COALESCE(started, $4)
        WHERE namespace_id = $1 AND pipeline_id = $2 AND id = ANY($3::int[])`,
  },
} satisfies Record<string, Statement>;

/** Which runs a list keeps: each field given narrows it (AND); an empty or absent one keeps all. */
export interface RunFilter {
  states?: readonly RunState[];
  statuses?: readonly RunStatus[];
  /** Exactly this starter, or every one under it when it ends in "/". */
  startedBy?: string;
}

/** Read side of runs and task runs. */
@Injectable()
export class RunRepository {
  constructor(@Inject(DATA_SOURCE) private readonly db: DataSource) {}

  async getRun(key: RunKey): Promise<RunEntity> {
    const run = await this.db.manager.findOneBy(RunEntity, { namespaceId: key.namespaceId, pipelineId: key.pipelineId, id: key.runId });
    if (!run) throw notFound(`run ${key.runId} of pipeline "${key.pipelineId}" not found in namespace "${key.namespaceId}"`);
    return run;
  }

  /**
   * Newest first, only runs passing `filter`; NOT_FOUND for a pipeline that does not exist (rather than
   * an empty list); `limit` and `offset` are checked by the caller.
   */
  async listRuns(namespaceId: string, pipelineId: string, limit: number, offset: number, filter: RunFilter = {}): Promise<RunEntity[]> {
    if (!(await this.db.manager.existsBy(PipelineEntity, { namespaceId, id: pipelineId }))) {
      throw notFound(`pipeline "${pipelineId}" not found in namespace "${namespaceId}"`);
    }
    const where: FindOptionsWhere<RunEntity> = { namespaceId, pipelineId };
    if (filter.states?.length) where.state = In(filter.states);
    if (filter.statuses?.length) where.status = In(filter.statuses);
    if (filter.startedBy) {
      // "trigger/" is every trigger: a prefix match, with LIKE's own wildcards taken literally.
      where.startedBy = filter.startedBy.endsWith('/') ? Like(`${filter.startedBy.replace(/[\\%_]/g, (c) => `\\${c}`)}%`) : filter.startedBy;
    }
    return this.db.manager.find(RunEntity, {
      where,
      order: { id: 'DESC' },
      take: limit,
      skip: offset,
    });
  }

  async getTaskRun(key: RunKey & { taskId: string }): Promise<TaskRunEntity> {
    const row = await this.db.manager.findOneBy(TaskRunEntity, {
      namespaceId: key.namespaceId, pipelineId: key.pipelineId, runId: key.runId, taskId: key.taskId,
    });
    if (!row) {
      await this.getRun(key);
      throw notFound(`task "${key.taskId}" not found in run ${key.runId} of pipeline "${key.pipelineId}"`);
    }
    return row;
  }

  /**
   * How many runs are pending, by why: `disabled` (their pipeline is disabled), `parallelism` (the
   * pipeline already runs as many as its limit allows) or `admission` (a slot is free: admission is
   * under way). One statement; pending runs are found through the `runs_pending` partial index and each
   * such pipeline's running runs through `runs_unfinished`, so it stays cheap with a long history.
   */
  async pendingByReason(): Promise<Record<PendingReason, number>> {
    const rows: Array<{ reason: PendingReason; runs: number }> = await this.db.query(
      `SELECT CASE WHEN p.state = 'disabled' THEN 'disabled'
                   WHEN p.parallelism > 0 AND (SELECT count(*) FROM runs r WHERE r.namespace_id = p.namespace_id
                          AND r.pipeline_id = p.id AND r.state = 'running') >= p.parallelism THEN 'parallelism'
                   ELSE 'admission' END AS reason,
              sum(pending.runs)::int AS runs
         FROM (SELECT namespace_id, pipeline_id, count(*) AS runs FROM runs WHERE state = 'pending'
                GROUP BY namespace_id, pipeline_id) pending
         JOIN pipelines p ON p.namespace_id = pending.namespace_id AND p.id = pending.pipeline_id
        GROUP BY 1`,
    );
    const counts: Record<PendingReason, number> = { parallelism: 0, disabled: 0, admission: 0 };
    for (const row of rows) counts[row.reason] = row.runs;
    return counts;
  }

  /**
   * A pipeline's state, parallelism and running runs, from which {@link pendingReasonOf} says why its
   * pending runs wait; null when the pipeline does not exist. One statement (GetRun and ListRuns ask
   * it once per call, and only when a run they return is pending).
   */
  async pendingContext(namespaceId: string, pipelineId: string): Promise<PendingContext | null> {
    const rows: PendingContext[] = await this.db.query(
      `SELECT p.state, p.parallelism,
              (SELECT count(*)::int FROM runs r WHERE r.namespace_id = p.namespace_id AND r.pipeline_id = p.id
                  AND r.state = 'running') AS running
         FROM pipelines p WHERE p.namespace_id = $1 AND p.id = $2`,
      [namespaceId, pipelineId],
    );
    return rows[0] ?? null;
  }

  /** The pipelines that have runs waiting for a slot. */
  async pipelinesWithPendingRuns(): Promise<Array<{ namespace_id: string; pipeline_id: string }>> {
    return this.db.query(`SELECT DISTINCT namespace_id, pipeline_id FROM runs WHERE state = 'pending'`);
  }

  exists(key: RunKey): Promise<boolean> {
    return this.db.manager.existsBy(RunEntity, { namespaceId: key.namespaceId, pipelineId: key.pipelineId, id: key.runId });
  }

  /** A run, or null (`m`: inside that transaction). */
  async find(key: RunKey, m: EntityManager = this.db.manager): Promise<RunEntity | null> {
    return m.findOneBy(RunEntity, { namespaceId: key.namespaceId, pipelineId: key.pipelineId, id: key.runId });
  }

  /** What a run's task attempts need of it (its variables and config version), or null. */
  async inputsOf(key: RunKey): Promise<Pick<RunEntity, 'variables' | 'configVersion'> | null> {
    return this.db.manager.findOne(RunEntity, {
      select: { variables: true, configVersion: true },
      where: { namespaceId: key.namespaceId, pipelineId: key.pipelineId, id: key.runId },
    });
  }

  /** The run a start with this idempotency key made, if any. */
  async findByIdempotencyKey(namespaceId: string, pipelineId: string, idempotencyKey: string): Promise<RunEntity | null> {
    return this.db.manager.findOneBy(RunEntity, { namespaceId, pipelineId, idempotencyKey });
  }

  async listTaskRuns(key: RunKey): Promise<TaskRunEntity[]> {
    await this.getRun(key);
    return this.db.manager.find(TaskRunEntity, {
      where: { namespaceId: key.namespaceId, pipelineId: key.pipelineId, runId: key.runId },
      order: { started: { direction: 'ASC', nulls: 'LAST' }, taskId: 'ASC' },
    });
  }
}

/** What taking a pipeline's next run id tells the transaction that starts the run. */
export interface NextRunId {
  state: string;
  parallelism: number;
  latest_version: number;
  run_id: number;
}

/** Takes a pipeline's next run id (locking its row until the transaction ends); no row: no pipeline. */
export function nextRunIdSql(namespaceId: string, pipelineId: string): string {
  return `UPDATE pipelines SET last_run_id = last_run_id + 1, updated = now()
          WHERE namespace_id = ${literal(namespaceId)} AND id = ${literal(pipelineId)}
      RETURNING state, parallelism, latest_version, last_run_id AS run_id`;
}

/** Inserts a new run, pending. */
export function insertRunSql(run: {
  namespaceId: string; pipelineId: string; id: number; configVersion: number; variables: Record<string, string>;
  retryOf: number | null; created: Date; startedBy: string; idempotencyKey: string | null;
}): string {
  return `INSERT INTO runs (namespace_id, pipeline_id, id, config_version, state, variables, retry_of, created, started_by, idempotency_key)
         VALUES (${literal(run.namespaceId)}, ${literal(run.pipelineId)}, ${literal(run.id)}, ${literal(run.configVersion)}, 'pending',
                 ${literal(JSON.stringify(run.variables))}::jsonb, ${literal(run.retryOf)}::int, ${literal(run.created)},
                 ${literal(run.startedBy)}, ${literal(run.idempotencyKey)})`;
}
