import { Inject, Injectable } from '@nestjs/common';
import { GOFER_CONFIG, LOGGER, type GoferConfig } from '@gofer/config';
import { RunNotificationsRepository } from '@gofer/dal';
import { parseNotificationContainerLabels, type NotificationKey } from '@gofer/queue';
import type { ContainerInfo } from '@gofer/scheduler';
import type { Logger } from 'pino';
import { NotificationProcessor, notificationLogFields } from './notification.processor.js';
import { NotificationQueue } from './notification-queue.service.js';

/** How long a finished notification's container may linger before the reaper removes it. */
const REAP_AFTER_MS = 30_000;

/**
 * The reconciler's part for notifications (reconciler.service.ts calls it on each pass): re-enqueues
 * pending ones whose job was lost and running ones whose worker died, and tells the reaper which
 * notifier containers are finished.
 */
@Injectable()
export class NotificationReconciler {
  constructor(
    @Inject(GOFER_CONFIG) private readonly config: GoferConfig,
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly notifications: RunNotificationsRepository,
    private readonly queue: NotificationQueue,
    private readonly processor: NotificationProcessor,
  ) {}

  /** Re-enqueues the notifications Postgres says should be in the queue but are not; how many. */
  async requeueLost(): Promise<number> {
    const rows = await this.notifications.maybeLost(this.config.workerDeadAfterMs / 1000, this.config.workerId);
    const candidates = rows
      .map((row) => ({ row, key: { namespaceId: row.namespace_id, pipelineId: row.pipeline_id, runId: Number(row.run_id), label: row.label } }))
      .filter(({ row, key }) => !(row.state === 'running' && row.worker_id === this.config.workerId && this.processor.isActive(key)));
    // Notifications recorded as this worker's that it no longer runs (their job failed here): handed back,
    // so whichever worker gets the job adopts them (others leave a live worker's notifications alone).
    for (const { row, key } of candidates) {
      if (row.state !== 'running' || row.worker_id !== this.config.workerId) continue;
      if (await this.processor.releaseIfIdle(key)) {
        this.logger.info(notificationLogFields(key), 'handed back a notification this worker no longer runs');
      }
    }
    const lost = await this.queue.missing(candidates.map(({ key }) => key));
    await this.queue.enqueue(lost);
    for (const key of lost) this.logger.info(notificationLogFields(key), 'reconciler re-enqueued a notification');
    return lost.length;
  }

  /**
   * Whether the reaper may remove `container`: undefined when it is not a notifier's container (the
   * reaper's other rules decide), true when its notification is complete (or gone with its run).
   */
  async reapable(container: ContainerInfo): Promise<boolean | undefined> {
    const key: NotificationKey | undefined = parseNotificationContainerLabels(container.labels);
    if (!key) return undefined;
    const row = await this.notifications.find(key);
    const finished = !row || (row.state === 'complete' && Date.now() - (row.ended?.getTime() ?? 0) > REAP_AFTER_MS);
    if (finished) this.logger.info({ ...notificationLogFields(key), container_id: container.id }, 'reaping leftover notifier container');
    return finished;
  }
}
