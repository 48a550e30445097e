/**
 * The spellings of trigger and notifier containers and jobs: names, labels and job ids, each with its
 * parse back. DO NOT CHANGE ANY SPELLING: a new leader adopts the trigger containers an old one started
 * by name, workers adopt notifier containers by name, and the reaper tells them from task containers
 * by label (`task-attempt-key.ts` parses only a task attempt's exact label set). `extension-keys.spec.ts`
 * pins each one.
 */
import { clusterLabels } from './task-attempt-key.js';

const TRIGGER_LABEL = 'gofer.trigger';
const TRIGGER_GENERATION_LABEL = 'gofer.trigger.generation';

/**
 * Container name of an installed trigger: one per trigger and cluster, so two supervisors (an old
 * leader and a new one) can never start two.
 *
 * @example triggerContainerName('0123456789ab', 'cron') === 'gofer.01234567.trigger.cron'
 */
export function triggerContainerName(clusterId: string, trigger: string): string {
  return `gofer.${clusterId.slice(0, 8)}.trigger.${trigger}`;
}

/**
 * Labels of an installed trigger's container; `generation` counts the trigger's installs, so a
 * supervisor replaces a container started for an older install (another image or settings).
 */
export function triggerContainerLabels(clusterId: string, trigger: string, generation: number): Record<string, string> {
  return { ...clusterLabels(clusterId), [TRIGGER_LABEL]: trigger, [TRIGGER_GENERATION_LABEL]: String(generation) };
}

/** The trigger and install generation a container's labels name, or undefined if it is not a trigger's container. */
export function parseTriggerContainerLabels(labels: Readonly<Record<string, string | undefined>>): { trigger: string; generation: number } | undefined {
  const trigger = labels[TRIGGER_LABEL];
  const generation = labels[TRIGGER_GENERATION_LABEL];
  if (!trigger || !/^[a-z0-9][a-z0-9_-]{0,31}$/.test(trigger) || !generation || !/^[1-9]\d{0,9}$/.test(generation)) return undefined;
  return { trigger, generation: Number(generation) };
}

/** Identifies one notifier run: the notifier a pipeline lists under `label`, after run `runId`. */
export interface NotificationKey {
  namespaceId: string;
  pipelineId: string;
  runId: number;
  /** The pipeline's `notifiers[].label`. */
  label: string;
}

/**
 * BullMQ job id of a notification (no `:`, see task-attempt-key.ts); `~` never appears in ids.
 *
 * @example notificationJobId(key) === 'default.hello.12~console'
 */
export function notificationJobId(key: NotificationKey): string {
  return `${key.namespaceId}.${key.pipelineId}.${key.runId}~${key.label}`;
}

/**
 * Container name of a notification: deterministic, so a worker that picks it up after another died
 * adopts the container instead of notifying twice.
 *
 * @example notificationContainerName('0123456789ab', key) === 'gofer.01234567.default.hello.12.notify.console'
 */
export function notificationContainerName(clusterId: string, key: NotificationKey): string {
  return `gofer.${clusterId.slice(0, 8)}.${key.namespaceId}.${key.pipelineId}.${key.runId}.notify.${key.label}`;
}

const NOTIFIER_LABEL = 'gofer.notifier';

/** Labels of a notification's container. */
export function notificationContainerLabels(clusterId: string, key: NotificationKey): Record<string, string> {
  return {
    ...clusterLabels(clusterId),
    'gofer.namespace': key.namespaceId,
    'gofer.pipeline': key.pipelineId,
    'gofer.run': String(key.runId),
    [NOTIFIER_LABEL]: key.label,
  };
}

/** The notification a container's labels name, or undefined if it is not a notification's container. */
export function parseNotificationContainerLabels(labels: Readonly<Record<string, string | undefined>>): NotificationKey | undefined {
  const label = labels[NOTIFIER_LABEL];
  const namespaceId = labels['gofer.namespace'];
  const pipelineId = labels['gofer.pipeline'];
  const run = labels['gofer.run'];
  if (!label || !namespaceId || !pipelineId || !run || !/^[1-9]\d{0,9}$/.test(run)) return undefined;
  return { namespaceId, pipelineId, runId: Number(run), label };
}
