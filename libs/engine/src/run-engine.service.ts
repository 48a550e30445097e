import { Inject, Injectable } from '@nestjs/common';
import {
  PipelineConfigEntity, PipelineEntity, RunEntity, TaskRunEntity,
  type RunReason, type RunStatus, type StatusReason, type TaskRunReason, type TaskRunStatus,
} from '@gofer/dal';
import {
  evaluateDag, retryDelayMs, runOutcome, VARIABLE_NAME_PATTERN, type PipelineConfig, type TaskConfig, type TaskNode,
} from '@gofer/pipeline';
import { attemptLogFields, type TaskAttemptKey } from '@gofer/queue';
import type { Logger } from 'pino';
import type { DataSource, EntityManager } from 'typeorm';
import { DATA_SOURCE, LOGGER } from './engine.tokens.js';
import { failedPrecondition, invalidArgument, notFound } from './errors.js';
import { GoferMetrics } from './metrics.js';
import { TaskQueue, type ReadyTask } from './task-queue.service.js';

export interface RunKey {
  namespaceId: string;
  pipelineId: string;
  runId: number;
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

export type Claim =
  | { kind: 'claimed'; row: TaskRunEntity }
  | { kind: 'adopted'; row: TaskRunEntity }
  | { kind: 'stale' };

const TRANSACTION_ATTEMPTS = 5;

/** Side effects (metrics) to apply once the transaction that caused them has committed. */
const afterCommit = new WeakMap<EntityManager, Array<() => void>>();
const MAX_VARIABLES = 256;
const MAX_VARIABLES_BYTES = 64 * 1024;

/**
 * The run state machine. Every transition is a compare-and-set in Postgres; the work that becomes
 * ready in a transaction is enqueued after it commits (and re-enqueued by the reconciler if that is
 * lost). Ready/skip/outcome decisions are the pure rules of `@gofer/pipeline`.
 */
@Injectable()
export class RunEngine {
  /** Config versions never change, so they are cached by (namespace, pipeline, version). */
  private readonly configs = new Map<string, PipelineConfig>();
  /** Nor do a run's variables and config version: every attempt of the run needs them. */
  private readonly runInputs = new Map<string, RunInputs>();

  constructor(
    @Inject(DATA_SOURCE) private readonly db: DataSource,
    private readonly queue: TaskQueue,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly metrics: GoferMetrics,
  ) {}

  /**
   * A transaction whose {@link onCommit} effects run only if it commits. Deadlocks and serialization
   * failures are retried: Postgres aborted the whole transaction, so running it again is safe.
   */
  private async transaction<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      const effects: Array<() => void> = [];
      try {
        const result = await this.db.transaction(async (m) => {
          afterCommit.set(m, effects);
          return work(m);
        });
        for (const effect of effects) effect();
        return result;
      } catch (error) {
        const code = (error as { driverError?: { code?: string }; code?: string }).driverError?.code ?? (error as { code?: string }).code;
        if ((code !== '40P01' && code !== '40001') || attempt >= TRANSACTION_ATTEMPTS) throw error;
        this.logger.debug({ code, attempt }, 'transaction conflicted; retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
      }
    }
  }

  private onCommit(m: EntityManager, effect: () => void): void {
    afterCommit.get(m)?.push(effect);
  }

  async config(m: EntityManager, namespaceId: string, pipelineId: string, version: number): Promise<PipelineConfig> {
    const cacheKey = `${namespaceId}/${pipelineId}/${version}`;
    let config = this.configs.get(cacheKey);
    if (!config) {
      const row = await m.findOneBy(PipelineConfigEntity, { namespaceId, pipelineId, version });
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
    let run = this.runInputs.get(cacheKey);
    if (!run) {
      const row = await this.db.manager.findOne(RunEntity, {
        select: { variables: true, configVersion: true },
        where: { namespaceId: key.namespaceId, pipelineId: key.pipelineId, id: key.runId },
      });
      if (!row) throw notFound(`run ${key.runId} of pipeline "${key.pipelineId}" not found`);
      run = { variables: row.variables, configVersion: row.configVersion };
      if (this.runInputs.size > 10_000) this.runInputs.clear();
      this.runInputs.set(cacheKey, run);
    }
    const config = await this.config(this.db.manager, key.namespaceId, key.pipelineId, run.configVersion);
    const task = config.tasks.find((t) => t.id === key.taskId);
    if (!task) throw notFound(`task "${key.taskId}" not found in pipeline "${key.pipelineId}" version ${run.configVersion}`);
    return { run, task, config };
  }

  // ── runs ────────────────────────────────────────────────────────────────────────────────────────

  /** Creates a run (pending), admits it if the pipeline's parallelism allows, and enqueues its roots. */
  async startRun(
    namespaceId: string,
    pipelineId: string,
    variables: Record<string, string>,
    options: { retryOf?: number } = {},
  ): Promise<RunEntity> {
    validateVariables(variables);
    const { run, ready } = await this.transaction(async (m) => {
      const pipeline = await m.findOne(PipelineEntity, {
        where: { namespaceId, id: pipelineId },
        lock: { mode: 'pessimistic_write' },
      });
      if (!pipeline) throw notFound(`pipeline "${pipelineId}" not found in namespace "${namespaceId}"`);
      if (pipeline.state === 'disabled') {
        throw failedPrecondition(`pipeline "${pipelineId}" is disabled; enable it with: gofer pipeline enable ${pipelineId}`);
      }
      let version = pipeline.latestVersion;
      const reused = new Map<string, TaskRunEntity>();
      if (options.retryOf !== undefined) {
        const old = await m.findOneBy(RunEntity, { namespaceId, pipelineId, id: options.retryOf });
        if (!old) throw notFound(`run ${options.retryOf} of pipeline "${pipelineId}" not found`);
        if (old.state !== 'complete') {
          throw failedPrecondition(`run ${old.id} is still ${old.state}; only a complete run can be retried`);
        }
        version = old.configVersion;
        variables = { ...old.variables, ...variables };
        for (const taskRun of await m.findBy(TaskRunEntity, { namespaceId, pipelineId, runId: old.id })) {
          if (taskRun.status === 'successful') reused.set(taskRun.taskId, taskRun);
        }
      }
      const config = await this.config(m, namespaceId, pipelineId, version);
      pipeline.lastRunId += 1;
      pipeline.updated = new Date();
      await m.save(pipeline);
      const run = m.create(RunEntity, {
        namespaceId, pipelineId, id: pipeline.lastRunId, configVersion: version, state: 'pending', status: null,
        statusReason: null, variables, retryOf: options.retryOf ?? null, cancelRequested: false,
        created: new Date(), started: null, ended: null,
      });
      await m.insert(RunEntity, run);
      await m.insert(
        TaskRunEntity,
        config.tasks.map((task) => {
          const old = reused.get(task.id);
          return m.create(TaskRunEntity, {
            namespaceId, pipelineId, runId: run.id, taskId: task.id, attempt: old?.attempt ?? 1,
            state: old ? 'complete' : 'processing', status: old ? 'successful' : null,
            statusReason: null, exitCode: old?.exitCode ?? null, image: task.image, schedulerId: old?.schedulerId ?? null,
            workerId: old?.workerId ?? null, readyAt: null, cancelRequested: false,
            reusedFromRun: old ? (old.reusedFromRun ?? old.runId) : null, logBytes: old?.logBytes ?? '0',
            logsTruncated: old?.logsTruncated ?? false, logsArchived: old?.logsArchived ?? false,
            pastAttempts: [], started: old?.started ?? null, ended: old?.ended ?? null,
          });
        }),
      );
      const ready = await this.admit(m, pipeline);
      return { run, ready };
    });
    await this.queue.enqueue(ready);
    this.logger.info({ namespace_id: namespaceId, pipeline_id: pipelineId, run_id: run.id, retry_of: options.retryOf }, 'run created');
    return (await this.db.manager.findOneBy(RunEntity, { namespaceId, pipelineId, id: run.id }))!;
  }

  /** Starts pending runs while the pipeline has free slots (oldest first). Caller holds the pipeline lock. */
  private async admit(m: EntityManager, pipeline: PipelineEntity): Promise<ReadyTask[]> {
    const { namespaceId, id: pipelineId } = pipeline;
    let limit: number | undefined;
    if (pipeline.parallelism > 0) {
      const running = await m.countBy(RunEntity, { namespaceId, pipelineId, state: 'running' });
      limit = pipeline.parallelism - running;
      if (limit <= 0) return [];
    }
    // SKIP LOCKED: a pending run locked by a concurrent cancel is that cancel's business (it completes
    // the run); waiting for it would deadlock (cancel holds the run and wants the pipeline row).
    const pending = await m.find(RunEntity, {
      where: { namespaceId, pipelineId, state: 'pending' },
      order: { id: 'ASC' },
      take: limit,
      lock: { mode: 'pessimistic_write', onLocked: 'skip_locked' },
    });
    const ready: ReadyTask[] = [];
    for (const run of pending) {
      run.state = 'running';
      run.started = new Date();
      await m.update(RunEntity, { namespaceId, pipelineId, id: run.id, state: 'pending' }, { state: 'running', started: run.started });
      this.logger.info({ namespace_id: namespaceId, pipeline_id: pipelineId, run_id: run.id }, 'run started');
      ready.push(...(await this.advance(m, run)));
    }
    return ready;
  }

  /** Admits pending runs of a pipeline (used by the reconciler after a crash between commit and admit). */
  async admitPipeline(namespaceId: string, pipelineId: string): Promise<void> {
    const ready = await this.transaction(async (m) => {
      const pipeline = await m.findOne(PipelineEntity, { where: { namespaceId, id: pipelineId }, lock: { mode: 'pessimistic_write' } });
      return pipeline ? this.admit(m, pipeline) : [];
    });
    await this.queue.enqueue(ready);
  }

  /**
   * Applies the DAG rules to a running run: marks ready tasks waiting, skips what can no longer run
   * (cascading), and completes the run when every task is complete. Caller holds the run's lock.
   */
  private async advance(m: EntityManager, run: RunEntity): Promise<ReadyTask[]> {
    const config = await this.config(m, run.namespaceId, run.pipelineId, run.configVersion);
    const rows = await m.findBy(TaskRunEntity, { namespaceId: run.namespaceId, pipelineId: run.pipelineId, runId: run.id });
    const nodes: Record<string, TaskNode> = {};
    for (const row of rows) nodes[row.taskId] = { state: row.state, status: row.status ?? undefined };
    const dependsOn = Object.fromEntries(config.tasks.map((t) => [t.id, t.dependsOn]));
    const { ready, skipped } = run.cancelRequested ? { ready: [], skipped: [] } : evaluateDag(dependsOn, nodes);
    const where = { namespaceId: run.namespaceId, pipelineId: run.pipelineId, runId: run.id };
    const now = new Date();
    for (const taskId of skipped) nodes[taskId] = { state: 'complete', status: 'skipped' };
    if (skipped.length > 0) this.onCommit(m, () => this.metrics.taskRunsCompleted.inc({ status: 'skipped' }, skipped.length));
    for (const taskId of skipped) {
      await m.update(TaskRunEntity, { ...where, taskId, state: 'processing' }, {
        state: 'complete', status: 'skipped', ended: now,
        statusReason: { reason: 'failed_precondition', description: unmetRequirement(dependsOn[taskId], nodes) },
      });
    }
    if (ready.length > 0) {
      await m
        .createQueryBuilder()
        .update(TaskRunEntity)
        .set({ state: 'waiting', readyAt: now })
        .where('namespace_id = :ns AND pipeline_id = :p AND run_id = :r AND state = :s AND task_id IN (:...ids)', {
          ns: run.namespaceId, p: run.pipelineId, r: run.id, s: 'processing', ids: ready,
        })
        .execute();
      for (const taskId of ready) nodes[taskId] = { state: 'waiting' };
    }
    const outcome = runOutcome(nodes);
    if (outcome) await this.completeRun(m, run, outcome, rows);
    return ready.map((taskId) => ({ key: { ...where, taskId, attempt: 1 }, delayMs: 0 }));
  }

  private async completeRun(m: EntityManager, run: RunEntity, outcome: RunStatus, rows: TaskRunEntity[]): Promise<void> {
    let status = outcome;
    let statusReason: StatusReason<RunReason> | null = null;
    if (run.cancelRequested) {
      status = 'cancelled';
      statusReason = { reason: 'user_cancelled', description: 'the run was cancelled by a user' };
    } else if (outcome === 'failed') {
      const failed = await m.findBy(TaskRunEntity, {
        namespaceId: run.namespaceId, pipelineId: run.pipelineId, runId: run.id, status: 'failed',
      });
      const first = failed.sort((a, b) => (a.ended?.getTime() ?? 0) - (b.ended?.getTime() ?? 0))[0] ?? rows[0];
      const reason = first.statusReason?.reason;
      statusReason = {
        reason: reason === 'scheduler_error' || reason === 'timeout' || reason === 'failed_precondition' ? reason : 'abnormal_exit',
        description: `task "${first.taskId}" failed: ${first.statusReason?.description ?? 'unknown reason'}`,
      };
    } else if (outcome === 'cancelled') {
      statusReason = { reason: 'user_cancelled', description: 'a task of the run was cancelled' };
    }
    const completed = await m.update(
      RunEntity,
      { namespaceId: run.namespaceId, pipelineId: run.pipelineId, id: run.id, state: 'running' },
      { state: 'complete', status, statusReason, ended: new Date() },
    );
    if (!completed.affected) throw new Error(`run ${run.id} of "${run.pipelineId}" was not running when it completed`);
    run.state = 'complete';
    const seconds = (Date.now() - (run.started?.getTime() ?? Date.now())) / 1000;
    this.onCommit(m, () => {
      this.metrics.runsCompleted.inc({ status });
      this.metrics.runDuration.observe({ status }, seconds);
    });
    this.logger.info(
      { namespace_id: run.namespaceId, pipeline_id: run.pipelineId, run_id: run.id, status, reason: statusReason?.reason },
      'run completed',
    );
  }

  private async lockRun(m: EntityManager, key: RunKey): Promise<RunEntity> {
    const run = await m.findOne(RunEntity, {
      where: { namespaceId: key.namespaceId, pipelineId: key.pipelineId, id: key.runId },
      lock: { mode: 'pessimistic_write' },
    });
    if (!run) throw notFound(`run ${key.runId} of pipeline "${key.pipelineId}" not found in namespace "${key.namespaceId}"`);
    return run;
  }

  /** After a run completes, its pipeline may admit the next pending run. */
  private async afterRunStep(m: EntityManager, run: RunEntity): Promise<ReadyTask[]> {
    if (run.state !== 'complete') return [];
    const pipeline = await m.findOne(PipelineEntity, {
      where: { namespaceId: run.namespaceId, id: run.pipelineId },
      lock: { mode: 'pessimistic_write' },
    });
    return pipeline ? this.admit(m, pipeline) : [];
  }

  /**
   * Cancels a run: tasks that never started become cancelled, running containers are asked to stop
   * (their workers see `cancel_requested`), and a pending run completes at once.
   */
  async cancelRun(key: RunKey): Promise<RunEntity> {
    const ready = await this.transaction(async (m) => {
      const run = await this.lockRun(m, key);
      if (run.state === 'complete') {
        throw failedPrecondition(`run ${run.id} is already complete (${run.status}); nothing to cancel`);
      }
      run.cancelRequested = true;
      await m.update(RunEntity, { namespaceId: run.namespaceId, pipelineId: run.pipelineId, id: run.id }, { cancelRequested: true });
      const where = { namespaceId: run.namespaceId, pipelineId: run.pipelineId, runId: run.id };
      const now = new Date();
      const neverStarted = { reason: 'cancelled' as const, description: 'the run was cancelled before this task started' };
      for (const state of ['processing', 'waiting'] as const) {
        await m.update(TaskRunEntity, { ...where, state }, { state: 'complete', status: 'cancelled', statusReason: neverStarted, ended: now });
      }
      await m.update(TaskRunEntity, { ...where, state: 'running' }, { cancelRequested: true });
      if (run.state === 'pending') {
        run.state = 'running'; // a pending run completes directly; completeRun fences on 'running'
        await m.update(RunEntity, { namespaceId: run.namespaceId, pipelineId: run.pipelineId, id: run.id }, { state: 'running', started: now });
      }
      const ready = await this.advance(m, run);
      return [...ready, ...(await this.afterRunStep(m, run))];
    });
    await this.queue.enqueue(ready);
    this.logger.info({ namespace_id: key.namespaceId, pipeline_id: key.pipelineId, run_id: key.runId }, 'run cancel requested');
    return (await this.db.manager.findOneBy(RunEntity, { namespaceId: key.namespaceId, pipelineId: key.pipelineId, id: key.runId }))!;
  }

  /** Cancels every unfinished run of a pipeline; returns their ids. */
  async cancelAllRuns(namespaceId: string, pipelineId: string): Promise<number[]> {
    const pipeline = await this.db.manager.findOneBy(PipelineEntity, { namespaceId, id: pipelineId });
    if (!pipeline) throw notFound(`pipeline "${pipelineId}" not found in namespace "${namespaceId}"`);
    const runs = await this.db.manager
      .createQueryBuilder(RunEntity, 'r')
      .where('r.namespace_id = :ns AND r.pipeline_id = :p AND r.state <> :s', { ns: namespaceId, p: pipelineId, s: 'complete' })
      .orderBy('r.id', 'DESC') // newest first, so no pending run is admitted while older ones are cancelled
      .getMany();
    const cancelled: number[] = [];
    for (const run of runs) {
      try {
        await this.cancelRun({ namespaceId, pipelineId, runId: run.id });
        cancelled.push(run.id);
      } catch (error) {
        if (!(error instanceof Error && error.name === 'GoferError')) throw error; // completed meanwhile
      }
    }
    return cancelled.sort((a, b) => a - b);
  }

  /** Cancels one task run: stops it if running, or marks it cancelled if it has not started. */
  async cancelTaskRun(key: RunKey & { taskId: string }): Promise<TaskRunEntity> {
    const ready = await this.transaction(async (m) => {
      const run = await this.lockRun(m, key);
      const where = { ...runWhere(key), taskId: key.taskId };
      // Compare-and-set, as claimAttempt does not take the run lock: whichever state the row is in at
      // the UPDATE decides, never a state read earlier.
      const notStarted = await m
        .createQueryBuilder()
        .update(TaskRunEntity)
        .set({
          state: 'complete', status: 'cancelled', ended: new Date(),
          statusReason: { reason: 'cancelled', description: 'cancelled by a user before it started' },
        })
        .where('namespace_id = :ns AND pipeline_id = :p AND run_id = :r AND task_id = :t AND state IN (:...states)', {
          ns: key.namespaceId, p: key.pipelineId, r: key.runId, t: key.taskId, states: ['processing', 'waiting'],
        })
        .execute();
      if (!notStarted.affected) {
        const running = await m.update(TaskRunEntity, { ...where, state: 'running' }, { cancelRequested: true });
        if (running.affected) return [];
        const row = await m.findOneBy(TaskRunEntity, where);
        if (!row) throw notFound(`task "${key.taskId}" not found in run ${key.runId} of pipeline "${key.pipelineId}"`);
        throw failedPrecondition(`task run "${key.taskId}" is already complete (${row.status})`);
      }
      // A pending run is evaluated when it is admitted; advancing it now would start its tasks early.
      if (run.state !== 'running') return [];
      const ready = await this.advance(m, run);
      return [...ready, ...(await this.afterRunStep(m, run))];
    });
    await this.queue.enqueue(ready);
    return (await this.db.manager.findOneBy(TaskRunEntity, { ...runWhere(key), taskId: key.taskId }))!;
  }

  // ── task attempts (workers) ─────────────────────────────────────────────────────────────────────

  /**
   * Claims an attempt for this worker: `waiting → running` (claimed), or takes over an attempt already
   * `running` whose worker died (adopted: its container may exist). Anything else is stale.
   */
  async claimAttempt(key: TaskAttemptKey, workerId: string): Promise<Claim> {
    const where = 'namespace_id = :ns AND pipeline_id = :p AND run_id = :r AND task_id = :t AND attempt = :a AND state = :s';
    const params = { ns: key.namespaceId, p: key.pipelineId, r: key.runId, t: key.taskId, a: key.attempt };
    const claimed = await this.db
      .createQueryBuilder()
      .update(TaskRunEntity)
      .set({ state: 'running', workerId, started: () => 'now()' })
      .where(where, { ...params, s: 'waiting' })
      .returning('*')
      .execute();
    if (claimed.affected) {
      // The hot path: the claimed row comes back from the UPDATE itself, no second query.
      const row = this.fromRaw(TaskRunEntity, (claimed.raw as Array<Record<string, unknown>>)[0]);
      if (key.attempt === 1 && row.readyAt && row.started) {
        this.metrics.taskStartLatency.observe(Math.max(0, row.started.getTime() - row.readyAt.getTime()) / 1000);
      }
      return { kind: 'claimed', row };
    }
    const adopted = await this.db
      .createQueryBuilder()
      .update(TaskRunEntity)
      .set({ workerId })
      .where(where, { ...params, s: 'running' })
      .execute();
    if (adopted.affected) return { kind: 'adopted', row: await this.taskRun(key) };
    return { kind: 'stale' };
  }

  /** An entity from a raw row (`RETURNING *`), mapping column names to properties. */
  private fromRaw<T extends object>(entity: new () => T, raw: Record<string, unknown>): T {
    const row = new entity() as Record<string, unknown>;
    for (const column of this.db.getMetadata(entity).columns) row[column.propertyName] = raw[column.databaseName];
    return row as T;
  }

  private async taskRun(key: RunKey & { taskId: string }): Promise<TaskRunEntity> {
    return (await this.db.manager.findOneBy(TaskRunEntity, { ...runWhere(key), taskId: key.taskId }))!;
  }

  /** Records the container (or allocation) id; fenced so a worker that lost the attempt writes nothing. */
  async recordSchedulerId(key: TaskAttemptKey, workerId: string, schedulerId: string): Promise<boolean> {
    const result = await this.db.manager.update(
      TaskRunEntity,
      { ...runWhere(key), taskId: key.taskId, attempt: key.attempt, state: 'running', workerId },
      { schedulerId },
    );
    return Boolean(result.affected);
  }

  /**
   * Completes an attempt (compare-and-set on state, attempt and worker), then either schedules the
   * next attempt (retries left) or evaluates the dependents and the run, all in one transaction.
   * Returns false when this worker no longer owned the attempt (nothing was written).
   */
  async completeAttempt(key: TaskAttemptKey, workerId: string, result: AttemptResult): Promise<boolean> {
    const outcome = await this.transaction(async (m) => {
      const run = await this.lockRun(m, key);
      const fence = { ...runWhere(key), taskId: key.taskId, attempt: key.attempt, state: 'running' as const, workerId };
      const row = await m.findOneBy(TaskRunEntity, fence);
      if (!row) return undefined;
      const config = await this.config(m, key.namespaceId, key.pipelineId, run.configVersion);
      const task = config.tasks.find((t) => t.id === key.taskId)!;
      const statusReason: StatusReason<TaskRunReason> | null = result.reason
        ? { reason: result.reason, description: result.description }
        : null;
      // The retry policy's wait before the next attempt; undefined when no attempt is left.
      const delayMs = retryDelayMs(task.retries, key.attempt);
      const retry =
        result.status === 'failed' && result.retryable !== false && delayMs !== undefined &&
        !run.cancelRequested && !row.cancelRequested;
      if (retry) {
        const past = {
          attempt: key.attempt, exitCode: result.exitCode ?? null, statusReason: statusReason!,
          schedulerId: row.schedulerId, workerId, started: row.started?.toISOString() ?? null, ended: new Date().toISOString(),
        };
        const updated = await m.update(TaskRunEntity, fence, {
          attempt: key.attempt + 1, state: 'waiting', readyAt: new Date(Date.now() + delayMs), workerId: null,
          schedulerId: null, exitCode: null, started: null, logBytes: '0', logsTruncated: false, logsArchived: false,
          pastAttempts: [...row.pastAttempts, past],
        });
        if (!updated.affected) return undefined;
        this.onCommit(m, () => this.metrics.taskRetries.inc());
        this.logger.info({ ...attemptLogFields(key), delay_ms: delayMs, reason: result.reason }, 'task attempt failed; retrying');
        return [{ key: { ...key, attempt: key.attempt + 1 }, delayMs }];
      }
      const updated = await m.update(TaskRunEntity, fence, {
        state: 'complete', status: result.status, statusReason, exitCode: result.exitCode ?? null, ended: new Date(),
        logBytes: String(result.logBytes ?? 0), logsTruncated: result.logsTruncated ?? false,
        logsArchived: result.logsArchived ?? false,
      });
      if (!updated.affected) return undefined;
      const seconds = (Date.now() - (row.started?.getTime() ?? Date.now())) / 1000;
      this.onCommit(m, () => {
        this.metrics.taskRunsCompleted.inc({ status: result.status });
        this.metrics.taskRunDuration.observe({ status: result.status }, seconds);
      });
      this.logger.info({ ...attemptLogFields(key), status: result.status, exit_code: result.exitCode, reason: result.reason }, 'task run completed');
      const ready = await this.advance(m, run);
      return [...ready, ...(await this.afterRunStep(m, run))];
    });
    if (!outcome) return false;
    await this.queue.enqueue(outcome);
    return true;
  }
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

function validateVariables(variables: Record<string, string>): void {
  const errors: string[] = [];
  const entries = Object.entries(variables);
  if (entries.length > MAX_VARIABLES) errors.push(`variables: at most ${MAX_VARIABLES} allowed, got ${entries.length}`);
  let bytes = 0;
  for (const [name, value] of entries) {
    if (!VARIABLE_NAME_PATTERN.test(name)) errors.push(`variables.${name}: not a valid environment variable name`);
    if (typeof value !== 'string') errors.push(`variables.${name}: must be a string`);
    else if (value.includes('\0')) errors.push(`variables.${name}: contains a NUL byte`);
    bytes += name.length + String(value).length;
  }
  if (bytes > MAX_VARIABLES_BYTES) errors.push(`variables: ${bytes} bytes in total, the limit is ${MAX_VARIABLES_BYTES}`);
  if (errors.length > 0) throw invalidArgument(errors.join('\n'));
}
