import { Inject, Injectable } from '@nestjs/common';
import { LATENCY_BUCKETS, METRICS_REGISTRY } from '@gofer/config';
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
  readonly reconcilerRequeued: Counter;
  readonly reapedContainers: Counter;
  /** How many task containers this process is running or adopting now; the worker sets it. */
  private activeContainersNow: () => number = () => 0;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry, queue: TaskQueue) {
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
