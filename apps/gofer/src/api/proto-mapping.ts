import { pendingReasonOf, type PendingContext } from '@gofer/dal';
import type {
  EventEntity, NamespaceEntity, ObjectEntity, PastAttempt, PipelineConfigEntity, PipelineEntity, RunEntity, SecretEntity,
  StatusReason as DbReason, TaskRunEntity, TokenEntity, TriggerEntity, TriggerSubscriptionEntity, RunNotificationEntity,
} from '@gofer/dal';
import type { NotifierView } from '@gofer/notifiers';
import type { PipelineConfig as Config } from '@gofer/pipeline';
import {
  ConfigFormat, PipelineState, RequiredParentStatus, RunState, RunStatus, StatusReasonKind, TaskRunState, TaskRunStatus, TokenKind,
  TriggerState, type InstalledTrigger, type Event, type Namespace, type ObjectInfo, type Pipeline, type PipelineConfig, type Run, type Secret, type StatusReason,
  type TaskRun, type Token, type WaitingReason, WaitingReasonKind, NotificationState, NotificationStatus, type InstalledNotifier, type Notification,
} from '@gofer/proto';

const ms = (date: Date | string | null | undefined): number => (date ? new Date(date).getTime() : 0);
const upper = (value: string) => value.toUpperCase();

function reason(value: DbReason | null): StatusReason | null {
  if (!value) return null;
  return {
    reason: StatusReasonKind[`STATUS_REASON_KIND_${upper(value.reason)}` as keyof typeof StatusReasonKind],
    description: value.description,
  };
}

export function toPipeline(row: PipelineEntity): Pipeline {
  return {
    namespaceId: row.namespaceId,
    id: row.id,
    name: row.name,
    description: row.description,
    state: row.state === 'enabled' ? PipelineState.PIPELINE_STATE_ENABLED : PipelineState.PIPELINE_STATE_DISABLED,
    parallelism: row.parallelism,
    latestConfigVersion: row.latestVersion,
    created: ms(row.created),
    updated: ms(row.updated),
  };
}

export function toPipelineConfig(row: PipelineConfigEntity): PipelineConfig {
  const config = row.config as Config;
  return {
    namespaceId: row.namespaceId,
    pipelineId: row.pipelineId,
    version: row.version,
    config: Buffer.from(row.raw, 'utf8'),
    format: /^\s*[{[]/.test(row.raw) ? ConfigFormat.CONFIG_FORMAT_JSON : ConfigFormat.CONFIG_FORMAT_YAML,
    created: ms(row.created),
    tasks: config.tasks.map((task) => ({
      id: task.id,
      image: task.image,
      dependsOn: Object.fromEntries(
        Object.entries(task.dependsOn).map(([parent, need]) => [
          parent,
          RequiredParentStatus[`REQUIRED_PARENT_STATUS_${upper(need)}` as keyof typeof RequiredParentStatus],
        ]),
      ),
    })),
  };
}

/**
 * Why a run is pending, from its pipeline's {@link PendingContext}; null when it is not pending or
 * the context is unknown (the pipeline was just deleted).
 */
export function runWaitingReason(row: Pick<RunEntity, 'state' | 'pipelineId' | 'namespaceId'>, context: PendingContext | null): WaitingReason | null {
  if (row.state !== 'pending' || !context) return null;
  switch (pendingReasonOf(context)) {
    case 'disabled': {
      const namespace = row.namespaceId === 'default' ? '' : ` -n ${row.namespaceId}`;
      return {
        kind: WaitingReasonKind.WAITING_REASON_KIND_PIPELINE_DISABLED,
        description: `the pipeline is disabled: gofer pipeline enable ${row.pipelineId}${namespace}`,
      };
    }
    case 'parallelism':
      return {
        kind: WaitingReasonKind.WAITING_REASON_KIND_PARALLELISM,
        description: `behind ${context.running} running run(s) of the pipeline's parallelism limit of ${context.parallelism}`,
      };
    case 'admission':
      return { kind: WaitingReasonKind.WAITING_REASON_KIND_ADMISSION, description: 'being admitted' };
  }
}

/**
 * Why a task run is not running yet, from rows already loaded: `siblings` are its run's task runs,
 * `dependsOn` its parents in the run's config (undefined when not loaded), `runState` its run's state.
 * Null once it runs or is complete.
 */
export function taskRunWaitingReason(
  row: Pick<TaskRunEntity, 'state' | 'readyAt'>,
  now: number,
  context: { runState?: string; dependsOn?: readonly string[]; siblings?: ReadonlyArray<Pick<TaskRunEntity, 'taskId' | 'state'>> } = {},
): WaitingReason | null {
  if (row.state === 'waiting') {
    const readyAt = ms(row.readyAt);
    return readyAt > now
      ? { kind: WaitingReasonKind.WAITING_REASON_KIND_RETRY_BACKOFF, description: `retry backoff until ${new Date(readyAt).toISOString()}` }
      : { kind: WaitingReasonKind.WAITING_REASON_KIND_WORKER_SLOT, description: 'queued for a worker slot' };
  }
  if (row.state !== 'processing') return null;
  if (context.runState === 'pending') return { kind: WaitingReasonKind.WAITING_REASON_KIND_RUN_PENDING, description: 'its run is pending' };
  const states = new Map((context.siblings ?? []).map((t) => [t.taskId, t.state]));
  const open = (context.dependsOn ?? []).filter((parent) => states.get(parent) !== 'complete');
  return {
    kind: WaitingReasonKind.WAITING_REASON_KIND_DEPENDENCIES,
    description: open.length > 0 ? `waiting for ${open.join(', ')} to complete` : 'waiting for its dependencies to complete',
  };
}

/**
 * A run; `notifications` are its notifiers' outcomes (GetRun and ListRuns fill them), `pending` its
 * pipeline's context when the run is pending (for its waiting reason).
 */
export function toRun(row: RunEntity, notifications: readonly RunNotificationEntity[] = [], pending: PendingContext | null = null): Run {
  return {
    namespaceId: row.namespaceId,
    pipelineId: row.pipelineId,
    id: row.id,
    state: RunState[`RUN_STATE_${upper(row.state)}` as keyof typeof RunState],
    status: row.status ? RunStatus[`RUN_STATUS_${upper(row.status)}` as keyof typeof RunStatus] : RunStatus.RUN_STATUS_UNSPECIFIED,
    statusReason: reason(row.statusReason),
    started: ms(row.started),
    ended: ms(row.ended),
    variables: row.variables,
    configVersion: row.configVersion,
    retryOf: row.retryOf ?? 0,
    startedBy: row.startedBy,
    notifications: notifications.map(toNotification),
    waitingReason: runWaitingReason(row, pending),
  };
}

/** A task run; `waitingReason` is why it is not running yet (see {@link taskRunWaitingReason}). */
export function toTaskRun(row: TaskRunEntity, waitingReason: WaitingReason | null = null): TaskRun {
  return {
    namespaceId: row.namespaceId,
    pipelineId: row.pipelineId,
    runId: row.runId,
    taskId: row.taskId,
    attempt: row.attempt,
    state: TaskRunState[`TASK_RUN_STATE_${upper(row.state)}` as keyof typeof TaskRunState],
    status: row.status
      ? TaskRunStatus[`TASK_RUN_STATUS_${upper(row.status)}` as keyof typeof TaskRunStatus]
      : TaskRunStatus.TASK_RUN_STATUS_UNSPECIFIED,
    statusReason: reason(row.statusReason),
    exitCode: row.exitCode ?? undefined,
    image: row.image,
    schedulerId: row.schedulerId ?? '',
    workerId: row.workerId ?? '',
    started: ms(row.started),
    ended: ms(row.ended),
    waitingReason,
  };
}

/** An earlier attempt of a retried task run, as its own TaskRun message. */
export function toPastTaskRun(row: TaskRunEntity, past: PastAttempt): TaskRun {
  return {
    ...toTaskRun(row),
    attempt: past.attempt,
    state: TaskRunState.TASK_RUN_STATE_COMPLETE,
    status: TaskRunStatus.TASK_RUN_STATUS_FAILED,
    statusReason: reason(past.statusReason),
    exitCode: past.exitCode ?? undefined,
    schedulerId: past.schedulerId ?? '',
    workerId: past.workerId ?? '',
    started: ms(past.started),
    ended: ms(past.ended),
    waitingReason: null,
  };
}

export function toToken(row: TokenEntity): Token {
  return {
    id: row.id,
    kind: { management: TokenKind.TOKEN_KIND_MANAGEMENT, client: TokenKind.TOKEN_KIND_CLIENT, run: TokenKind.TOKEN_KIND_RUN }[row.kind],
    namespaces: row.namespaces,
    metadata: row.metadata,
    created: ms(row.created),
    expires: ms(row.expires),
    disabled: row.disabled,
  };
}

export function toNamespace(row: NamespaceEntity): Namespace {
  return { id: row.id, name: row.name, description: row.description, created: ms(row.created) };
}

export function toObjectInfo(row: ObjectEntity): ObjectInfo {
  return { key: row.key, size: Number(row.size), sha256: row.sha256, created: ms(row.created) };
}

export function toSecret(row: SecretEntity, value?: string): Secret {
  return { key: row.key, value: value ?? '', namespaces: row.namespaces, created: ms(row.created), updated: ms(row.updated) };
}

export function toEvent(row: EventEntity): Event {
  return {
    id: Number(row.id),
    kind: row.kind,
    namespaceId: row.namespaceId,
    pipelineId: row.pipelineId,
    runId: row.runId,
    taskId: row.taskId,
    details: JSON.stringify(row.details),
    emitted: ms(row.emitted),
  };
}

export function toInstalledTrigger(row: TriggerEntity, subscriptions: TriggerSubscriptionEntity[] = [], enabled: (s: TriggerSubscriptionEntity) => boolean = () => true): InstalledTrigger {
  return {
    name: row.name,
    image: row.image,
    settingKeys: Object.keys(row.settings).sort(),
    state: TriggerState[`TRIGGER_STATE_${upper(row.state)}` as keyof typeof TriggerState],
    containerId: row.containerId,
    address: row.address,
    subscriptions: subscriptions.map((s) => ({
      namespaceId: s.namespaceId,
      pipelineId: s.pipelineId,
      label: s.label,
      settings: s.settings,
      active: enabled(s),
      lastEvent: ms(s.lastEvent),
      lastEventKey: s.lastEventKey,
    })),
    lastEvent: ms(row.lastEvent),
    lastError: row.lastError,
    installed: ms(row.installed),
    builtin: row.builtin,
    description: row.description,
    subscriptionSettings: row.settingsDoc,
    restarts: row.restarts,
  };
}

export function toNotification(row: RunNotificationEntity): Notification {
  return {
    label: row.label,
    notifier: row.notifier,
    state: NotificationState[`NOTIFICATION_STATE_${upper(row.state)}` as keyof typeof NotificationState],
    status: row.status
      ? NotificationStatus[`NOTIFICATION_STATUS_${upper(row.status)}` as keyof typeof NotificationStatus]
      : NotificationStatus.NOTIFICATION_STATUS_UNSPECIFIED,
    exitCode: row.exitCode ?? 0,
    reason: row.reason,
    started: ms(row.started),
    ended: ms(row.ended),
    hasExitCode: row.exitCode !== null,
  };
}

export function toInstalledNotifier(notifier: NotifierView): InstalledNotifier {
  return {
    name: notifier.name,
    image: notifier.image,
    settingKeys: notifier.settingKeys,
    installed: ms(notifier.installed),
    builtin: notifier.builtin,
  };
}
