import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { GOFER_CONFIG, type GoferConfig } from '@gofer/config';
import { QueueName, taskJobId, type TaskAttemptKey } from '@gofer/queue';
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import { REDIS } from '@gofer/queue';

/** A task attempt that became ready, and how long it must wait first (retry backoff). */
export interface ReadyTask {
  key: TaskAttemptKey;
  delayMs: number;
  /** A first task of a run that was just admitted: it queues behind the work of runs in flight. */
  startsRun?: boolean;
}

/**
 * BullMQ takes jobs without a priority before prioritized ones, so the tasks of runs already in flight
 * (dependents, retries) go ahead of the first tasks of new runs: a burst of new runs does not delay
 * the runs it arrives behind, and fewer runs are half-done at once.
 */
const NEW_RUN_PRIORITY = 1;

const JOB_OPTIONS: JobsOptions = {
  removeOnComplete: true,
  removeOnFail: true,
  // Infrastructure hiccups (Postgres restarting, engine busy) get a few quick retries; the task's own
  // retries are the engine's business, and anything dropped is re-enqueued by the reconciler.
  attempts: 5,
  backoff: { type: 'exponential', delay: 500 },
};

/** The BullMQ queue of task attempts. It only ever says "run this attempt now"; Postgres says the rest. */
@Injectable()
export class TaskQueue implements OnModuleDestroy {
  readonly queue: Queue;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(GOFER_CONFIG) config: GoferConfig,
  ) {
    this.queue = new Queue(QueueName.Tasks, { connection: redis, prefix: config.redisPrefix });
  }

  async enqueue(tasks: ReadyTask[]): Promise<void> {
    if (tasks.length === 0) return;
    await this.queue.addBulk(
      tasks.map(({ key, delayMs, startsRun }) => ({
        name: 'task',
        data: key,
        opts: {
          ...JOB_OPTIONS, jobId: taskJobId(key), delay: Math.max(0, Math.round(delayMs)),
          ...(startsRun ? { priority: NEW_RUN_PRIORITY } : {}),
        },
      })),
    );
  }

  /**
   * The attempts that have no job in the queue, checked in one round trip. Finished jobs are removed
   * at once (removeOnComplete/removeOnFail), so a job's hash existing means it is waiting, delayed,
   * active or prioritised.
   */
  async missing(keys: TaskAttemptKey[]): Promise<TaskAttemptKey[]> {
    if (keys.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const key of keys) pipeline.exists(this.queue.toKey(taskJobId(key)));
    const replies = (await pipeline.exec()) ?? [];
    return keys.filter((_, index) => {
      const [error, exists] = replies[index] ?? [new Error('no reply')];
      if (error) throw error;
      return exists === 0;
    });
  }

  async onModuleDestroy(): Promise<void> {
    await this.queue.close();
  }
}
