import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
import { GOFER_CONFIG, type GoferConfig } from '@gofer/config';
import { notificationJobId, QueueName, REDIS, type NotificationKey } from '@gofer/queue';
import { Queue, type JobsOptions } from 'bullmq';
import type { Redis } from 'ioredis';

const JOB_OPTIONS: JobsOptions = {
  removeOnComplete: true,
  removeOnFail: true,
  // Infrastructure hiccups get a few quick retries; a job dropped for good is re-enqueued by the reconciler.
  attempts: 5,
  backoff: { type: 'exponential', delay: 500 },
};

/**
 * The BullMQ queue of notifications (a notifier to run after a run completed). A job only says "run
 * this notification now"; its row in `run_notifications` says the rest.
 */
@Injectable()
export class NotificationQueue implements OnModuleDestroy {
  readonly queue: Queue;

  constructor(
    @Inject(REDIS) private readonly redis: Redis,
    @Inject(GOFER_CONFIG) config: GoferConfig,
  ) {
    this.queue = new Queue(QueueName.Notifications, { connection: redis, prefix: config.redisPrefix });
  }

  async enqueue(keys: readonly NotificationKey[]): Promise<void> {
    if (keys.length === 0) return;
    await this.queue.addBulk(keys.map((key) => ({ name: 'notification', data: key, opts: { ...JOB_OPTIONS, jobId: notificationJobId(key) } })));
  }

  /** The notifications that have no job in the queue (finished jobs are removed at once), in one round trip. */
  async missing(keys: readonly NotificationKey[]): Promise<NotificationKey[]> {
    if (keys.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const key of keys) pipeline.exists(this.queue.toKey(notificationJobId(key)));
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
