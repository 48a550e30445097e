import type { NotificationKey } from './extension-keys.js';
import type { TaskAttemptKey } from './task-attempt-key.js';

/**
 * Queue names and job payloads. DO NOT CHANGE THE VALUES OF THIS ENUM: queue names are a wire contract
 * between API and worker replicas of different versions during a rolling deploy.
 */
export enum QueueName {
  Tasks = 'gofer-tasks',
  Notifications = 'gofer-notifications',
}

/** A job of the tasks queue: its id is `taskJobId(data)` (see `task-attempt-key.ts`). */
export type GoferJob =
  | { name: 'task'; queue: QueueName.Tasks; data: TaskAttemptKey }
  /** Its id is `notificationJobId(data)` (see `extension-keys.ts`). */
  | { name: 'notification'; queue: QueueName.Notifications; data: NotificationKey };
