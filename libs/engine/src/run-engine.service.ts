import { Inject, Injectable, Optional } from '@nestjs/common';
import {
  advanceSql, attemptArrays, attemptValues, completeAndReadBatchSql, deleteRunTokensSql, eventSql, GroupCommit, insertRunNotificationsSql,
  insertRunSql, insertTaskRunsSql, lockRunSql, lockRunsSql, lockUnfinishedRunsSql, nextRunIdSql, PipelineConfigsRepository,
  RUN_SQL, RunEntity, RunRepository, TASK_RUN_SQL, TaskRunEntity, TaskRunsRepository, Transactions,
  type NewTaskRun, type NextRunId, type RunKey, type Tx,
  type RunReason, type RunState, type RunStatus, type StatusReason, type TaskRunReason, type TaskRunState, type TaskRunStatus,
} from '@gofer/dal';
import {
  evaluateDag, retryDelayMs, runOutcome, scanInterpolations, VARIABLE_NAME, type PipelineConfig, type TaskConfig, type TaskNode,
} from '@gofer/pipeline';
import { attemptLogFields, taskJobId, type TaskAttemptKey } from '@gofer/queue';
import type { Logger } from 'pino';
import { LOGGER } from '@gofer/config';
import { failedPrecondition, invalidArgument, notFound } from '@gofer/errors';
import { EngineMetrics } from './engine.metrics.js';
import { TaskQueue, type ReadyTask } from './task-queue.service.js';
import { NotificationQueue } from './notification-queue.service.js';

export type { RunKey } from '@gofer/dal';

/** How a run is started, beyond its variables. */
export interface StartRunOptions {
  /** The complete run this one retries: its successful task results are re-used. */
  retryOf?: number;
  /**
   * Makes the start idempotent per pipeline: a start with a key an earlier run of the pipeline was
   * started with returns that run instead of creating one (a redelivered trigger event, a retried call).
   */
  idempotencyKey?: string;
  /** Who starts it, recorded on the run: `token/<token id>` or `trigger/<label>`. */
  startedBy?: string;
}

/** How a task attempt ended, as the worker saw it. */
export interface AttemptResult {
  status: Exclude<TaskRunStatus, 'skipped'>;
  reason?: TaskRunReason;
  description: string;
  exitCode?: number;
  logBytes?: number;
  logsTruncated?: boolean;
  logsArchived?: boolean;
  /** Whether a retry could help (a missing image will not appear by trying again). */
  retryable?: boolean;
}

/** The parts of a run its task attempts need; they never change after the run is created. */
export type RunInputs = Pick<RunEntity, 'variables' | 'configVersion'>;

/** What a worker learns when it claims an attempt. */
export interface ClaimedAttempt {
  started: Date | null;
  cancelRequested: boolean;
  /** The container (or allocation) a previous worker recorded for this attempt. */
  schedulerId: string | null;
  /** The worker that had the attempt before (adoption only). */
  previousWorkerId: string | null;
}

export type Claim =
  | { kind: 'claimed'; attempt: ClaimedAttempt }
  | { kind: 'adopted'; attempt: ClaimedAttempt }
  /** Running in a live worker's hands: ask again once it would be presumed dead (`retryAfterMs`). */
  | { kind: 'held'; retryAfterMs: number }
  | { kind: 'stale' };

/** The columns of a run the state machine reads, taken with the run's row lock. */
interface RunRow {
  namespaceId: string;
  pipelineId: string;
  id: number;
  configVersion: number;
  state: RunState;
  cancelRequested: boolean;
  started: Date | null;
}

interface RunRecord {
  namespace_id: string;
  pipeline_id: string;
  id: number;
  config_version: number;
  state: RunState;
  cancel_requested: boolean;
  started: Date | null;
}

const MAX_VARIABLES = 256;
const MAX_VARIABLES_BYTES = 64 * 1024;


/**
 * The run state machine. Every transition is a compare-and-set in Postgres; the work that becomes
 * ready in a transaction is enqueued after it commits (and re-enqueued by the reconciler if that is
 * lost). Ready/skip/outcome decisions are the pure rules of `@gofer/pipeline`. The per-attempt path
 * (claim, record container, complete) runs named statements on the pool directly.
 */
@Injectable()
export class RunEngine {
  /** Config versions never change, so they are cached by (namespace, pipeline, version). */
  private readonly configs = new Map<string, PipelineConfig>();
  /** Nor do a run's variables and config version: every attempt of the run needs them. */
  /** Each run's inputs, as the lookup in flight or done: a run's tasks arriving together share one read. */
  private readonly runInputs = new Map<string, Promise<RunInputs>>();
  // The per-attempt writes of many attempts that arrive together share one statement (group commit).
  private readonly claims = new GroupCommit((items: readonly AttemptOf[]) => this.claimBatch(items), BATCHING);
  private readonly schedulerIds = new GroupCommit((items: readonly SchedulerIdOf[]) => this.recordSchedulerIdBatch(items), BATCHING);
  // Completion batches lock their runs: two in flight never share a run, so neither waits on the other.
  private readonly completions = new GroupCommit((items: readonly Completion[]) => this.completeBatch(items), {
    ...COMPLETION_BATCHING,
    keysOf: (item) => [runKeyOf(item.key.namespaceId, item.key.pipelineId, item.key.runId)],
  });

  constructor(
    private readonly transactions: Transactions,
    private readonly queue: TaskQueue,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly metrics: EngineMetrics,
    private readonly runs: RunRepository,
    private readonly taskRuns: TaskRunsRepository,
    private readonly pipelineConfigs: PipelineConfigsRepository,
    // Absent where runs complete without notifiers being sent (the reconciler enqueues their rows later).
    @Optional() @Inject(NotificationQueue) private readonly notifications?: NotificationQueue,
  ) {}



  async config(namespaceId: string, pipelineId: string, version: number): Promise<PipelineConfig> {
    const cacheKey = `${namespaceId}/${pipelineId}/${version}`;
    let config = this.configs.get(cacheKey);
    if (!config) {
      // Config versions are committed before any run can name them, so any connection will do.
      const row = await this.pipelineConfigs.find(namespaceId, pipelineId, version);
      if (!row) throw notFound(`pipeline "${pipelineId}" has no config version ${version}`);
      config = row.config;
      if (this.configs.size > 1000) this.configs.clear();
      this.configs.set(cacheKey, config);
    }
    return config;
  }

  /** What a task attempt runs: its task config and its run's (immutable) variables and config version. */
  async taskConfig(key: RunKey & { taskId: string }): Promise<{ run: RunInputs; task: TaskConfig; config: PipelineConfig }> {
    const cacheKey = `${key.namespaceId}/${key.pipelineId}/${key.runId}`;
    let lookup = this.runInputs.get(cacheKey);
    if (!lookup) {
      lookup = this.runs.inputsOf(key).then((row) => {
        if (!row) throw notFound(`run ${key.runId} of pipeline "${key.pipelineId}" not found`);
        return { variables: row.variables, configVersion: row.configVersion };
      });
      if (this.runInputs.size > 10_000) this.runInputs.clear();
      this.runInputs.set(cacheKey, lookup);
      // A failed lookup is not kept: the next task of the run asks again.
      lookup.catch(() => this.runInputs.get(cacheKey) === lookup && this.runInputs.delete(cacheKey));
    }
    const run = await lookup;
    const config = await this.config(key.namespaceId, key.pipelineId, run.configVersion);
    const task = config.tasks.find((t) => t.id === key.taskId);
    if (!task) throw notFound(`task "${key.taskId}" not found in pipeline "${key.pipelineId}" version ${run.configVersion}`);
    return { run, task, config };
  }

  // ── runs ────────────────────────────────────────────────────────────────────────────────────────

  /**
   * Creates a run (pending), admits it if the pipeline's parallelism allows, and enqueues its roots. The
   * pipeline's row lock numbers and admits runs one at a time, so it is held for as few round trips as
   * possible: take it (and the run's id), insert the run and its tasks, admit, commit.
   */
  async startRun(
    namespaceId: string,
    pipelineId: string,
    variables: Record<string, string>,
    options: StartRunOptions = {},
  ): Promise<RunEntity> {
    return (await this.startRunOnce(namespaceId, pipelineId, variables, options)).run;
  }

  /** {@link startRun}, telling whether the idempotency key had started the run before (`duplicate`). */
  async startRunOnce(
    namespaceId: string,
    pipelineId: string,
    variables: Record<string, string>,
    options: StartRunOptions = {},
  ): Promise<{ run: RunEntity; duplicate: boolean }> {
    validateVariables(variables);
    const idempotencyKey = options.idempotencyKey || null;
    if (idempotencyKey !== null) {
      validateIdempotencyKey(idempotencyKey);
      const earlier = await this.runs.findByIdempotencyKey(namespaceId, pipelineId, idempotencyKey);
      if (earlier) return { run: earlier, duplicate: true };
    }
    try {
      return { run: await this.createRun(namespaceId, pipelineId, variables, options, idempotencyKey), duplicate: false };
    } catch (error) {
      // Two starts with one key at once: the unique index lets one through; the other gets its run.
      if (idempotencyKey === null || (error as { constraint?: string }).constraint !== 'runs_idempotency_key') throw error;
      const earlier = await this.runs.findByIdempotencyKey(namespaceId, pipelineId, idempotencyKey);
      if (!earlier) throw error;
      return { run: earlier, duplicate: true };
    }
  }

  private async createRun(
    namespaceId: string,
    pipelineId: string,
    variables: Record<string, string>,
    options: StartRunOptions,
    idempotencyKey: string | null,
  ): Promise<RunEntity> {
    // A retried run is complete, so it never changes: it is read before the lock.
    let retried: { version: number; reused: Map<string, TaskRunEntity> } | undefined;
    if (options.retryOf !== undefined) {
      const old = await this.runs.find({ namespaceId, pipelineId, runId: options.retryOf });
      if (!old) throw notFound(`run ${options.retryOf} of pipeline "${pipelineId}" not found`);
      if (old.state !== 'complete') {
        throw failedPrecondition(`run ${old.id} is still ${old.state}; only a complete run can be retried`);
      }
      variables = { ...old.variables, ...variables };
      const reused = new Map<string, TaskRunEntity>();
      for (const taskRun of await this.taskRuns.ofRun({ namespaceId, pipelineId, runId: old.id })) {
        if (taskRun.status === 'successful') reused.set(taskRun.taskId, taskRun);
      }
      retried = { version: old.configVersion, reused };
    }
    const { runId, ready } = await this.transactions.raw(async (tx) => {
      const [pipeline] = await tx.queryText<NextRunId>(nextRunIdSql(namespaceId, pipelineId));
      if (!pipeline) throw notFound(`pipeline "${pipelineId}" not found in namespace "${namespaceId}"`);
      if (pipeline.state === 'disabled') {
        throw failedPrecondition(`pipeline "${pipelineId}" is disabled; enable it with: gofer pipeline enable ${pipelineId}`);
      }
      const version = retried?.version ?? pipeline.latest_version;
      const config = await this.config(namespaceId, pipelineId, version);
      const runId = pipeline.run_id;
      const nodes: Record<string, TaskNode> = {};
      const taskRows = config.tasks.map((task): NewTaskRun => {
        const old = retried?.reused.get(task.id);
        nodes[task.id] = old ? { state: 'complete', status: 'successful' } : { state: 'processing' };
        return { taskId: task.id, image: task.image, reused: old };
      });
      await tx.queryTexts([
        insertRunSql({
          namespaceId, pipelineId, id: runId, configVersion: version, variables, retryOf: options.retryOf ?? null, created: new Date(),
          startedBy: options.startedBy ?? '', idempotencyKey,
        }),
        insertTaskRunsSql({ namespaceId, pipelineId, runId }, taskRows),
      ]);
      tx.defer(eventSql({
        kind: 'run_created', namespaceId, pipelineId, runId,
        details: { config_version: version, retry_of: options.retryOf ?? null, variables: Object.keys(variables), started_by: options.startedBy ?? '' },
      }));
      const ready = await this.admit(tx, namespaceId, pipelineId, pipeline.parallelism, { runId, nodes });
      return { runId, ready };
    });
    await this.queue.enqueue(ready);
    this.logger.info({ namespace_id: namespaceId, pipeline_id: pipelineId, run_id: runId, retry_of: options.retryOf }, 'run created');
    return (await this.runs.find({ namespaceId, pipelineId, runId }))!;
  }

  /**
   * Starts pending runs while the pipeline has free slots (oldest first). Caller holds the pipeline lock.
   * `created` is a run the caller has just inserted, with its task states (so they need not be read back).
   */
  private async admit(
    tx: Tx, namespaceId: string, pipelineId: string, parallelism: number,
    created?: { runId: number; nodes: Record<string, TaskNode> },
  ): Promise<ReadyTask[]> {
    let limit: number | null = null;
    if (parallelism > 0) {
      const [{ running }] = await tx.query<{ running: number }>(RUN_SQL.countRunning, [namespaceId, pipelineId]);
      limit = parallelism - running;
      if (limit <= 0) return [];
    }
    const admitted = await tx.query<RunRecord>(RUN_SQL.admitPending, [namespaceId, pipelineId, limit, new Date()]);
    const ready: ReadyTask[] = [];
    for (const run of admitted.map(toRunRow).sort((a, b) => a.id - b.id)) {
      this.logger.info({ namespace_id: namespaceId, pipeline_id: pipelineId, run_id: run.id }, 'run started');
      tx.defer(eventSql({ kind: 'run_started', namespaceId, pipelineId, runId: run.id }));
      const nodes = run.id === created?.runId ? created.nodes : undefined;
      ready.push(...(await this.advance(tx, run, nodes)).map((task) => ({ ...task, startsRun: true })));
    }
    return ready;
  }

  /** Admits pending runs of a pipeline (used by the reconciler after a crash between commit and admit). */
  async admitPipeline(namespaceId: string, pipelineId: string): Promise<void> {
    const ready = await this.transactions.raw(async (tx) => {
      const [pipeline] = await tx.query<{ parallelism: number }>(RUN_SQL.lockPipeline, [namespaceId, pipelineId]);
      return pipeline ? this.admit(tx, namespaceId, pipelineId, pipeline.parallelism) : [];
    });
    await this.queue.enqueue(ready);
  }

  /**
   * Applies the DAG rules to a running run: marks ready tasks waiting, skips what can no longer run
   * (cascading), and completes the run when every task is complete. Caller holds the run's lock;
   * `nodes` are the run's task states when the caller already read them under that lock.
   */
  private async advance(tx: Tx, run: RunRow, nodes?: Record<string, TaskNode>): Promise<ReadyTask[]> {
    const config = await this.config(run.namespaceId, run.pipelineId, run.configVersion);
    if (!nodes) {
      nodes = {};
      for (const row of await tx.query<{ task_id: string; state: TaskRunState; status: TaskRunStatus | null }>(TASK_RUN_SQL.taskStates, [run.namespaceId, run.pipelineId, run.id])) {
        nodes[row.task_id] = { state: row.state, status: row.status ?? undefined };
      }
    }
    const dependsOn = Object.fromEntries(config.tasks.map((t) => [t.id, t.dependsOn]));
    const { ready, skipped } = run.cancelRequested ? { ready: [], skipped: [] } : evaluateDag(dependsOn, nodes);
    for (const taskId of skipped) nodes[taskId] = { state: 'complete', status: 'skipped' };
    if (ready.length > 0 || skipped.length > 0) {
      const skips = skipped.map((taskId) => ({
        taskId,
        reason: JSON.stringify({ reason: 'failed_precondition', description: unmetRequirement(dependsOn[taskId], nodes) }),
      }));
      // Nothing later in the transaction reads these rows, so the writes go with the COMMIT.
      tx.defer(advanceSql(run, ready, skips, new Date()));
      for (const taskId of skipped) {
        tx.defer(eventSql({
          kind: 'task_run_completed', namespaceId: run.namespaceId, pipelineId: run.pipelineId, runId: run.id, taskId,
          details: { attempt: 1, status: 'skipped', reason: 'failed_precondition' },
        }));
      }
      if (skipped.length > 0) tx.onCommit(() => this.metrics.taskRunsCompleted.inc({ status: 'skipped' }, skipped.length));
      for (const taskId of ready) nodes[taskId] = { state: 'waiting' };
    }
    const outcome = runOutcome(nodes);
    if (outcome) await this.completeRun(tx, run, outcome);
    const where = { namespaceId: run.namespaceId, pipelineId: run.pipelineId, runId: run.id };
    return ready.map((taskId) => ({ key: { ...where, taskId, attempt: 1 }, delayMs: 0 }));
  }

  private async completeRun(tx: Tx, run: RunRow, outcome: RunStatus): Promise<void> {
    const runKey = [run.namespaceId, run.pipelineId, run.id];
    let status = outcome;
    let statusReason: StatusReason<RunReason> | null = null;
    if (run.cancelRequested) {
      status = 'cancelled';
      statusReason = { reason: 'user_cancelled', description: 'the run was cancelled by a user' };
    } else if (outcome === 'failed') {
      const [first] = await tx.query<{ task_id: string; status_reason: StatusReason<TaskRunReason> | null }>(TASK_RUN_SQL.firstFailure, runKey);
      const reason = first?.status_reason?.reason;
      statusReason = {
        reason: reason === 'scheduler_error' || reason === 'timeout' || reason === 'failed_precondition' ? reason : 'abnormal_exit',
        description: `task "${first?.task_id}" failed: ${first?.status_reason?.description ?? 'unknown reason'}`,
      };
    } else if (outcome === 'cancelled') {
      statusReason = { reason: 'user_cancelled', description: 'a task of the run was cancelled' };
    }
    const completed = await tx.query(RUN_SQL.completeRun, [...runKey, status, JSON.stringify(statusReason), new Date()]);
    if (completed.length === 0) throw new Error(`run ${run.id} of "${run.pipelineId}" was not running when it completed`);
    run.state = 'complete';
    // Tokens injected into the run's tasks (inject_api_token) end with it.
    tx.defer(deleteRunTokensSql({ namespaceId: run.namespaceId, pipelineId: run.pipelineId, runId: run.id }));
    // Each of its config's notifiers runs once now (docs/design.md §6): a row each, enqueued once committed.
    const { notifiers = [] } = await this.config(run.namespaceId, run.pipelineId, run.configVersion);
    if (notifiers.length > 0) {
      tx.defer(insertRunNotificationsSql(run, notifiers));
      const keys = notifiers.map(({ label }) => ({ namespaceId: run.namespaceId, pipelineId: run.pipelineId, runId: run.id, label }));
      tx.onCommit(() => void this.notifications?.enqueue(keys).catch((error: unknown) =>
        this.logger.warn({ err: error, run_id: run.id }, 'enqueueing the notifications failed; the reconciler will enqueue them'),
      ));
    }
    tx.defer(eventSql({
      kind: 'run_completed', namespaceId: run.namespaceId, pipelineId: run.pipelineId, runId: run.id,
      details: { status, reason: statusReason?.reason ?? null },
    }));
    const seconds = (Date.now() - (run.started?.getTime() ?? Date.now())) / 1000;
    tx.onCommit(() => {
      this.metrics.runsCompleted.inc({ status });
      this.metrics.runDuration.observe({ status }, seconds);
    });
    this.logger.info(
      { namespace_id: run.namespaceId, pipeline_id: run.pipelineId, run_id: run.id, status, reason: statusReason?.reason },
      'run completed',
    );
  }

  private async lockRun(tx: Tx, key: RunKey): Promise<RunRow> {
    const [row] = await tx.queryText<RunRecord>(lockRunSql(key.namespaceId, key.pipelineId, key.runId));
    if (!row) throw notFound(`run ${key.runId} of pipeline "${key.pipelineId}" not found in namespace "${key.namespaceId}"`);
    return toRunRow(row);
  }

  /**
   * After a run completes, its pipeline may admit the next pending run. A pipeline without a parallelism
   * limit and without pending runs has nothing to admit, which a look without the pipeline's lock tells
   * (so runs of such a pipeline never wait on each other here); a run made pending after that look (a
   * config change to a limit racing with this commit) is admitted by the reconciler.
   */
  private async afterRunStep(tx: Tx, run: RunRow): Promise<ReadyTask[]> {
    if (run.state !== 'complete') return [];
    const [admission] = await tx.query<{ parallelism: number; has_pending: boolean }>(RUN_SQL.admissionNeeded, [run.namespaceId, run.pipelineId]);
    if (!admission || (admission.parallelism === 0 && !admission.has_pending)) return [];
    const [pipeline] = await tx.query<{ parallelism: number }>(RUN_SQL.lockPipeline, [run.namespaceId, run.pipelineId]);
    return pipeline ? this.admit(tx, run.namespaceId, run.pipelineId, pipeline.parallelism) : [];
  }

  /**
   * Cancels a run: tasks that never started become cancelled, running containers are asked to stop
   * (their workers see `cancel_requested`), and a pending run completes at once.
   */
  async cancelRun(key: RunKey): Promise<RunEntity> {
    const ready = await this.transactions.entity(async (m, tx) => {
      const run = await this.lockRun(tx, key);
      if (run.state === 'complete') {
        const status = (await this.runs.find(key, m))?.status;
        throw failedPrecondition(`run ${run.id} is already complete (${status}); nothing to cancel`);
      }
      return this.cancelLocked(tx, key.namespaceId, key.pipelineId, [run]);
    });
    await this.queue.enqueue(ready);
    this.logger.info({ namespace_id: key.namespaceId, pipeline_id: key.pipelineId, run_id: key.runId }, 'run cancel requested');
    return (await this.runs.find(key))!;
  }

  /**
   * Cancels every unfinished run of a pipeline at once: one transaction locks them all (running and
   * pending alike, in key order), so a pending run cannot be admitted and start a container while the
   * others are cancelled, and a running run cannot slip through. Returns exactly the runs it cancelled
   * (a run still stopping its containers completes as cancelled when they are gone; one cancelled
   * before this call is left alone).
   */
  async cancelAllRuns(namespaceId: string, pipelineId: string): Promise<number[]> {
    const { ready, ids } = await this.transactions.entity(async (m, tx) => {
      const [pipeline] = await tx.query(RUN_SQL.pipelineExists, [namespaceId, pipelineId]);
      if (!pipeline) throw notFound(`pipeline "${pipelineId}" not found in namespace "${namespaceId}"`);
      // A run already cancelled is stopping its containers: it is not this call's to cancel again.
      const runs = (await tx.queryText<RunRecord>(lockUnfinishedRunsSql(namespaceId, pipelineId))).map(toRunRow).filter((run) => !run.cancelRequested);
      const ready = await this.cancelLocked(tx, namespaceId, pipelineId, runs);
      return { ready, ids: runs.map((run) => run.id) };
    });
    await this.queue.enqueue(ready);
    this.logger.info({ namespace_id: namespaceId, pipeline_id: pipelineId, runs: ids.length }, 'all runs cancel requested');
    return ids;
  }

  /**
   * Cancels runs of one pipeline whose rows the caller has locked: their tasks that never started
   * become cancelled, running ones are asked to stop, pending runs complete at once, and every run
   * whose tasks are all complete now completes. Set-based, so cancelling hundreds of runs is a few
   * statements plus one per completed run.
   */
  private async cancelLocked(tx: Tx, namespaceId: string, pipelineId: string, runs: RunRow[]): Promise<ReadyTask[]> {
    if (runs.length === 0) return [];
    const ids = runs.map((run) => run.id);
    const now = new Date();
    const neverStarted = { reason: 'cancelled' as const, description: 'the run was cancelled before this task started' };
    const runs3 = [namespaceId, pipelineId, ids];
    await tx.query(RUN_SQL.requestCancel, [...runs3, now]);
    const cancelled = await tx.query<{ run_id: number; task_id: string; attempt: number }>(
      TASK_RUN_SQL.cancelNotStarted, [...runs3, JSON.stringify(neverStarted), now],
    );
    await tx.query(TASK_RUN_SQL.requestStop, runs3);
    const states = await tx.query<{ run_id: number; task_id: string; state: TaskRunState; status: TaskRunStatus | null }>(
      TASK_RUN_SQL.statesOfRuns, runs3,
    );
    const nodesByRun = new Map<number, Record<string, TaskNode>>(ids.map((id) => [id, {}]));
    for (const row of states) nodesByRun.get(row.run_id)![row.task_id] = { state: row.state, status: row.status ?? undefined };
    for (const run of runs) {
      tx.defer(eventSql({ kind: 'run_cancel_requested', namespaceId, pipelineId, runId: run.id }));
    }
    for (const row of cancelled) {
      tx.defer(eventSql({
        kind: 'task_run_completed', namespaceId, pipelineId, runId: row.run_id, taskId: row.task_id,
        details: { attempt: row.attempt, status: 'cancelled', reason: 'cancelled' },
      }));
    }
    const ready: ReadyTask[] = [];
    for (const run of runs) {
      run.cancelRequested = true;
      if (run.state === 'pending') {
        run.state = 'running'; // a pending run completes directly; completeRun fences on 'running'
        run.started = now;
      }
      ready.push(...(await this.advance(tx, run, nodesByRun.get(run.id))));
    }
    // A completed run frees a slot: a run started meanwhile (not one of these) may be admitted.
    const completed = runs.find((run) => run.state === 'complete');
    if (completed) ready.push(...(await this.afterRunStep(tx, completed)));
    return ready;
  }

  /** Cancels one task run: stops it if running, or marks it cancelled if it has not started. */
  async cancelTaskRun(key: RunKey & { taskId: string }): Promise<TaskRunEntity> {
    const ready = await this.transactions.entity(async (m, tx) => {
      const run = await this.lockRun(tx, key);
      // Compare-and-set, as claimAttempt does not take the run lock: whichever state the row is in at
      // the UPDATE decides, never a state read earlier.
      if (!(await this.taskRuns.cancelIfNotStarted(m, key, new Date()))) {
        if (await this.taskRuns.requestStopIfRunning(m, key)) return [];
        const row = await this.taskRuns.find(key, m);
        if (!row) throw notFound(`task "${key.taskId}" not found in run ${key.runId} of pipeline "${key.pipelineId}"`);
        throw failedPrecondition(`task run "${key.taskId}" is already complete (${row.status})`);
      }
      tx.defer(eventSql({
        kind: 'task_run_completed', ...runWhere(key), taskId: key.taskId, details: { status: 'cancelled', reason: 'cancelled' },
      }));
      // A pending run is evaluated when it is admitted; advancing it now would start its tasks early.
      if (run.state !== 'running') return [];
      const ready = await this.advance(tx, run);
      return [...ready, ...(await this.afterRunStep(tx, run))];
    });
    await this.queue.enqueue(ready);
    return (await this.taskRuns.find(key))!;
  }

  // ── task attempts (workers) ─────────────────────────────────────────────────────────────────────

  /**
   * Claims an attempt for this worker: `waiting → running` (claimed), or takes over an attempt already
   * `running` that was handed back or whose worker has been silent for `ownerDeadAfterMs` (adopted: its
   * container may exist). One in a live worker's hands is held; anything else (complete) is stale.
   */
  async claimAttempt(key: TaskAttemptKey, workerId: string, ownerDeadAfterMs: number): Promise<Claim> {
    const claimed = await this.claims.submit({ key, workerId });
    if (claimed) {
      if (claimed.ready_at && claimed.started) {
        const waited = Math.max(0, claimed.started.getTime() - claimed.ready_at.getTime()) / 1000;
        this.metrics.queueWait.observe(waited);
        if (key.attempt === 1) this.metrics.taskStartLatency.observe(waited);
      }
      return { kind: 'claimed', attempt: toClaimed(claimed, null) };
    }
    const [adopted] = await this.transactions.run<ClaimRow & { previous_worker: string | null }>(TASK_RUN_SQL.adopt, [...attemptValues(key), workerId, ownerDeadAfterMs / 1000]);
    if (adopted) return { kind: 'adopted', attempt: toClaimed(adopted, adopted.previous_worker) };
    const [held] = await this.transactions.run<{ ms: number }>(TASK_RUN_SQL.heldFor, [...attemptValues(key), workerId, ownerDeadAfterMs / 1000]);
    return held ? { kind: 'held', retryAfterMs: held.ms } : { kind: 'stale' };
  }

  /** Hands a running attempt of `workerId` back, so another worker adopts it at once; false if it was not theirs. */
  async releaseAttempt(key: TaskAttemptKey, workerId: string): Promise<boolean> {
    return (await this.transactions.run(TASK_RUN_SQL.release, [...attemptValues(key), workerId])).length > 0;
  }

  /** Claims several attempts, one statement per worker; per item, the claimed row or undefined. */
  private async claimBatch(items: readonly AttemptOf[]): Promise<Array<ClaimRow | undefined>> {
    const results = new Map<AttemptOf, ClaimRow & AttemptRow>();
    for (const [workerId, group] of byWorker(items)) {
      const rows = group.length === 1
        ? await this.transactions.run<ClaimRow & AttemptRow>(TASK_RUN_SQL.claim, [...attemptValues(group[0]!.key), workerId])
        : await this.transactions.run<ClaimRow & AttemptRow>(TASK_RUN_SQL.claimBatch, [...attemptArrays(group.map((item) => item.key)), workerId]);
      matchRows(group, rows, results);
    }
    return items.map((item) => results.get(item));
  }

  /** Records the container (or allocation) id; fenced so a worker that lost the attempt writes nothing. */
  async recordSchedulerId(key: TaskAttemptKey, workerId: string, schedulerId: string): Promise<boolean> {
    return this.schedulerIds.submit({ key, workerId, schedulerId });
  }

  private async recordSchedulerIdBatch(items: readonly SchedulerIdOf[]): Promise<boolean[]> {
    const recorded = new Map<AttemptOf, AttemptRow>();
    for (const [workerId, group] of byWorker(items)) {
      const rows = group.length === 1
        ? await this.transactions.run<AttemptRow>(TASK_RUN_SQL.recordSchedulerId, [...attemptValues(group[0]!.key), workerId, group[0]!.schedulerId])
        : await this.transactions.run<AttemptRow>(TASK_RUN_SQL.recordSchedulerIdBatch, [
          ...attemptArrays(group.map((item) => item.key)), workerId, group.map((item) => item.schedulerId),
        ]);
      matchRows(group, rows, recorded);
    }
    return items.map((item) => recorded.has(item));
  }

  /**
   * Completes an attempt (compare-and-set on state, attempt and worker), then either schedules the
   * next attempt (retries left) or evaluates the dependents and the run, all in one transaction.
   * Returns false when this worker no longer owned the attempt (nothing was written).
   */
  async completeAttempt(key: TaskAttemptKey, workerId: string, result: AttemptResult): Promise<boolean> {
    const { task } = await this.taskConfig(key);
    // The retry policy's wait before the next attempt; undefined when no attempt is left.
    const delayMs = retryDelayMs(task.retries, key.attempt);
    const mayRetry = result.status === 'failed' && result.retryable !== false && delayMs !== undefined;
    if (mayRetry) {
      const retried = await this.retryAttempt(key, workerId, result, delayMs);
      if (retried !== undefined) return retried;
    }
    // Final results of many attempts share one transaction when they arrive together (group commit).
    const { recorded, enqueued } = await this.completions.submit({ key, workerId, result });
    await enqueued;
    return recorded;
  }

  /**
   * Schedules the next attempt of a failed one (fenced on state, attempt and worker). Returns whether
   * this worker still owned the attempt, or undefined when the run or task was cancelled meanwhile: the
   * result is then final.
   */
  private async retryAttempt(key: TaskAttemptKey, workerId: string, result: AttemptResult, delayMs: number): Promise<boolean | undefined> {
    const attemptKey = [key.namespaceId, key.pipelineId, key.runId, key.taskId, key.attempt, workerId];
    const retry = await this.transactions.raw(async (tx): Promise<ReadyTask[] | 'lost' | 'final'> => {
      const run = await this.lockRun(tx, key);
      if (run.cancelRequested) return 'final';
      const [row] = await tx.query<{ scheduler_id: string | null; started: Date | null; cancel_requested: boolean }>(
        TASK_RUN_SQL.attemptForRetry, attemptKey,
      );
      if (!row) return 'lost';
      if (row.cancel_requested) return 'final';
      const past = {
        attempt: key.attempt, exitCode: result.exitCode ?? null,
        statusReason: { reason: result.reason!, description: result.description },
        schedulerId: row.scheduler_id, workerId, started: row.started?.toISOString() ?? null, ended: new Date().toISOString(),
      };
      const retried = await tx.query(TASK_RUN_SQL.retryAttempt, [...attemptKey, new Date(Date.now() + delayMs), JSON.stringify(past)]);
      if (retried.length === 0) return 'lost';
      tx.onCommit(() => this.metrics.taskRetries.inc());
      tx.defer(eventSql({
        kind: 'task_run_retrying', namespaceId: key.namespaceId, pipelineId: key.pipelineId, runId: key.runId, taskId: key.taskId,
        details: { failed_attempt: key.attempt, reason: result.reason ?? null, exit_code: result.exitCode ?? null, delay_ms: delayMs },
      }));
      this.logger.info({ ...attemptLogFields(key), delay_ms: delayMs, reason: result.reason }, 'task attempt failed; retrying');
      return [{ key: { ...key, attempt: key.attempt + 1 }, delayMs }];
    });
    if (retry === 'final') return undefined;
    if (retry === 'lost') return false;
    // Committed: a lost enqueue is the reconciler's to repair.
    await this.queue.enqueue(retry).catch((error: unknown) =>
      this.logger.warn({ err: error, ...attemptLogFields(key) }, 'enqueueing the retry failed; the reconciler will enqueue it'),
    );
    return true;
  }

  /**
   * Final results of several attempts in one transaction: their runs locked in key order, every attempt
   * completed (each fenced on state, attempt and worker) and every run's tasks read in one statement,
   * then each run advanced. Returns, per item, whether it was recorded.
   */
  private async completeBatch(items: readonly Completion[]): Promise<CompletionOutcome[]> {
    const attemptId = (key: TaskAttemptKey, workerId: string) =>
      `${runKeyOf(key.namespaceId, key.pipelineId, key.runId)}/${key.taskId}/${key.attempt}/${workerId}`;
    // The same attempt twice (a duplicate delivery) goes in once: the first is recorded, like two transactions.
    const firsts = new Map<string, Completion>();
    for (const item of items) if (!firsts.has(attemptId(item.key, item.workerId))) firsts.set(attemptId(item.key, item.workerId), item);
    const batch = [...firsts.values()];
    const { ready, recordedIds } = await this.transactions.raw(async (tx) => {
      // One round trip: BEGIN, lock the runs, then (a new snapshot, after the locks) complete and read.
      const [locked, completedRows] = await tx.queryTexts([
        lockRunsSql(batch.map((item) => item.key)),
        completeAndReadBatchSql(batch.map((item) => ({ ...item, ended: new Date() }))),
      ]);
      const runs = new Map<string, RunRow>();
      for (const row of locked as RunRecord[]) runs.set(runKeyOf(row.namespace_id, row.pipeline_id, row.id), toRunRow(row));
      const rows = completedRows as Array<{
        namespace_id: string; pipeline_id: string; run_id: number; task_id: string; state: TaskRunState;
        status: TaskRunStatus | null; completed: boolean; completed_started: Date | null;
        completed_attempt: number | null; completed_worker: string | null; completed_status: TaskRunStatus | null;
      }>;
      const nodesByRun = new Map<string, Record<string, TaskNode>>();
      const recordedIds = new Set<string>();
      const touched = new Set<string>();
      for (const row of rows) {
        const runKey = runKeyOf(row.namespace_id, row.pipeline_id, row.run_id);
        const nodes = nodesByRun.get(runKey) ?? {};
        // The SELECT sees the snapshot from before the UPDATE: overlay what this statement wrote.
        nodes[row.task_id] = row.completed
          ? { state: 'complete', status: row.completed_status ?? undefined }
          : { state: row.state, status: row.status ?? undefined };
        nodesByRun.set(runKey, nodes);
        if (!row.completed) continue;
        touched.add(runKey);
        const id = `${runKey}/${row.task_id}/${row.completed_attempt}/${row.completed_worker}`;
        recordedIds.add(id);
        const item = firsts.get(id)!;
        const seconds = (Date.now() - (row.completed_started?.getTime() ?? Date.now())) / 1000;
        tx.onCommit(() => {
          this.metrics.taskRunsCompleted.inc({ status: item.result.status });
          this.metrics.taskRunDuration.observe({ status: item.result.status }, seconds);
        });
        // Successes are debug (the event log has them); failures and cancellations stay visible at info.
        this.logger[item.result.status === 'successful' ? 'debug' : 'info'](
          { ...attemptLogFields(item.key), status: item.result.status, exit_code: item.result.exitCode, reason: item.result.reason },
          'task run completed',
        );
      }
      const ready: ReadyTask[] = [];
      for (const runKey of [...touched].sort()) {
        const run = runs.get(runKey)!;
        ready.push(...(await this.advance(tx, run, nodesByRun.get(runKey))));
        ready.push(...(await this.afterRunStep(tx, run)));
      }
      return { ready, recordedIds };
    });
    // Committed: a lost enqueue is the reconciler's to repair, never a reason to report these unrecorded.
    // The batch ends here (its runs are free for the next batch); each caller waits for the enqueue.
    const enqueued = this.queue.enqueue(ready).catch((error: unknown) =>
      this.logger.warn({ err: error }, 'enqueueing the dependents failed; the reconciler will enqueue them'),
    );
    return items.map((item) => {
      const id = attemptId(item.key, item.workerId);
      return { recorded: firsts.get(id) === item && recordedIds.has(id), enqueued };
    });
  }
}

/** An attempt as a worker names it in a claim. */
interface AttemptOf {
  key: TaskAttemptKey;
  workerId: string;
}

/** A container (or allocation) id to record for an attempt. */
interface SchedulerIdOf extends AttemptOf {
  schedulerId: string;
}

/** A final attempt result waiting to be recorded. */
interface Completion extends AttemptOf {
  result: AttemptResult;
}

/** Whether a completion was recorded, and when the dependents it made ready are in the queue. */
interface CompletionOutcome {
  recorded: boolean;
  enqueued: Promise<void>;
}

/** What a claim reads back from the attempt's row. */
interface ClaimRow {
  started: Date | null;
  ready_at: Date | null;
  cancel_requested: boolean;
  scheduler_id: string | null;
}

/** An attempt's key as a batch statement returns it. */
interface AttemptRow {
  namespace_id: string;
  pipeline_id: string;
  run_id: number;
  task_id: string;
  attempt: number;
}

/**
 * Batches of up to 64 items. Claims and container ids are single statements on rows no one else is
 * waiting for, so several go at once; a completion batch holds its runs' locks for a few round trips,
 * so fewer do (each batch in flight holds a pooled connection).
 */
const BATCHING = { maxBatch: 64, maxInFlight: 4 };
const COMPLETION_BATCHING = { maxBatch: 64, maxInFlight: 3 };

/**
 * A batch's items by worker, each group in key order, so a statement locks its rows in (about) the order
 * of the primary key, as a cancel scanning a run's task runs does; a deadlock that still happens fails
 * the batch, whose items are then retried one at a time.
 */
function byWorker<T extends AttemptOf>(items: readonly T[]): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(item.workerId);
    if (group) group.push(item);
    else groups.set(item.workerId, [item]);
  }
  for (const group of groups.values()) group.sort((a, b) => compareAttempts(a.key, b.key));
  return groups;
}

function compareAttempts(a: TaskAttemptKey, b: TaskAttemptKey): number {
  return compareText(a.namespaceId, b.namespaceId) || compareText(a.pipelineId, b.pipelineId) || a.runId - b.runId
    || compareText(a.taskId, b.taskId) || a.attempt - b.attempt;
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Gives each returned row to the item it answers. The same attempt twice in a batch (a duplicate
 * delivery) gets the row once, as two statements in a row would: the first item has it.
 */
function matchRows<T extends AttemptOf, R extends AttemptRow>(items: readonly T[], rows: readonly R[], into: Map<T, R>): void {
  const byAttempt = new Map<string, R>();
  for (const row of rows) {
    const key = { namespaceId: row.namespace_id, pipelineId: row.pipeline_id, runId: row.run_id, taskId: row.task_id, attempt: row.attempt };
    byAttempt.set(taskJobId(key), row);
  }
  for (const item of items) {
    const id = taskJobId(item.key);
    const row = byAttempt.get(id);
    if (row) {
      into.set(item, row);
      byAttempt.delete(id);
    }
  }
}

function runKeyOf(namespaceId: string, pipelineId: string, runId: number): string {
  return `${namespaceId}/${pipelineId}/${runId}`;
}

function toRunRow(row: RunRecord): RunRow {
  return {
    namespaceId: row.namespace_id, pipelineId: row.pipeline_id, id: row.id, configVersion: row.config_version,
    state: row.state, cancelRequested: row.cancel_requested, started: row.started,
  };
}

function toClaimed(row: ClaimRow, previousWorkerId: string | null): ClaimedAttempt {
  return { started: row.started, cancelRequested: row.cancel_requested, schedulerId: row.scheduler_id, previousWorkerId };
}

function runWhere(key: RunKey): { namespaceId: string; pipelineId: string; runId: number } {
  return { namespaceId: key.namespaceId, pipelineId: key.pipelineId, runId: key.runId };
}


/** Says which requirement of a skipped task can no longer be met. */
function unmetRequirement(requirements: Record<string, string>, nodes: Record<string, TaskNode>): string {
  for (const [parent, need] of Object.entries(requirements)) {
    const status = nodes[parent]?.status;
    const met = need === 'success' ? status === 'successful' : need === 'failure' ? status === 'failed' : status !== 'cancelled';
    if (nodes[parent]?.state === 'complete' && !met) {
      return `"${parent}" ended ${status}, but this task depends on it with "${need}"`;
    }
  }
  return 'a dependency requirement can no longer be met';
}

/** The longest idempotency key a start accepts (a trigger's fire time or delivery id is far shorter). */
const MAX_IDEMPOTENCY_KEY = 256;

function validateIdempotencyKey(key: string): void {
  if (key.length > MAX_IDEMPOTENCY_KEY) {
    throw invalidArgument(`idempotency_key: at most ${MAX_IDEMPOTENCY_KEY} characters (got ${key.length})`);
  }
  if (/[\u0000-\u001f\u007f]/.test(key)) throw invalidArgument('idempotency_key: control characters are not allowed');
}

function validateVariables(variables: Record<string, string>): void {
  const errors: string[] = [];
  const entries = Object.entries(variables);
  if (entries.length > MAX_VARIABLES) errors.push(`variables: at most ${MAX_VARIABLES} allowed, got ${entries.length}`);
  let bytes = 0;
  for (const [name, value] of entries) {
    if (!VARIABLE_NAME.pattern.test(name)) errors.push(`variables.${name}: not a valid environment variable name`);
    if (typeof value !== 'string') errors.push(`variables.${name}: must be a string`);
    else if (value.includes('\0')) errors.push(`variables.${name}: contains a NUL byte`);
    // A malformed `pipeline_secret{{…` would otherwise be accepted and fail every task of the run.
    else for (const problem of scanInterpolations(value).errors) errors.push(`variables.${name}: ${problem}`);
    bytes += name.length + String(value).length;
  }
  if (bytes > MAX_VARIABLES_BYTES) errors.push(`variables: ${bytes} bytes in total, the limit is ${MAX_VARIABLES_BYTES}`);
  if (errors.length > 0) throw invalidArgument(errors.join('\n'));
}
