import type { GoferConfig } from '@gofer/config';
import type { WorkerOptions } from 'bullmq';
import type { Redis } from 'ioredis';

/**
 * The BullMQ worker settings of every queue whose jobs run containers (task attempts, notifications):
 * a dead worker's job moves to another once its lock expires (GOFER_WORKER_DEAD_AFTER), while its
 * container keeps running to be adopted; every stall is a worker's death, not a poisonous job, so a
 * stalled job is never given up.
 */
export function containerQueueWorkerOptions(config: GoferConfig, redis: Redis): WorkerOptions {
  return {
    connection: redis.duplicate({ maxRetriesPerRequest: null }),
    prefix: config.redisPrefix,
    concurrency: config.workerConcurrency,
    lockDuration: config.workerDeadAfterMs,
    stalledInterval: Math.max(1000, Math.floor(config.workerDeadAfterMs / 2)),
    maxStalledCount: 1_000_000,
  };
}
