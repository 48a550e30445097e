import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

const DURATION_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/**
 * Every Prometheus metric a Gofer process exports (`GET /metrics`). One registry per process; names
 * use the `gofer_` prefix.
 */
export class GoferMetrics {
  readonly registry = new Registry();

  readonly runsCompleted = new Counter({
    name: 'gofer_runs_completed_total', help: 'Runs that completed, by status.', labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly runDuration = new Histogram({
    name: 'gofer_run_duration_seconds', help: 'Run duration from start to completion, by status.',
    labelNames: ['status'] as const, buckets: DURATION_BUCKETS, registers: [this.registry],
  });
  readonly taskRunsCompleted = new Counter({
    name: 'gofer_task_runs_completed_total', help: 'Task runs that completed, by status.', labelNames: ['status'] as const,
    registers: [this.registry],
  });
  readonly taskRunDuration = new Histogram({
    name: 'gofer_task_run_duration_seconds', help: 'Task run duration (container start to end), by status.',
    labelNames: ['status'] as const, buckets: DURATION_BUCKETS, registers: [this.registry],
  });
  readonly taskRetries = new Counter({
    name: 'gofer_task_retries_total', help: 'Task attempts that failed and were scheduled again.', registers: [this.registry],
  });
  readonly taskStartLatency = new Histogram({
    name: 'gofer_task_start_latency_seconds',
    help: 'Time from a task becoming ready (its last dependency completed, or its run started) to a worker claiming it. First attempts only.',
    buckets: LATENCY_BUCKETS, registers: [this.registry],
  });
  readonly activeContainers = new Gauge({
    name: 'gofer_active_containers', help: 'Task containers this worker process is running or adopting now.', registers: [this.registry],
  });
  readonly queueJobs = new Gauge({
    name: 'gofer_queue_jobs', help: 'Task jobs in the queue, by state (sampled at scrape time).', labelNames: ['state'] as const,
    registers: [this.registry],
  });
  readonly rpcDuration = new Histogram({
    name: 'gofer_grpc_request_duration_seconds', help: 'gRPC request latency, by method and status code.',
    labelNames: ['method', 'code'] as const, buckets: LATENCY_BUCKETS, registers: [this.registry],
  });
  readonly reconcilerRequeued = new Counter({
    name: 'gofer_reconciler_requeued_total', help: 'Task attempts the reconciler put back in the queue (lost jobs, dead workers).',
    registers: [this.registry],
  });
  readonly reapedContainers = new Counter({
    name: 'gofer_reaped_containers_total', help: 'Leftover containers removed by the reaper.', registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'gofer_' });
  }
}
