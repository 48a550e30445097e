import type { GoferConfig } from '@gofer/config';
import type { WorkerOptions } from 'bullmq';
import type { Redis } from 'ioredis';

/**
 * The BullMQ worker settings of every queue whose jobs run containers (task attempts, notifications):
 * a dead worker's job moves to another once its lock expires (GOFER_WORKER_DEAD_AFTER; a live worker
 * renews it every half of that), while its container keeps running to be adopted. Every worker looks for
 * expired locks every quarter of it, so a dead worker's attempt is adopted within about 1.25 times
 * GOFER_WORKER_DEAD_AFTER (12.5 s at the default). Every stall is a worker's death, not a poisonous job,
 * so a stalled job is never given up.
 */
export function containerQueueWorkerOptions(config: GoferConfig, redis: Redis): WorkerOptions {
  return {
    connection: redis.duplicate({ maxRetriesPerRequest: null }),
    prefix: config.redisPrefix,
    concurrency: config.workerConcurrency,
    lockDuration: config.workerDeadAfterMs,
    stalledInterval: Math.max(500, Math.floor(config.workerDeadAfterMs / 4)),
    maxStalledCount: 1_000_000,
  };
}
