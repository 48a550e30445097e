import type {
  EventEntity, NamespaceEntity, ObjectEntity, PastAttempt, PipelineConfigEntity, PipelineEntity, RunEntity, SecretEntity,
  StatusReason as DbReason, TaskRunEntity, TokenEntity,
} from '@gofer/dal';
import type { PipelineConfig as Config } from '@gofer/pipeline';
import {
  ConfigFormat, PipelineState, RequiredParentStatus, RunState, RunStatus, StatusReasonKind, TaskRunState, TaskRunStatus, TokenKind,
  type Event, type Namespace, type ObjectInfo, type Pipeline, type PipelineConfig, type Run, type Secret, type StatusReason,
  type TaskRun, type Token,
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

export function toRun(row: RunEntity): Run {
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
  };
}

export function toTaskRun(row: TaskRunEntity): TaskRun {
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
