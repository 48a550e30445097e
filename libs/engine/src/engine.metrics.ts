import { Inject, Injectable } from '@nestjs/common';
import { GOFER_CONFIG, LATENCY_BUCKETS, METRICS_REGISTRY, type GoferConfig } from '@gofer/config';
import { RunRepository, WorkersRepository } from '@gofer/dal';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { TaskQueue } from './task-queue.service.js';

const DURATION_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

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
    // collect once per scrape); on a database error the last sample stays, as for gofer_queue_jobs.
    new Gauge({
      name: 'gofer_runs_pending', labelNames: ['reason'] as const, registers,
      help: 'Runs pending in the cluster, by reason: parallelism (behind the pipeline\'s limit), disabled (pipeline disabled), admission (a slot is free, being admitted).',
      async collect() {
        try {
          for (const [reason, count] of Object.entries(await runs.pendingByReason())) this.set({ reason }, count);
        } catch {
          // Postgres unavailable: keep the last sample.
        }
      },
    });
    new Gauge({
      name: 'gofer_workers_alive', registers,
      help: 'Worker processes in the cluster whose heartbeat is fresher than GOFER_WORKER_DEAD_AFTER.',
      async collect() {
        try {
          this.set(await workers.countAlive(config.workerDeadAfterMs));
        } catch {
          // Postgres unavailable: keep the last sample.
        }
      },
    });
    const activeContainers = () => this.activeContainersNow();
    new Gauge({
      name: 'gofer_active_containers', help: 'Task containers this worker process is running or adopting now.', registers,
      collect() {
        this.set(activeContainers());
      },
    });
    new Gauge({
      name: 'gofer_queue_jobs', help: 'Task jobs in the queue, by state (sampled at scrape time).', labelNames: ['state'] as const, registers,
      async collect() {
        try {
          const counts = await queue.queue.getJobCounts('waiting', 'delayed', 'active', 'prioritized');
          for (const [state, count] of Object.entries(counts)) this.set({ state }, count);
        } catch {
          // Redis unavailable: the last sample stays, and the other metrics are still worth serving.
        }
      },
    });
    this.reconcilerRequeued = new Counter({
      name: 'gofer_reconciler_requeued_total', help: 'Task attempts the reconciler put back in the queue (lost jobs, dead workers).',
      registers,
    });
    this.reapedContainers = new Counter({
      name: 'gofer_reaped_containers_total', help: 'Leftover containers removed by the reaper.', registers,
    });
  }

  /** Where `gofer_active_containers` reads its value at scrape time (the worker's running attempts). */
  sampleActiveContainers(count: () => number): void {
    this.activeContainersNow = count;
  }
}
