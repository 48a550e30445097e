import { Inject, Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { GOFER_CONFIG, LOGGER, type GoferConfig } from '@gofer/config';
import {
  ClusterRepository, RunNotificationsRepository, RunRepository, Transactions, type ClaimedNotification, type NotificationResult,
} from '@gofer/dal';
import { GoferError } from '@gofer/errors';
import { EventLog } from '@gofer/events';
import { NotifierMetrics, NotifierService, notifierEnvironment, runSummary } from '@gofer/notifiers';
import { formatDuration } from '@gofer/pipeline';
import {
  notificationContainerLabels, notificationContainerName, notificationJobId, QueueName, REDIS, type NotificationKey,
} from '@gofer/queue';
import { SCHEDULER, SchedulerError, type ContainerSpec, type Scheduler } from '@gofer/scheduler';
import { SecretMasker } from '@gofer/secrets';
import { DelayedError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { RunEngine } from './run-engine.service.js';
import { containerQueueWorkerOptions } from './queue-worker-options.js';

/** A notifier still running after this long is stopped and recorded failed. */
const NOTIFIER_TIMEOUT_MS = 10 * 60_000;
/** The notifier's output forwarded to Gofer's log, at most (the rest is dropped). */
const OUTPUT_CAP_BYTES = 64 * 1024;
/** The longest last line of output quoted in a failure's reason. */
const REASON_LINE_CHARS = 300;

/** Thrown inside a notification when the worker shuts down: another worker adopts it. */
class HandOver extends Error {}

/** A notification's outcome, or why this worker must not record one. */
type Outcome = { result: NotificationResult; containerId?: string } | 'lost';

/** Log fields of a notification. */
export function notificationLogFields(key: NotificationKey): Record<string, string | number> {
  return { namespace_id: key.namespaceId, pipeline_id: key.pipelineId, run_id: key.runId, label: key.label };
}

/**
 * Runs notifications from the queue (docs/design.md §6): claims the row (`pending → running`, or
 * adopts a running one whose worker died), starts the notifier's container under its deterministic
 * name through the scheduler — so a second worker adopts the container instead of notifying twice —,
 * waits for it and records its exit code. A notifier that is not installed, cannot start, exits
 * non-zero or times out is recorded failed with a reason; the run itself never changes.
 */
@Injectable()
export class NotificationProcessor implements OnApplicationBootstrap, OnModuleDestroy {
  private worker: Worker<NotificationKey> | undefined;
  private readonly active = new Map<string, (reason: 'timeout' | 'shutdown') => void>();
  /** Notifications whose claim is in flight: the reconciler must not take them for abandoned. */
  private readonly claiming = new Set<string>();
  private clusterId = '';
  private shuttingDown = false;

  constructor(
    @Inject(GOFER_CONFIG) private readonly config: GoferConfig,
    private readonly cluster: ClusterRepository,
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(SCHEDULER) private readonly scheduler: Scheduler,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly engine: RunEngine,
    private readonly runs: RunRepository,
    private readonly notifications: RunNotificationsRepository,
    private readonly notifiers: NotifierService,
    private readonly metrics: NotifierMetrics,
    private readonly transactions: Transactions,
    private readonly events: EventLog,
  ) {}

  /** Notifications this process is running now (the reconciler leaves them alone). */
  isActive(key: NotificationKey): boolean {
    const id = notificationJobId(key);
    return this.active.has(id) || this.claiming.has(id);
  }

  async onApplicationBootstrap(): Promise<void> {
    this.clusterId = await this.cluster.id();
    this.worker = new Worker<NotificationKey>(QueueName.Notifications, (job, token) => this.process(job, token), containerQueueWorkerOptions(this.config, this.redis));
    this.worker.on('error', (error) => this.logger.warn({ err: error }, 'notification queue worker error'));
    this.worker.on('failed', (job, error) =>
      this.logger.warn({ err: error, job_id: job?.id }, 'notification job failed (it will be retried or reconciled)'),
    );
  }

  /**
   * Stops taking new notifications (those running go on); the reconciler calls it while this worker cannot
   * heartbeat to Postgres, since any job taken then could not be claimed and would only wait here.
   */
  async pauseIntake(): Promise<void> {
    if (this.worker && !this.worker.isPaused()) await this.worker.pause(true);
  }

  /** Takes new notifications again after {@link pauseIntake}. */
  async resumeIntake(): Promise<void> {
    if (this.worker?.isPaused() && !this.shuttingDown) await this.worker.resume();
  }

  private async process(job: Job<NotificationKey>, token: string | undefined): Promise<void> {
    const key = job.data;
    if (this.shuttingDown) return this.handOver(job, token);
    const workerId = this.config.workerId;
    const id = notificationJobId(key);
    // This process runs (or is claiming, or handing back) it already: its job came back after the lock
    // lapsed while Redis was out of reach. Ask again later instead of running the notifier twice.
    if (this.isActive(key)) {
      await job.moveToDelayed(Date.now() + this.config.workerDeadAfterMs, token);
      throw new DelayedError();
    }
    this.claiming.add(id);
    let claimed: ClaimedNotification | undefined;
    let claim: ClaimedNotification | undefined;
    try {
      claimed = await this.notifications.claim(key, workerId);
      claim = claimed ?? (await this.notifications.adopt(key, workerId, this.config.workerDeadAfterMs));
    } finally {
      this.claiming.delete(id);
    }
    if (!claim) return; // complete already, gone with its run, or still a live worker's
    const log = this.logger.child({ ...notificationLogFields(key), notifier: claim.notifier });
    if (!claimed) log.info({ previous_worker: claim.previousWorkerId }, 'adopting notification');
    const abort = new AbortController();
    let stopReason: 'timeout' | 'shutdown' | undefined;
    this.active.set(id, (reason) => {
      if (stopReason) return;
      stopReason = reason;
      abort.abort(reason);
    });
    if (this.shuttingDown) this.active.get(id)!('shutdown');
    try {
      const outcome = await this.execute(key, claim, !claimed, abort.signal, () => stopReason, log);
      if (outcome === 'lost') return log.warn('notification was taken over by another worker; result discarded');
      const recorded = await this.record(key, claim.notifier, outcome.result, log);
      // Only once the result is committed may the container go (an adopter would otherwise start it again).
      if (recorded && outcome.containerId) {
        await this.scheduler.remove(outcome.containerId).catch((error: unknown) => log.warn({ err: error }, 'removing the container failed'));
      }
    } catch (error) {
      if (!(error instanceof HandOver)) throw error;
      log.info('worker shutting down; handing the notification to another worker');
      // Released first, so the next worker adopts it at once rather than waiting for this one to retire.
      await this.notifications.release(key, workerId).catch((e: unknown) => log.warn({ err: e }, 'releasing the notification failed; it moves once this worker is gone'));
      return this.handOver(job, token);
    } finally {
      this.active.delete(id);
    }
  }

  /**
   * Hands the notification back if this process has it recorded but does not run it (the reconciler's
   * clean-up), serialized with {@link process}: while it runs, a delivery of it waits.
   */
  async releaseIfIdle(key: NotificationKey): Promise<boolean> {
    if (this.isActive(key)) return false;
    const id = notificationJobId(key);
    this.claiming.add(id);
    try {
      return await this.notifications.release(key, this.config.workerId);
    } finally {
      this.claiming.delete(id);
    }
  }

  /** Puts the job straight back in the queue so another worker adopts the notification (and its container). */
  private async handOver(job: Job<NotificationKey>, token: string | undefined): Promise<never> {
    await job.moveToDelayed(Date.now(), token);
    throw new DelayedError();
  }

  /** Records the outcome (fenced on state and worker) with its event; whether this worker still held it. */
  private async record(key: NotificationKey, notifier: string, result: NotificationResult, log: Logger): Promise<boolean> {
    const row = await this.transactions.once(async (m) => {
      const row = await this.notifications.complete(m, key, this.config.workerId, result);
      if (row) {
        await this.events.append(m, {
          kind: 'notification_completed', namespaceId: key.namespaceId, pipelineId: key.pipelineId, runId: key.runId,
          details: { label: key.label, notifier, status: result.status, exit_code: result.exitCode, reason: result.reason || null },
        });
      }
      return row;
    });
    if (!row) {
      log.warn('notification was taken over by another worker; result discarded');
      return false;
    }
    this.metrics.runs.inc({ notifier, status: result.status });
    if (result.status === 'successful') log.info('notification sent');
    else log.warn({ exit_code: result.exitCode, reason: result.reason }, 'notification failed');
    return true;
  }

  private async execute(
    key: NotificationKey,
    claim: ClaimedNotification,
    adopted: boolean,
    signal: AbortSignal,
    stopReason: () => 'timeout' | 'shutdown' | undefined,
    log: Logger,
  ): Promise<Outcome> {
    const prepared = await this.prepare(key, claim.notifier);
    if ('failure' in prepared) return { result: failed(prepared.failure) };
    const { spec, secrets } = prepared;
    if (stopReason() === 'shutdown') throw new HandOver();
    // Its container was created by a worker that died; if it is gone, starting another could notify twice.
    if (adopted && claim.containerId && !(await this.scheduler.inspect(spec.name))) {
      return { result: failed(`its container ${claim.containerId} disappeared while its worker was down`) };
    }
    let container;
    try {
      container = await this.scheduler.start(spec, signal);
    } catch (error) {
      if (stopReason() === 'shutdown') throw new HandOver();
      if (!(error instanceof SchedulerError)) throw error;
      log.warn({ err: error, kind: error.kind }, 'notifier container could not be started');
      return { result: failed(`its container could not be started: ${error.message}`) };
    }
    if (!(await this.notifications.recordContainer(key, this.config.workerId, container.id))) return 'lost';
    log.debug({ container_id: container.id, adopted: container.adopted }, 'notifier container running');

    // Only shutdown stops following the container; a timeout stops the container and then waits for it.
    const handOver = new AbortController();
    const onAbort = () => {
      if (stopReason() === 'shutdown') handOver.abort('shutdown');
      else this.scheduler.stop(container.id, Math.ceil(this.config.stopGraceMs / 1000)).catch((error: unknown) => log.warn({ err: error }, 'stopping the container failed'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    const elapsed = Date.now() - (claim.started?.getTime() ?? Date.now());
    const timer = setTimeout(() => this.active.get(notificationJobId(key))?.('timeout'), Math.max(0, NOTIFIER_TIMEOUT_MS - elapsed));
    const output = new NotifierOutput(secrets);
    const reading = (async () => {
      for await (const chunk of this.scheduler.logs(container.id, handOver.signal)) output.push(chunk.stream, chunk.data);
    })();
    let exitCode: number;
    try {
      ({ exitCode } = await this.scheduler.wait(container.id, handOver.signal));
    } catch (error) {
      if (stopReason() === 'shutdown') throw new HandOver();
      if (!(error instanceof SchedulerError)) throw error;
      // No exit code will come (Nomad: its allocation was lost with its node).
      await reading.catch(() => undefined);
      return { result: failed(`its container ended without an exit code: ${error.message}`), containerId: container.id };
    } finally {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
    }
    await reading.catch((error: unknown) => log.warn({ err: error }, 'reading the notifier output failed'));
    output.log(log);
    if (stopReason() === 'timeout') {
      return { result: { status: 'failed', exitCode, reason: `timed out after ${formatDuration(NOTIFIER_TIMEOUT_MS)}` }, containerId: container.id };
    }
    if (exitCode === 0) return { result: { status: 'successful', exitCode, reason: '' }, containerId: container.id };
    const last = output.lastLine();
    return { result: { status: 'failed', exitCode, reason: `exited with code ${exitCode}${last ? `: ${last}` : ''}` }, containerId: container.id };
  }

  /** The notifier's container spec and the secret values it holds, or why it cannot run. */
  private async prepare(key: NotificationKey, notifier: string): Promise<{ spec: ContainerSpec; secrets: string[] } | { failure: string }> {
    const run = await this.runs.find(key);
    if (!run || run.state !== 'complete') return { failure: `run ${key.runId} is not complete` };
    const config = await this.engine.config(key.namespaceId, key.pipelineId, run.configVersion);
    const entry = (config.notifiers ?? []).find((n) => n.label === key.label);
    if (!entry) return { failure: `config version ${run.configVersion} lists no notifier labelled "${key.label}"` };
    const installed = await this.notifiers.find(notifier);
    if (!installed) return { failure: `notifier "${notifier}" is not installed` };
    let installSettings: Record<string, string>;
    try {
      installSettings = this.notifiers.openSettings(installed);
    } catch (error) {
      if (error instanceof GoferError) return { failure: error.message };
      throw error;
    }
    const summary = runSummary(run, await this.runs.listTaskRuns(key));
    return {
      spec: {
        name: notificationContainerName(this.clusterId, key),
        image: installed.image,
        env: notifierEnvironment({ key, notifier, summary, installSettings, pipelineSettings: entry.settings ?? {} }),
        labels: notificationContainerLabels(this.clusterId, key),
      },
      // Install settings are sealed at rest: their values never reach Gofer's log.
      secrets: Object.values(installSettings).filter((value) => value.length > 0),
    };
  }

  /** Stops taking jobs; running notifications are handed over (their containers keep running). */
  async onModuleDestroy(): Promise<void> {
    this.shuttingDown = true;
    const closing = this.worker?.close();
    for (const stop of this.active.values()) stop('shutdown');
    await closing;
  }
}

function failed(reason: string): NotificationResult {
  return { status: 'failed', exitCode: null, reason };
}

/**
 * A notifier's output, masked: the first {@link OUTPUT_CAP_BYTES} go to Gofer's log (the built-in
 * `log` notifier prints the summary there), and its last line explains a failure.
 */
class NotifierOutput {
  private readonly masker: SecretMasker | undefined;
  private readonly streams;
  private readonly kept: Buffer[] = [];
  private keptBytes = 0;
  private dropped = 0;
  private tail = '';

  constructor(secrets: string[]) {
    this.masker = secrets.length > 0 ? new SecretMasker(secrets) : undefined;
    this.streams = { stdout: this.masker?.stream(), stderr: this.masker?.stream() };
  }

  push(stream: 'stdout' | 'stderr', data: Buffer): void {
    const masked = this.streams[stream]?.push(data) ?? data;
    this.keep(masked);
  }

  private keep(data: Buffer): void {
    if (data.length === 0) return;
    const room = OUTPUT_CAP_BYTES - this.keptBytes;
    if (room > 0) this.kept.push(data.subarray(0, room));
    this.keptBytes += Math.min(room, data.length);
    this.dropped += Math.max(0, data.length - Math.max(0, room));
    this.tail = (this.tail + data.toString('utf8')).slice(-4096);
  }

  /** Writes what was kept to the log, a line per entry. */
  log(log: Logger): void {
    for (const stream of ['stdout', 'stderr'] as const) {
      const rest = this.streams[stream]?.end();
      if (rest) this.keep(rest);
    }
    const text = Buffer.concat(this.kept).toString('utf8');
    for (const line of text.split('\n')) if (line.trim()) log.info({ line: line.trimEnd() }, 'notifier output');
    if (this.dropped > 0) log.info({ dropped_bytes: this.dropped }, 'notifier output over the cap was dropped');
  }

  /** The last non-empty line of output, shortened; empty if there was none. */
  lastLine(): string {
    const line = this.tail.split('\n').map((l) => l.trim()).filter(Boolean).pop() ?? '';
    return line.length > REASON_LINE_CHARS ? `${line.slice(0, REASON_LINE_CHARS - 1)}…` : line;
  }
}
