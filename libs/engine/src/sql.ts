import pg, { type Pool, type PoolClient, type QueryResult } from 'pg';

const { escapeLiteral } = pg;
import type { DataSource, EntityManager } from 'typeorm';

/**
 * A statement the engine runs on every task attempt. Named, so each connection parses and plans it once;
 * TypeORM's builders cost more CPU than the statements themselves on this path (bench/: control-plane).
 */
export interface Statement {
  name: string;
  text: string;
}

/**
 * One connection inside a transaction, plus what to do when it commits. Statements given to
 * {@link Tx.defer} only write and nothing later in the transaction reads their rows, so they travel
 * with the COMMIT; a simple-protocol {@link Tx.queryText} first in a transaction travels with its
 * BEGIN. On a loopback connection the round trip (a socket write and a wake-up of both processes)
 * costs more than most of these statements.
 */
export interface Tx {
  query<R extends object>(statement: Statement, values: unknown[]): Promise<R[]>;
  /** A statement whose values are already inlined with {@link literal}. */
  queryText<R extends object>(sql: string): Promise<R[]>;
  /** Several such statements (one each) in one round trip, run one after the other; the rows of each. */
  queryTexts(sqls: readonly string[]): Promise<object[][]>;
  defer(sql: string): void;
  onCommit(effect: () => void): void;
}

/** The pool behind TypeORM's data source: the hot path talks to it directly. */
export function poolOf(db: DataSource): Pool {
  return (db.driver as unknown as { master: Pool }).master;
}

export async function run<R extends object>(target: Pool | PoolClient, statement: Statement, values: unknown[]): Promise<R[]> {
  return (await target.query<R>({ name: statement.name, text: statement.text, values })).rows;
}

/** The rows of the last statement of a simple-protocol query (which may hold several). */
async function runText<R extends object>(client: PoolClient, sql: string): Promise<R[]> {
  return (await runTexts(client, sql, 1))[0] as R[];
}

/** The rows of the last `count` statements of a simple-protocol query of `total` statements. */
async function runTexts(client: PoolClient, sql: string, count: number, total = count): Promise<object[][]> {
  const result = (await client.query(sql)) as unknown as QueryResult<object> | Array<QueryResult<object>>;
  const results = Array.isArray(result) ? result : [result];
  // One result per statement: anything else means a caller passed several statements (or none) as one.
  if (results.length !== total) throw new Error(`expected ${total} statement results, got ${results.length}`);
  return results.slice(results.length - count).map((r) => r.rows);
}

/** A transaction on a pooled connection that {@link commit} ends. */
export class ClientTx implements Tx {
  private begun = false;
  private readonly deferred: string[] = [];
  readonly effects: Array<() => void> = [];

  constructor(private readonly client: PoolClient) {}

  async query<R extends object>(statement: Statement, values: unknown[]): Promise<R[]> {
    if (!this.begun) await this.client.query('BEGIN');
    this.begun = true;
    return run<R>(this.client, statement, values);
  }

  async queryText<R extends object>(sql: string): Promise<R[]> {
    return (await this.queryTexts([sql]))[0] as R[];
  }

  async queryTexts(sqls: readonly string[]): Promise<object[][]> {
    const statements = [...(this.begun ? [] : ['BEGIN']), ...sqls];
    this.begun = true;
    return runTexts(this.client, statements.join(';\n'), sqls.length, statements.length);
  }

  defer(sql: string): void {
    this.deferred.push(sql);
  }

  onCommit(effect: () => void): void {
    this.effects.push(effect);
  }

  async commit(): Promise<void> {
    if (!this.begun && this.deferred.length === 0) return;
    const text = [...(this.begun ? [] : ['BEGIN']), ...this.deferred, 'COMMIT'].join(';\n');
    this.begun = true; // if it fails half-way, the transaction is open and aborted: rollback() ends it
    await this.client.query(text);
  }

  async rollback(): Promise<void> {
    if (this.begun) await this.client.query('ROLLBACK');
  }
}

/** A {@link Tx} on the connection of a TypeORM transaction; call `flush` before TypeORM commits. */
export async function txOf(m: EntityManager): Promise<Tx & { effects: Array<() => void>; flush(): Promise<void> }> {
  const client = (await m.queryRunner!.connect()) as PoolClient;
  const deferred: string[] = [];
  const effects: Array<() => void> = [];
  return {
    effects,
    query: (statement, values) => run(client, statement, values),
    queryText: (sql) => runText(client, sql),
    queryTexts: (sqls) => runTexts(client, sqls.join(';\n'), sqls.length),
    defer: (sql) => void deferred.push(sql),
    onCommit: (effect) => void effects.push(effect),
    flush: async () => {
      if (deferred.length > 0) await client.query(deferred.splice(0).join(';\n'));
    },
  };
}

/**
 * A value as an SQL literal, for the statements that travel with BEGIN or COMMIT (the simple protocol
 * has no parameters). Strings are escaped by node-postgres' `escapeLiteral`.
 */
export function literal(value: string | number | boolean | Date | null | readonly string[]): string {
  if (value === null) return 'NULL';
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new Error(`not a finite number: ${value}`);
    return String(value);
  }
  if (value instanceof Date) return `${escapeLiteral(value.toISOString())}::timestamptz`;
  if (Array.isArray(value)) return value.length === 0 ? `'{}'::text[]` : `ARRAY[${value.map(text).join(', ')}]::text[]`;
  return text(value);
}

/** escapeLiteral turns anything but a string into '' without a word: refuse instead. */
function text(value: unknown): string {
  if (typeof value !== 'string') throw new Error(`cannot write a ${typeof value} as an SQL text literal`);
  return escapeLiteral(value);
}

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
export const SQL = {
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
   * {@link SQL.claim} for a batch. The state test is written so no index can serve it: each attempt is
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
  /** Takes over an attempt another (dead) worker was running; returns who had it. */
  adopt: {
    name: 'gofer_adopt',
    text: `UPDATE task_runs t SET worker_id = $6 FROM task_runs old
            WHERE t.namespace_id = $1 AND t.pipeline_id = $2 AND t.run_id = $3 AND t.task_id = $4
              AND t.attempt = $5 AND t.state = 'running'
              AND old.namespace_id = t.namespace_id AND old.pipeline_id = t.pipeline_id
              AND old.run_id = t.run_id AND old.task_id = t.task_id
        RETURNING t.started, t.ready_at, t.cancel_requested, t.scheduler_id, old.worker_id AS previous_worker`,
  },
  /** Records the container (or allocation) id $7 of an attempt, fenced on state and worker $6. */
  recordSchedulerId: {
    name: 'gofer_record_scheduler_id',
    text: `UPDATE task_runs t SET scheduler_id = $7
            WHERE t.namespace_id = $1 AND t.pipeline_id = $2 AND t.run_id = $3 AND t.task_id = $4 AND t.attempt = $5
              AND t.state = 'running' AND t.worker_id = $6
        RETURNING ${ATTEMPT_COLUMNS}`,
  },
  /** {@link SQL.recordSchedulerId} for a batch: the ids in $7, an array like the keys. */
  recordSchedulerIdBatch: {
    name: 'gofer_record_scheduler_id_batch',
    text: `UPDATE task_runs t SET scheduler_id = i.scheduler_id
             FROM unnest($1::text[], $2::text[], $3::int[], $4::text[], $5::int[], $7::text[])
                  AS i (ns, p, run, task, attempt, scheduler_id)
            WHERE ${JOIN_ATTEMPT} AND t.state = 'running' AND t.worker_id = $6
        RETURNING ${ATTEMPT_COLUMNS}`,
  },
  taskStates: {
    name: 'gofer_task_states',
    text: `SELECT task_id, state, status FROM task_runs WHERE ${RUN_KEY}`,
  },
} satisfies Record<string, Statement>;

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

/** Locks several runs' rows, in key order (so two batches never wait on each other in a cycle). */
export function lockRunsSql(keys: ReadonlyArray<{ namespaceId: string; pipelineId: string; runId: number }>): string {
  const tuples = [...new Map(keys.map((k) => [`${k.namespaceId}/${k.pipelineId}/${k.runId}`, k])).values()]
    .map((k) => `(${literal(k.namespaceId)}, ${literal(k.pipelineId)}, ${literal(k.runId)})`);
  return `${SELECT_RUN}
           WHERE (namespace_id, pipeline_id, id) IN (${tuples.join(', ')})
           ORDER BY namespace_id, pipeline_id, id FOR UPDATE`;
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
