// The `--output json` shapes of docs/design.md §9: snake_case keys, lower-case enum values without their
// prefix (null when unspecified), ISO timestamps (null when unset). Pure functions over API messages.
import type {
  Event, InstalledNotifier, InstalledTrigger, Namespace, Notification, ObjectInfo, Pipeline, PipelineConfig, Run, Secret, StatusReason, TaskRun, Token,
  WaitingReason,
} from '@gofer/proto';

/** Lower-cases an enum value name after stripping its prefix (`RUN_STATE_RUNNING` -> `running`); UNSPECIFIED -> null. */
export function enumValue(value: string | null | undefined, prefix: string): string | null {
  if (!value) return null;
  // A value this CLI does not know (a newer service) arrives as its number.
  if (typeof value !== 'string') return `unknown (${String(value)})`;
  const bare = value.startsWith(prefix) ? value.slice(prefix.length) : value;
  return bare === 'UNSPECIFIED' ? null : bare.toLowerCase();
}

/** Unix milliseconds -> ISO 8601, or null when 0 (not set). */
export function isoTime(ms: number): string | null {
  return ms ? new Date(ms).toISOString() : null;
}

/** Lower-case names of the API's enums, as the CLI shows them everywhere. */
export const pipelineState = (p: Pick<Pipeline, 'state'>) => enumValue(p.state, 'PIPELINE_STATE_');
export const runState = (r: Pick<Run, 'state'>) => enumValue(r.state, 'RUN_STATE_');
export const runStatus = (r: Pick<Run, 'status'>) => enumValue(r.status, 'RUN_STATUS_');
export const taskRunState = (t: Pick<TaskRun, 'state'>) => enumValue(t.state, 'TASK_RUN_STATE_');
export const taskRunStatus = (t: Pick<TaskRun, 'status'>) => enumValue(t.status, 'TASK_RUN_STATUS_');
export const reasonKind = (s: StatusReason) => enumValue(s.reason, 'STATUS_REASON_KIND_');
export const tokenKind = (t: Pick<Token, 'kind'>) => enumValue(t.kind, 'TOKEN_KIND_');

/** JSON of a status reason; null when absent. */
export function statusReasonJson(reason: StatusReason | null | undefined) {
  return reason ? { reason: reasonKind(reason), description: reason.description } : null;
}

export const waitingKind = (w: WaitingReason) => enumValue(w.kind, 'WAITING_REASON_KIND_');

/**
 * JSON of why a run or task run waits (`{reason, description}`, as status_reason); null when it does
 * not wait.
 */
export function waitingReasonJson(waiting: WaitingReason | null | undefined) {
  return waiting ? { reason: waitingKind(waiting), description: waiting.description } : null;
}

/** JSON of a pipeline. */
export function pipelineJson(p: Pipeline) {
  return {
    namespace: p.namespaceId,
    id: p.id,
    name: p.name,
    description: p.description,
    state: pipelineState(p),
    parallelism: p.parallelism,
    latest_config_version: p.latestConfigVersion,
    created: isoTime(p.created),
    updated: isoTime(p.updated),
  };
}

/** JSON of one config version (the raw config as text). */
export function pipelineConfigJson(c: PipelineConfig) {
  return {
    namespace: c.namespaceId,
    pipeline: c.pipelineId,
    version: c.version,
    format: enumValue(c.format, 'CONFIG_FORMAT_'),
    created: isoTime(c.created),
    tasks: c.tasks.map((t) => ({
      id: t.id,
      image: t.image,
      depends_on: Object.fromEntries(
        Object.entries(t.dependsOn).map(([parent, need]) => [parent, enumValue(need, 'REQUIRED_PARENT_STATUS_')]),
      ),
    })),
    config: Buffer.from(c.config).toString('utf8'),
  };
}

/** JSON of a run (docs/design.md §9). */
export function runJson(r: Run) {
  return {
    namespace: r.namespaceId,
    pipeline: r.pipelineId,
    id: r.id,
    state: runState(r),
    status: runStatus(r),
    status_reason: statusReasonJson(r.statusReason),
    started: isoTime(r.started),
    ended: isoTime(r.ended),
    variables: { ...r.variables },
    config_version: r.configVersion,
    started_by: r.startedBy,
    notifications: (r.notifications ?? []).map(notificationJson),
    waiting_reason: waitingReasonJson(r.waitingReason),
  };
}

/**
 * JSON of a task run: the run's shape — `id` is the run id, `variables` and `config_version` are the
 * run's — plus task, attempt, exit_code, image (the contract the README shows); `run` repeats the run id
 * under an unambiguous name, and `container` and `worker` say where the attempt ran (null before it
 * did). State, status, reason and times are the task run's own.
 */
export function taskRunJson(t: TaskRun, run: Pick<Run, 'variables' | 'configVersion'>) {
  return {
    namespace: t.namespaceId,
    pipeline: t.pipelineId,
    id: t.runId,
    run: t.runId,
    task: t.taskId,
    attempt: t.attempt,
    state: taskRunState(t),
    status: taskRunStatus(t),
    status_reason: statusReasonJson(t.statusReason),
    started: isoTime(t.started),
    ended: isoTime(t.ended),
    variables: { ...run.variables },
    config_version: run.configVersion,
    exit_code: t.exitCode ?? null,
    image: t.image,
    container: t.schedulerId || null,
    worker: t.workerId || null,
    waiting_reason: waitingReasonJson(t.waitingReason),
  };
}

/** JSON of a token (never its secret): `expires` is null for a token that never expires. */
export function tokenJson(t: Token) {
  return {
    id: t.id,
    kind: tokenKind(t),
    namespaces: [...t.namespaces],
    metadata: { ...t.metadata },
    created: isoTime(t.created),
    expires: isoTime(t.expires),
    disabled: t.disabled,
  };
}

/** JSON of a namespace. */
export function namespaceJson(n: Namespace) {
  return { id: n.id, name: n.name, description: n.description, created: isoTime(n.created) };
}

/** JSON of a stored object's info (never its content). */
export function objectJson(o: ObjectInfo) {
  return { key: o.key, size: o.size, sha256: o.sha256, created: isoTime(o.created) };
}

/**
 * JSON of a secret. `value` is present only when it was asked for (`--include-value`), so a listing
 * can never be mistaken for secrets with empty values. `namespaces` is empty for pipeline secrets.
 */
export function secretJson(s: Secret, withValue = false) {
  return {
    key: s.key,
    ...(withValue ? { value: s.value } : {}),
    namespaces: [...s.namespaces],
    created: isoTime(s.created),
    updated: isoTime(s.updated),
  };
}

/**
 * An event's details as JSON: the parsed object, `{}` when empty, or the raw text when the server
 * sent something that is not JSON (shown rather than lost).
 */
export function eventDetails(details: string): unknown {
  if (!details) return {};
  try {
    return JSON.parse(details) as unknown;
  } catch {
    return details;
  }
}

/** JSON of an event: what it is not about (no namespace, run, task …) is null. */
export function eventJson(e: Event) {
  return {
    id: e.id,
    kind: e.kind,
    namespace: e.namespaceId || null,
    pipeline: e.pipelineId || null,
    run: e.runId || null,
    task: e.taskId || null,
    details: eventDetails(e.details),
    emitted: isoTime(e.emitted),
  };
}

/** JSON of an installed trigger (settings' keys only: their values may be secrets). */
export function triggerJson(t: InstalledTrigger) {
  return {
    name: t.name,
    image: t.image,
    state: enumValue(t.state, 'TRIGGER_STATE_'),
    builtin: t.builtin,
    description: t.description,
    container: t.containerId || null,
    address: t.address || null,
    restarts: t.restarts,
    setting_keys: [...t.settingKeys],
    installed: isoTime(t.installed),
    last_event: isoTime(t.lastEvent),
    last_error: t.lastError || null,
    subscription_settings: t.subscriptionSettings.map((d) => ({ key: d.key, required: d.required, description: d.description })),
    subscriptions: t.subscriptions.map((s) => ({
      namespace: s.namespaceId,
      pipeline: s.pipelineId,
      label: s.label,
      settings: { ...s.settings },
      active: s.active,
      last_event: isoTime(s.lastEvent),
      last_event_key: s.lastEventKey || null,
    })),
  };
}

export const notificationState = (n: Pick<Notification, 'state'>) => enumValue(n.state, 'NOTIFICATION_STATE_');
export const notificationStatus = (n: Pick<Notification, 'status'>) => enumValue(n.status, 'NOTIFICATION_STATUS_');

/**
 * JSON of a run's notification (a notifier run after it completed): `exit_code` is null until its
 * container exited (or when it never ran: not installed, could not start), `reason` null when it succeeded.
 */
export function notificationJson(n: Notification) {
  return {
    label: n.label,
    notifier: n.notifier,
    state: notificationState(n),
    status: notificationStatus(n),
    exit_code: n.hasExitCode ? n.exitCode : null,
    reason: n.reason || null,
    started: isoTime(n.started),
    ended: isoTime(n.ended),
  };
}

/** JSON of an installed notifier (settings' keys only: their values are sealed). */
export function notifierJson(n: InstalledNotifier) {
  return {
    name: n.name,
    image: n.image,
    setting_keys: [...n.settingKeys],
    builtin: n.builtin,
    installed: isoTime(n.installed),
  };
}
