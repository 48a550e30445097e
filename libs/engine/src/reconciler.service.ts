import { Inject, Injectable } from '@nestjs/common';
import { GOFER_CONFIG, LOGGER, type GoferConfig } from '@gofer/config';
import { ClusterRepository, RunRepository, TaskRunsRepository, WorkersRepository } from '@gofer/dal';
import { EventLog } from '@gofer/events';
import { TASK_LOGS, type TaskLogs } from '@gofer/logs';
import { attemptLogFields, clusterLabels, parseTaskAttemptLabels, taskJobId, type TaskAttemptKey } from '@gofer/queue';
import { SCHEDULER, type Scheduler } from '@gofer/scheduler';
import type { Logger } from 'pino';
import { EngineMetrics } from './engine.metrics.js';
import { NotificationReconciler } from './notification-reconciler.service.js';
import { NotificationProcessor } from './notification.processor.js';
import { RunEngine } from './run-engine.service.js';
import { TaskProcessor } from './task.processor.js';
import { TaskQueue } from './task-queue.service.js';

/** How long a finished attempt's container may linger before the reaper removes it. */
const REAP_AFTER_MS = 30_000;
/** The cancel poller's period: cancel latency is at most this plus the stop grace. */
const CANCEL_POLL_MS = 1000;
/** The reaper runs on one reconcile pass in this many. */
const REAP_EVERY = 6;

/**
 * Keeps the queue honest with Postgres, which is the source of truth:
 * - heartbeats this worker, so others can tell when it died, and stops taking new work while the
 *   heartbeat fails (Postgres unreachable from here: nothing taken could be claimed);
 * - re-enqueues waiting attempts missing from the queue (crash between commit and enqueue, Redis
 *   flushed), and running attempts nobody works on (their worker died or dropped them);
 * - admits pending runs a crash left behind;
 * - reaps containers of finished or abandoned attempts;
 * - tells this worker's attempts to stop when a user cancelled them.
 * Every step is idempotent, so every worker runs it.
 */
@Injectable()
export class Reconciler {
  private timers: NodeJS.Timeout[] = [];
  private sweeping: Promise<void> | undefined;
  private clusterId = '';
  private passes = 0;
  /** The heartbeat in flight, if Postgres has not answered it yet. */
  private beating: Promise<void> | undefined;
  private intakePaused = false;

  constructor(
    @Inject(GOFER_CONFIG) private readonly config: GoferConfig,
    private readonly cluster: ClusterRepository,
    @Inject(SCHEDULER) private readonly scheduler: Scheduler,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly engine: RunEngine,
    private readonly queue: TaskQueue,
    private readonly processor: TaskProcessor,
    private readonly metrics: EngineMetrics,
    @Inject(TASK_LOGS) private readonly logs: TaskLogs,
    private readonly events: EventLog,
    private readonly workers: WorkersRepository,
    private readonly taskRuns: TaskRunsRepository,
    private readonly runs: RunRepository,
    private readonly notifications: NotificationReconciler,
    private readonly notificationProcessor: NotificationProcessor,
  ) {}

  async start(): Promise<void> {
    this.clusterId = await this.cluster.id();
    await this.heartbeat();
    const every = (ms: number, fn: () => Promise<unknown>, what: string) => {
      const timer = setInterval(() => {
        fn().catch((error: unknown) => this.logger.warn({ err: error }, `${what} failed; will try again`));
      }, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(Math.max(500, Math.floor(this.config.workerDeadAfterMs / 3)), () => this.heartbeat(), 'heartbeat');
    every(CANCEL_POLL_MS, () => this.pollCancellations(), 'cancel poll');
    every(this.config.reconcileIntervalMs, () => this.sweep(), 'reconcile');
  }

  /**
   * Beats, and pauses this worker's intake while beats fail or go unanswered for a whole beat period
   * (the next tick finds the last one still in flight): a worker cut off from Postgres would otherwise
   * keep taking jobs it cannot claim, while healthy workers could run them. Running attempts go on,
   * and their locks in Redis keep them here; intake resumes with the first beat that lands.
   */
  private async heartbeat(): Promise<void> {
    if (this.beating) return this.pauseIntake('the last heartbeat is still unanswered');
    const beat = this.workers.heartbeat(this.config.workerId);
    this.beating = beat.finally(() => (this.beating = undefined)).catch(() => undefined);
    try {
      await beat;
    } catch (error) {
      await this.pauseIntake('the heartbeat failed');
      throw error;
    }
    await this.resumeIntake();
  }

  private async pauseIntake(why: string): Promise<void> {
    if (this.intakePaused) return;
    this.intakePaused = true;
    this.logger.warn({ why }, 'cannot heartbeat to Postgres: taking no new work until it answers');
    await Promise.all([this.processor.pauseIntake(), this.notificationProcessor.pauseIntake()]);
  }

  private async resumeIntake(): Promise<void> {
    if (!this.intakePaused) return;
    this.intakePaused = false;
    await Promise.all([this.processor.resumeIntake(), this.notificationProcessor.resumeIntake()]);
    this.logger.info('heartbeat landed again: taking new work');
  }

  private async pollCancellations(): Promise<void> {
    if (this.processor.activeKeys().length === 0) return;
    const rows = await this.taskRuns.cancelRequested(this.config.workerId);
    for (const row of rows) this.processor.stopActive(toKey(row), 'cancelled');
  }

  /** One reconciliation pass; concurrent calls share the pass in flight. */
  sweep(): Promise<void> {
    this.sweeping ??= this.sweepOnce().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private async sweepOnce(): Promise<void> {
    // Attempts that should be in the queue: waiting ones, and running ones whose worker is gone
    // (or is this worker, which is not running them).
    const rows = await this.taskRuns.maybeLost(this.config.workerDeadAfterMs / 1000, this.config.workerId);
    const candidates = rows.filter(
      (row) => !(row.state === 'running' && row.worker_id === this.config.workerId && this.processor.isActive(toKey(row))),
    );
    // Attempts recorded as this worker's that it no longer runs (their job failed here): handed back,
    // so whichever worker gets the job adopts them (others leave a live worker's attempts alone).
    for (const row of candidates) {
      if (row.state !== 'running' || row.worker_id !== this.config.workerId) continue;
      if (await this.processor.releaseIfIdle(toKey(row))) {
        this.logger.info({ ...attemptLogFields(toKey(row)) }, 'handed back a task attempt this worker no longer runs');
      }
    }
    const missing = new Set((await this.queue.missing(candidates.map(toKey))).map(taskJobId));
    const lost = candidates.filter((row) => missing.has(taskJobId(toKey(row))));
    await this.queue.enqueue(
      lost.map((row) => ({ key: toKey(row), delayMs: row.ready_at ? new Date(row.ready_at).getTime() - Date.now() : 0 })),
    );
    for (const row of lost) {
      this.logger.info({ ...attemptLogFields(toKey(row)), state: row.state, worker_id: row.worker_id }, 'reconciler re-enqueued a task attempt');
    }
    // Notifications (a notifier after a run) are reconciled alike: pending, or running on a dead worker.
    const notifications = await this.notifications.requeueLost();
    this.metrics.reconcilerRequeued.inc(lost.length + notifications);
    const requeued = lost.length + notifications;
    const pending = await this.runs.pipelinesWithPendingRuns();
    for (const pipeline of pending) await this.engine.admitPipeline(pipeline.namespace_id, pipeline.pipeline_id);
    // Listing containers costs the engine a call per container: reap on every REAP_EVERY-th pass only.
    if (this.passes++ % REAP_EVERY === 0) {
      await this.reap();
      await this.archiveLeftoverLogs();
      const pruned = await this.events.prune();
      if (pruned > 0) this.logger.info({ pruned }, 'old events pruned');
    }
    await this.workers.deleteLongGone();
    if (requeued > 0) this.logger.info({ requeued }, 'reconcile pass done');
  }

  /**
   * Archives logs whose archiving failed when their attempt ended (object store down): the live copy
   * stays in Redis for a day (see TaskLogs.expireLive), so they can still be saved within that time.
   */
  private async archiveLeftoverLogs(): Promise<void> {
    const rows = await this.taskRuns.logsNotArchived();
    for (const row of rows) {
      const key = toKey(row);
      try {
        await this.logs.archiveLive(key);
      } catch (error) {
        this.logger.warn({ ...attemptLogFields(key), err: error }, 'archiving logs still fails; will try again');
        return; // the store is most likely still down: try the rest on a later pass
      }
      await this.logs.expireLive(key, { archived: true });
      await this.taskRuns.markLogsArchived(key);
      this.logger.info(attemptLogFields(key), 'archived logs that could not be archived when the task ended');
    }
  }

  /**
   * Removes containers whose attempt is finished (and was not cleaned up by its worker) or superseded.
   * Only a container whose labels are exactly a task attempt's (parseTaskAttemptLabels) or a notification's
   * (NotificationReconciler.reapable, once complete) is ever touched: the cluster's other containers
   * (triggers' services) and hand-labelled ones are left alone.
   */
  private async reap(): Promise<void> {
    const containers = await this.scheduler.list(clusterLabels(this.clusterId));
    const leftovers: typeof containers = [];
    for (const container of containers) {
      const notification = await this.notifications.reapable(container);
      if (notification !== undefined) {
        if (notification) leftovers.push(container);
        continue;
      }
      const key = parseTaskAttemptLabels(container.labels);
      if (!key) {
        this.logger.debug({ container_id: container.id }, 'not a task container (its labels are not a task attempt\'s); leaving it alone');
        continue;
      }
      const row = await this.taskRuns.find(key);
      const finished =
        !row || row.attempt > key.attempt ||
        (row.state === 'complete' && Date.now() - (row.ended?.getTime() ?? 0) > REAP_AFTER_MS);
      if (!finished) continue;
      this.logger.info({ ...attemptLogFields(key), container_id: container.id }, 'reaping leftover container');
      leftovers.push(container);
    }
    // In parallel: one container ignoring SIGTERM must not hold up the others for its whole grace.
    await Promise.all(
      leftovers.map(async (container) => {
        if (container.running) await this.scheduler.stop(container.id, Math.ceil(this.config.stopGraceMs / 1000));
        await this.scheduler.remove(container.id);
        this.metrics.reapedContainers.inc();
      }),
    );
  }

  /**
   * Stops the loops and marks this worker gone, so others adopt its attempts at once instead of
   * waiting for its heartbeat to go stale. Called after the processor drained (the heartbeat and the
   * cancel poller keep running while it does).
   */
  async retire(): Promise<void> {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    await this.sweeping?.catch(() => undefined);
    await this.workers.delete(this.config.workerId).catch(() => undefined);
  }
}

function toKey(row: { namespace_id: string; pipeline_id: string; run_id: number; task_id: string; attempt: number }): TaskAttemptKey {
  return { namespaceId: row.namespace_id, pipelineId: row.pipeline_id, runId: Number(row.run_id), taskId: row.task_id, attempt: Number(row.attempt) };
}

