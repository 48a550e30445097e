import { Inject, Injectable } from '@nestjs/common';
import { GOFER_CONFIG, LATENCY_BUCKETS, METRICS_REGISTRY, type GoferConfig } from '@gofer/config';
import { RunRepository, WorkersRepository } from '@gofer/dal';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { TaskQueue } from './task-queue.service.js';

const DURATION_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
/**
 * How long a scrape waits for a sample from Postgres or Redis. Past it the last sample stays: an
 * unreachable or stalled service must not stall `/metrics`, or Prometheus (which gives up on a scrape
 * after 10 s by default) would lose every metric of the process, its Postgres and Redis error counters
 * too, for as long as the outage lasts.
 */
const SAMPLE_TIMEOUT_MS = 2_000;

/**
 * `take`, bounded by {@link SAMPLE_TIMEOUT_MS} (undefined past it, or on an error). A sample still in
 * flight from an earlier scrape is waited for again rather than asked for twice (a command queued while
 * Redis reconnects waits until it is back).
 */
function sampler<T>(take: () => Promise<T>): () => Promise<T | undefined> {
  let inFlight: Promise<T> | undefined;
  return () => {
    const sample = (inFlight ??= take().finally(() => (inFlight = undefined)));
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(undefined), SAMPLE_TIMEOUT_MS);
      sample.then(
        (value) => resolve(value),
        () => resolve(undefined),
      ).finally(() => clearTimeout(timer));
    });
  };
}

/**
 * The engine's metrics: runs, task runs, the queue, containers, the reconciler and the reaper. Names
 * use the `gofer_` prefix, base units and `_total` for counters; gauges are sampled at scrape time.
 */
@Injectable()
export class EngineMetrics {
  readonly runsCompleted: Counter<'status'>;
  readonly runDuration: Histogram<'status'>;
  readonly taskRunsCompleted: Counter<'status'>;
  readonly taskRunDuration: Histogram<'status'>;
  readonly taskRetries: Counter;
  readonly taskStartLatency: Histogram;
  readonly queueWait: Histogram;
  readonly reconcilerRequeued: Counter;
  readonly reapedContainers: Counter;
  readonly adoptedAttempts: Counter;
  /** How many task containers this process is running or adopting now; the worker sets it. */
  private activeContainersNow: () => number = () => 0;

  constructor(
    @Inject(METRICS_REGISTRY) registry: Registry,
    queue: TaskQueue,
    runs: RunRepository,
    workers: WorkersRepository,
    @Inject(GOFER_CONFIG) config: GoferConfig,
  ) {
    const registers = [registry];
    this.runsCompleted = new Counter({
      name: 'gofer_runs_completed_total', help: 'Runs that completed, by status.', labelNames: ['status'] as const, registers,
    });
    this.runDuration = new Histogram({
      name: 'gofer_run_duration_seconds', help: 'Run duration from start to completion, by status.',
      labelNames: ['status'] as const, buckets: DURATION_BUCKETS, registers,
    });
    this.taskRunsCompleted = new Counter({
      name: 'gofer_task_runs_completed_total', help: 'Task runs that completed, by status.', labelNames: ['status'] as const, registers,
    });
    this.taskRunDuration = new Histogram({
      name: 'gofer_task_run_duration_seconds', help: 'Task run duration (container start to end), by status.',
      labelNames: ['status'] as const, buckets: DURATION_BUCKETS, registers,
    });
    this.taskRetries = new Counter({
      name: 'gofer_task_retries_total', help: 'Task attempts that failed and were scheduled again.', registers,
    });
    this.taskStartLatency = new Histogram({
      name: 'gofer_task_start_latency_seconds',
      help: 'Time from a task becoming ready (its last dependency completed, or its run started) to a worker claiming it. First attempts only.',
      buckets: LATENCY_BUCKETS, registers,
    });
    // Measured from the task run's `ready_at` (stored in Postgres: when the attempt became waiting, or
    // when its retry backoff ended) to the claim's `started`, rather than from the BullMQ job's
    // timestamp: a re-enqueued job (reconciler, Redis flush) gets a new timestamp, but the wait is the
    // attempt's. Every attempt, retries included.
    this.queueWait = new Histogram({
      name: 'gofer_queue_wait_seconds',
      help: 'Time a task attempt waited between becoming ready (or its retry backoff ending) and a worker claiming it.',
      buckets: LATENCY_BUCKETS, registers,
    });
    // Sampled from Postgres at scrape time: one cheap statement each per scrape (prom-client calls
    // collect once per scrape); when Postgres fails or is slow to answer the last sample stays, as for
    // gofer_queue_jobs.
    const pending = sampler(() => runs.pendingByReason());
    new Gauge({
      name: 'gofer_runs_pending', labelNames: ['reason'] as const, registers,
      help: 'Runs pending in the cluster, by reason: parallelism (behind the pipeline\'s limit), disabled (pipeline disabled), admission (a slot is free, being admitted).',
      async collect() {
        for (const [reason, count] of Object.entries((await pending()) ?? {})) this.set({ reason }, count);
      },
    });
    const alive = sampler(() => workers.countAlive(config.workerDeadAfterMs));
    new Gauge({
      name: 'gofer_workers_alive', registers,
      help: 'Worker processes in the cluster whose heartbeat is fresher than GOFER_WORKER_DEAD_AFTER.',
      async collect() {
        const count = await alive();
        if (count !== undefined) this.set(count);
      },
    });
    const activeContainers = () => this.activeContainersNow();
    new Gauge({
      name: 'gofer_active_containers', help: 'Task containers this worker process is running or adopting now.', registers,
      collect() {
        this.set(activeContainers());
      },
    });
    // Redis unavailable or slow: the last sample stays, and the other metrics are still worth serving.
    const jobs = sampler(() => queue.queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized'));
    new Gauge({
      name: 'gofer_queue_jobs', help: 'Task jobs in the queue, by state (sampled at scrape time).', labelNames: ['state'] as const, registers,
      async collect() {
        for (const [state, count] of Object.entries((await jobs()) ?? {})) this.set({ state }, count);
      },
    });
    this.reconcilerRequeued = new Counter({
      name: 'gofer_reconciler_requeued_total', help: 'Task attempts the reconciler put back in the queue (lost jobs, dead workers).',
      registers,
    });
    this.reapedContainers = new Counter({
      name: 'gofer_reaped_containers_total', help: 'Leftover containers removed by the reaper.', registers,
    });
    this.adoptedAttempts = new Counter({
      name: 'gofer_adopted_attempts_total',
      help: 'Running task attempts this worker took over from a worker that died or handed them back (their container kept running).',
      registers,
    });
  }

  /** Where `gofer_active_containers` reads its value at scrape time (the worker's running attempts). */
  sampleActiveContainers(count: () => number): void {
    this.activeContainersNow = count;
  }
}
