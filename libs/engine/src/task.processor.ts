import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { GOFER_CONFIG, type GoferConfig } from '@gofer/config';
import { ClusterRepository } from '@gofer/dal';
import type { TaskLogs } from '@gofer/logs';
import { formatDuration, type TaskConfig } from '@gofer/pipeline';
import { SecretMasker } from '@gofer/secrets';
import { attemptLogFields, QueueName, taskJobId, type TaskAttemptKey } from '@gofer/queue';
import { SchedulerError, type Scheduler, type SchedulerErrorKind } from '@gofer/scheduler';
import { DelayedError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { buildContainerSpec, interpolationNeeds, SpecError } from './container-spec.js';
import { LOGGER } from '@gofer/config';
import { REDIS } from '@gofer/queue';
import { SCHEDULER } from '@gofer/scheduler';
import { TASK_LOGS } from '@gofer/logs';
import { GoferError } from '@gofer/errors';
import { EngineMetrics } from './engine.metrics.js';
import { ObjectService } from '@gofer/object-store';
import { RunEngine, type AttemptResult, type Claim, type RunInputs } from './run-engine.service.js';
import { SecretService } from '@gofer/secrets';
import { TokenService } from '@gofer/auth';
import { containerQueueWorkerOptions } from './queue-worker-options.js';

/** Why a running attempt is being stopped by Gofer. */
type StopReason = 'cancelled' | 'timeout' | 'shutdown';

interface ActiveAttempt {
  key: TaskAttemptKey;
  stop: (reason: StopReason) => void;
}

/** Thrown inside an attempt when the worker shuts down: the attempt is handed to another worker. */
class HandOver extends Error {}

/**
 * Runs task attempts from the queue: claims the attempt in Postgres, starts (or adopts) its container,
 * streams its logs, enforces timeout and cancellation, and records the result. A worker killed at any
 * point leaves either a waiting attempt or a running container that the next worker adopts.
 */
@Injectable()
export class TaskProcessor implements OnModuleDestroy {
  private worker: Worker<TaskAttemptKey> | undefined;
  private readonly active = new Map<string, ActiveAttempt>();
  /** Attempts whose claim is in flight: the reconciler must not take them for abandoned. */
  private readonly claiming = new Set<string>();
  private clusterId = '';
  private shuttingDown = false;

  constructor(
    @Inject(GOFER_CONFIG) private readonly config: GoferConfig,
    private readonly cluster: ClusterRepository,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(SCHEDULER) private readonly scheduler: Scheduler,
    @Inject(TASK_LOGS) private readonly logs: TaskLogs,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly engine: RunEngine,
    private readonly metrics: EngineMetrics,
    private readonly secrets: SecretService,
    private readonly objects: ObjectService,
    private readonly tokens: TokenService,
  ) {
    this.metrics.sampleActiveContainers(() => this.active.size);
  }

  get workerId(): string {
    return this.config.workerId;
  }

  /** Attempts this process is running now, or claiming (the reconciler leaves them alone). */
  isActive(key: TaskAttemptKey): boolean {
    const name = taskJobId(key);
    return this.active.has(name) || this.claiming.has(name);
  }

  async start(): Promise<void> {
    this.clusterId = await this.cluster.id();
    this.worker = new Worker<TaskAttemptKey>(QueueName.Tasks, (job, token) => this.process(job, token), containerQueueWorkerOptions(this.config, this.redis));
    this.worker.on('error', (error) => this.logger.warn({ err: error }, 'queue worker error'));
    this.worker.on('failed', (job, error) =>
      this.logger.warn({ err: error, job_id: job?.id }, 'task job failed (it will be retried or reconciled)'),
    );
  }

  /** Asks running attempts of this worker to stop (used by the cancel poller). */
  stopActive(key: TaskAttemptKey, reason: StopReason): void {
    this.active.get(taskJobId(key))?.stop(reason);
  }

  activeKeys(): TaskAttemptKey[] {
    return [...this.active.values()].map((a) => a.key);
  }

  /**
   * Stops taking new attempts (those running go on); the reconciler calls it while this worker cannot
   * heartbeat to Postgres, since any job taken then could not be claimed and would only wait here.
   */
  async pauseIntake(): Promise<void> {
    if (this.worker && !this.worker.isPaused()) await this.worker.pause(true);
  }

  /** Takes new attempts again after {@link pauseIntake}. */
  async resumeIntake(): Promise<void> {
    if (this.worker?.isPaused() && !this.shuttingDown) await this.worker.resume();
  }

  private async process(job: Job<TaskAttemptKey>, token: string | undefined): Promise<void> {
    const key = job.data;
    if (this.shuttingDown) return this.handOver(job, token);
    const name = taskJobId(key);
    // This process runs (or is claiming, or handing back) the attempt already: its job came back
    // (the lock lapsed while Redis was out of reach). Ask again later instead of running it twice.
    if (this.isActive(key)) return this.retryLater(job, token, this.config.workerDeadAfterMs);
    this.claiming.add(name);
    let claim: Claim;
    try {
      claim = await this.engine.claimAttempt(key, this.workerId, this.config.workerDeadAfterMs);
    } finally {
      this.claiming.delete(name);
    }
    if (claim.kind === 'stale') return;
    // A live worker runs it (its job moved here while it could not reach Redis): ask again when that
    // worker would be presumed dead, so the attempt is adopted then if it has not finished.
    if (claim.kind === 'held') return this.retryLater(job, token, claim.retryAfterMs + 500);
    const log = this.logger.child(attemptLogFields(key));
    if (claim.kind === 'adopted' && claim.attempt.previousWorkerId !== this.workerId) {
      log.info({ previous_worker: claim.attempt.previousWorkerId }, 'adopting task attempt');
      this.metrics.adoptedAttempts.inc();
    }
    const abort = new AbortController();
    let stopReason: StopReason | undefined;
    this.active.set(name, {
      key,
      stop: (reason) => {
        if (stopReason) return;
        stopReason = reason;
        abort.abort(reason);
      },
    });
    // Shutdown began while this job was being claimed: hand it over at once.
    if (this.shuttingDown) this.stopActive(key, 'shutdown');
    // The run was cancelled while the attempt's previous worker was down.
    if (claim.attempt.cancelRequested) this.stopActive(key, 'cancelled');
    try {
      const previousContainer = claim.kind === 'adopted' ? claim.attempt.schedulerId : null;
      const { result, containerId } = await this.execute(
        key, claim.attempt.started, previousContainer, abort.signal, () => stopReason, log,
      );
      const recorded = await this.engine.completeAttempt(key, this.workerId, result);
      if (!recorded) {
        // Another worker owns the attempt now; its container is theirs to wait on (or the reaper's).
        log.warn('attempt was taken over by another worker; result discarded');
      } else if (containerId) {
        // Only now that the result is committed may the container go.
        await this.scheduler.remove(containerId).catch((error: unknown) => log.warn({ err: error }, 'removing the container failed'));
      }
    } catch (error) {
      if (!(error instanceof HandOver)) throw error;
      log.info('worker shutting down; handing the attempt to another worker');
      // Released first, so the next worker adopts it at once rather than waiting for this one to retire.
      await this.engine.releaseAttempt(key, this.workerId).catch((e: unknown) => log.warn({ err: e }, 'releasing the attempt failed; it moves once this worker is gone'));
      return this.handOver(job, token);
    } finally {
      this.active.delete(name);
    }
  }

  /**
   * Hands the attempt back if this process has it recorded but does not run it (the reconciler's
   * clean-up), serialized with {@link process}: while it runs, a delivery of the attempt waits.
   */
  async releaseIfIdle(key: TaskAttemptKey): Promise<boolean> {
    if (this.isActive(key)) return false;
    const name = taskJobId(key);
    this.claiming.add(name);
    try {
      return await this.engine.releaseAttempt(key, this.workerId);
    } finally {
      this.claiming.delete(name);
    }
  }

  /** Puts the job back in the queue to be tried again in `delayMs`. */
  private async retryLater(job: Job<TaskAttemptKey>, token: string | undefined, delayMs: number): Promise<never> {
    await job.moveToDelayed(Date.now() + Math.max(100, delayMs), token);
    throw new DelayedError();
  }

  /** Puts the job straight back in the queue so another worker adopts the attempt (and its container). */
  private async handOver(job: Job<TaskAttemptKey>, token: string | undefined): Promise<never> {
    await job.moveToDelayed(Date.now(), token);
    throw new DelayedError();
  }

  private async execute(
    key: TaskAttemptKey,
    started: Date | null,
    previousContainer: string | null,
    signal: AbortSignal,
    stopReason: () => StopReason | undefined,
    log: Logger,
  ): Promise<{ result: AttemptResult; containerId?: string }> {
    const { run, task } = await this.engine.taskConfig(key);
    let spec;
    const secretValues: string[] = [];
    let secretVariables: string[] = [];
    try {
      const { values, secretVariables: named } = await this.lookUpInterpolations(key, task, run, secretValues);
      secretVariables = named;
      const extraEnv: Record<string, string> = {};
      if (task.injectApiToken && !previousContainer) {
        // Confined to this run (and its pipeline's objects); deleted when the run completes.
        const { secret } = await this.tokens.createForRun(
          { namespaceId: key.namespaceId, pipelineId: key.pipelineId, runId: key.runId },
          { run: `${key.pipelineId}/${key.runId}`, task: key.taskId },
        );
        extraEnv.GOFER_TOKEN = secret;
        secretValues.push(secret);
      }
      spec = buildContainerSpec({ clusterId: this.clusterId, key, task, run, goferHost: this.config.advertiseAddr, values, extraEnv });
    } catch (error) {
      if (!(error instanceof SpecError)) throw error;
      return { result: { status: 'failed', reason: 'failed_precondition', description: error.message, retryable: false } };
    }
    const graceSeconds = Math.ceil(this.config.stopGraceMs / 1000);
    if (stopReason() === 'shutdown') throw new HandOver();
    if (stopReason() === 'cancelled') {
      // A container a dead worker created for this attempt must not outlive the cancel.
      const existing = await this.scheduler.inspect(spec.name);
      if (existing) await this.scheduler.stop(existing.id, graceSeconds);
      return { result: cancelled('cancelled before its container started'), containerId: existing?.id };
    }
    // The attempt's container was created by a worker that died; if it is gone, starting a new one
    // would run the task twice, so the attempt ends orphaned (its retry policy may try again).
    if (previousContainer && !(await this.scheduler.inspect(spec.name))) {
      log.warn({ container_id: previousContainer }, 'adopted attempt has no container any more');
      return {
        result: {
          status: 'failed', reason: 'orphaned',
          description: `its container ${previousContainer} disappeared while its worker was down`,
        },
      };
    }
    let container;
    try {
      container = await this.scheduler.start(spec, signal);
    } catch (error) {
      if (stopReason() === 'shutdown') throw new HandOver();
      if (stopReason() === 'cancelled') {
        // The engine may have created (even started) the container before the abort landed.
        const existing = await this.scheduler.inspect(spec.name);
        if (existing) await this.scheduler.stop(existing.id, graceSeconds);
        return { result: cancelled('cancelled before its container started'), containerId: existing?.id };
      }
      if (error instanceof SchedulerError) {
        log.warn({ err: error, kind: error.kind }, 'container could not be started');
        return {
          result: {
            status: 'failed', reason: 'scheduler_error', description: error.message,
            retryable: retryableKinds.has(error.kind),
          },
        };
      }
      throw error;
    }
    if (container.adopted) {
      // The container was made by an earlier owner of the attempt: its token, and secrets that may have
      // changed since, are the values it really prints, so those are masked too.
      const existing = await this.scheduler.inspect(container.id);
      for (const name of [...secretVariables, 'GOFER_TOKEN']) {
        const value = existing?.env[name];
        if (value) secretValues.push(value);
      }
    }
    await this.engine.recordSchedulerId(key, this.workerId, container.id);
    // Per-attempt lifecycle is debug: every state change is in the event log, and at hundreds of task runs
    // a second an info line per attempt costs more memory and CPU than the attempt's own bookkeeping.
    log.debug({ container_id: container.id, adopted: container.adopted }, 'container running');

    const handOver = shutdownOnly(signal, stopReason);
    const writer = this.logs.writer(key);
    // Every secret value the container received is masked before anything is stored or streamed.
    const masker = secretValues.length > 0 ? new SecretMasker(secretValues) : undefined;
    const masking = { stdout: masker?.stream(), stderr: masker?.stream() };
    const logsDone = (async () => {
      try {
        for await (const chunk of this.scheduler.logs(container.id, handOver)) {
          const masked = masking[chunk.stream]?.push(chunk.data) ?? chunk.data;
          if (masked.length > 0) writer.write(chunk.stream, masked);
        }
      } finally {
        for (const stream of ['stdout', 'stderr'] as const) {
          const rest = masking[stream]?.end();
          if (rest && rest.length > 0) writer.write(stream, rest);
        }
      }
    })();

    // Stops the container on cancel or timeout; on shutdown it is left running for the next worker.
    const stopper = () => {
      if (stopReason() !== 'shutdown') {
        this.scheduler.stop(container.id, graceSeconds).catch((error: unknown) =>
          log.warn({ err: error }, 'stopping the container failed'),
        );
      }
    };
    signal.addEventListener('abort', stopper, { once: true });
    if (signal.aborted) stopper(); // a cancel or timeout that landed while the container was starting
    let timer: NodeJS.Timeout | undefined;
    if (task.timeoutMs !== undefined) {
      const elapsed = Date.now() - (started?.getTime() ?? Date.now());
      timer = setTimeout(() => this.stopActive(key, 'timeout'), Math.max(0, task.timeoutMs - elapsed));
    }
    let exitCode: number | undefined;
    // The engine can say no exit code will come (Nomad: the allocation was lost with its node).
    let lost: SchedulerError | undefined;
    try {
      ({ exitCode } = await this.scheduler.wait(container.id, handOver));
    } catch (error) {
      if (stopReason() === 'shutdown') throw new HandOver();
      if (!(error instanceof SchedulerError)) throw error;
      log.warn({ err: error, kind: error.kind }, 'container ended without an exit code');
      lost = error;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', stopper);
    }
    await logsDone.catch((error: unknown) => log.warn({ err: error }, 'reading container logs failed'));
    const { archived: logsArchived, error: archiveError } = await this.logs.finish(key, writer);
    if (archiveError) log.warn({ err: archiveError }, 'archiving logs failed; they stay in Redis for a day');
    const logInfo = { logBytes: writer.bytes, logsTruncated: writer.truncated, logsArchived };
    // An adopted attempt whose container an earlier owner stopped for its timeout has exited before this
    // worker's own timer fired: past its timeout, a failure is the timeout's.
    const overdue = task.timeoutMs !== undefined && started !== null && Date.now() - started.getTime() >= task.timeoutMs;
    const reason = stopReason() ?? (overdue && exitCode !== undefined && exitCode !== 0 ? 'timeout' : undefined);
    const result: AttemptResult =
      lost || exitCode === undefined
        ? { status: 'failed', reason: 'scheduler_error', description: lost?.message ?? 'no exit code', retryable: lost ? retryableKinds.has(lost.kind) : true, ...logInfo }
        : reason === 'cancelled'
        ? { ...cancelled(`stopped by a user (exit code ${exitCode})`), exitCode, ...logInfo }
        : reason === 'timeout'
          ? { status: 'failed', reason: 'timeout', description: `exceeded its timeout of ${formatDuration(task.timeoutMs!)}`, exitCode, ...logInfo }
          : exitCode === 0
            ? { status: 'successful', description: 'exited with code 0', exitCode, ...logInfo }
            : { status: 'failed', reason: 'abnormal_exit', description: `exited with code ${exitCode}`, exitCode, ...logInfo };
    return { result, containerId: container.id };
  }

  /**
   * Looks up the secrets and objects a task's environment names. A missing one fails the task
   * (failed_precondition) naming it. Secret values are added to `secretValues` (for masking).
   */
  private async lookUpInterpolations(
    key: TaskAttemptKey,
    task: TaskConfig,
    run: RunInputs,
    secretValues: string[],
  ): Promise<{ values: Map<string, string>; secretVariables: string[] }> {
    const needs = interpolationNeeds({ key, task, run });
    const values = new Map<string, string>();
    const secrets = await this.secrets
      .resolve(key.namespaceId, key.pipelineId, { pipeline: needs.pipelineSecrets, global: needs.globalSecrets })
      .catch((error: unknown) => {
        // e.g. a secret that does not decrypt: this task cannot run, the others can
        throw error instanceof GoferError ? new SpecError(error.message) : error;
      });
    const objects = await this.objects.readForInterpolation(
      { namespaceId: key.namespaceId, pipelineId: key.pipelineId, runId: key.runId },
      { pipeline: needs.pipelineObjects, run: needs.runObjects },
    );
    const missing = [...secrets.missing, ...objects.missing];
    if (missing.length > 0) throw new SpecError(missing.join('; '));
    for (const [name, value] of secrets.pipeline) values.set(`pipeline_secret{{${name}}}`, value);
    for (const [name, value] of secrets.global) values.set(`global_secret{{${name}}}`, value);
    for (const [name, value] of objects.pipeline) values.set(`pipeline_object{{${name}}}`, value);
    for (const [name, value] of objects.run) values.set(`run_object{{${name}}}`, value);
    secretValues.push(...secrets.pipeline.values(), ...secrets.global.values());
    return { values, secretVariables: needs.secretVariables };
  }

  /** Stops taking jobs; running attempts are handed over (their containers keep running). */
  async onModuleDestroy(): Promise<void> {
    this.shuttingDown = true;
    const closing = this.worker?.close();
    for (const attempt of this.active.values()) attempt.stop('shutdown');
    await closing;
  }
}

/**
 * Scheduler failures worth another attempt (within the task's retry policy): the engine's trouble,
 * not the spec's. A bad image or spec fails the same way every time.
 */
const retryableKinds = new Set<SchedulerErrorKind>(['unreachable', 'engine_error', 'unschedulable', 'lost']);

function cancelled(description: string): AttemptResult {
  return { status: 'cancelled', reason: 'cancelled', description };
}

/** An AbortSignal that only fires for shutdown (cancel and timeout still wait for the container to exit). */
function shutdownOnly(signal: AbortSignal, reason: () => StopReason | undefined): AbortSignal {
  const controller = new AbortController();
  const forward = () => {
    if (reason() === 'shutdown') controller.abort('shutdown');
  };
  if (signal.aborted) forward();
  else signal.addEventListener('abort', forward, { once: true });
  return controller.signal;
}

