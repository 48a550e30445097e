import type { RunEntity, StatusReason, TaskRunEntity } from '@gofer/dal';
import type { NotificationKey } from '@gofer/queue';

/** A status reason as a notifier sees it. */
export interface SummaryReason {
  /** `abnormal_exit`, `scheduler_error`, `failed_precondition`, `user_cancelled`, `cancelled`, `orphaned`, `timeout`. */
  kind: string;
  description: string;
}

/** One task run of a {@link RunSummary}. */
export interface TaskRunSummary {
  task: string;
  /** `successful`, `failed`, `cancelled` or `skipped`. */
  status: string | null;
  /** Null when its container never ran (skipped, cancelled before it started, could not start). */
  exit_code: number | null;
  reason: SummaryReason | null;
}

/**
 * What a notifier receives in `GOFER_RUN_SUMMARY` (JSON), the contract every notifier image reads
 * (docs/design.md §6): snake_case keys, lower-case values, ISO 8601 times (null when unset).
 */
export interface RunSummary {
  namespace: string;
  pipeline: string;
  /** The run's id. */
  run: number;
  /** `successful`, `failed` or `cancelled` (also in `GOFER_RUN_STATUS`). */
  status: string;
  /** Why it did not succeed; null for a successful run. */
  reason: SummaryReason | null;
  started: string | null;
  ended: string | null;
  /** `token/<token id>` or `trigger/<label>`; empty for runs that did not record it. */
  started_by: string;
  config_version: number;
  /** In the order of the run's task runs. */
  task_runs: TaskRunSummary[];
  /** How many task runs were left out to keep the summary within {@link MAX_SUMMARY_BYTES}. */
  task_runs_omitted?: number;
}

/**
 * The largest summary passed in an environment variable: Linux refuses a single variable over 128 KiB
 * (MAX_ARG_STRLEN), and the container's other variables need room too.
 */
export const MAX_SUMMARY_BYTES = 96 * 1024;
/** Longer reason descriptions are cut (a task's own message can be long). */
const MAX_DESCRIPTION = 512;

function reasonOf(value: StatusReason | null): SummaryReason | null {
  if (!value) return null;
  const description = value.description.length > MAX_DESCRIPTION ? `${value.description.slice(0, MAX_DESCRIPTION - 1)}…` : value.description;
  return { kind: value.reason, description };
}

const iso = (date: Date | null): string | null => (date ? date.toISOString() : null);

/**
 * The summary of a complete run for its notifiers. Task runs that do not fit in {@link MAX_SUMMARY_BYTES}
 * are left out from the end (counted in `task_runs_omitted`).
 */
export function runSummary(run: RunEntity, taskRuns: readonly TaskRunEntity[]): RunSummary {
  const summary: RunSummary = {
    namespace: run.namespaceId,
    pipeline: run.pipelineId,
    run: run.id,
    status: run.status ?? run.state,
    reason: reasonOf(run.statusReason),
    started: iso(run.started),
    ended: iso(run.ended),
    started_by: run.startedBy,
    config_version: run.configVersion,
    task_runs: taskRuns.map((t) => ({ task: t.taskId, status: t.status, exit_code: t.exitCode, reason: reasonOf(t.statusReason) })),
  };
  let bytes = Buffer.byteLength(JSON.stringify(summary));
  if (bytes <= MAX_SUMMARY_BYTES) return summary;
  const kept = [...summary.task_runs];
  // Room for the omitted count's field.
  bytes += 32;
  while (kept.length > 0 && bytes > MAX_SUMMARY_BYTES) bytes -= Buffer.byteLength(JSON.stringify(kept.pop())) + 1;
  return { ...summary, task_runs: kept, task_runs_omitted: summary.task_runs.length - kept.length };
}

/** Prefix of a notifier's settings in its environment: setting `url` is `GOFER_NOTIFIER_CONFIG_URL`. */
export const SETTING_PREFIX = 'GOFER_NOTIFIER_CONFIG_';

/** The variable a setting reaches a notifier as. Setting names are variable names, upper-cased here. */
export function settingVariable(key: string): string {
  return `${SETTING_PREFIX}${key.toUpperCase()}`;
}

/**
 * A notifier container's environment: the run's identity and outcome, and its settings — the install
 * settings, overridden by the pipeline's `notifiers[].settings` of the same (upper-cased) name.
 */
export function notifierEnvironment(options: {
  key: NotificationKey;
  notifier: string;
  summary: RunSummary;
  installSettings: Readonly<Record<string, string>>;
  pipelineSettings: Readonly<Record<string, string>>;
}): Record<string, string> {
  const { key, summary } = options;
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.installSettings)) env[settingVariable(name)] = value;
  for (const [name, value] of Object.entries(options.pipelineSettings)) env[settingVariable(name)] = value;
  return {
    ...env,
    GOFER_NAMESPACE: key.namespaceId,
    GOFER_PIPELINE_ID: key.pipelineId,
    GOFER_RUN_ID: String(key.runId),
    GOFER_NOTIFIER: options.notifier,
    GOFER_NOTIFIER_LABEL: key.label,
    GOFER_RUN_STATUS: summary.status,
    GOFER_RUN_SUMMARY: JSON.stringify(summary),
  };
}
