// Plain (human) output of every command. Pure: each function takes API messages and `now`, and
// returns text, so plain-view.spec.ts can pin the layout.
import type { Pipeline, Run, StatusReason, TaskRun } from '@gofer/proto';
import { formatAgo, formatElapsed, formatFields, formatTable, formatTimestamp } from './format.js';
import { pipelineState, reasonKind, runState, runStatus, taskRunState, taskRunStatus } from './json-view.js';

/** `abnormal_exit: exited with code 3`, or empty when there is no reason. */
export function formatReason(reason: StatusReason | null | undefined): string {
  if (!reason) return '';
  const kind = reasonKind(reason) ?? 'unknown';
  return reason.description ? `${kind}: ${reason.description}` : kind;
}

/** One word for where a run is: its status once complete, else its state. */
export function runOutcome(run: Run): string {
  return runStatus(run) ?? runState(run) ?? 'unknown';
}

/** One word for where a task run is: its status once complete, else its state. */
export function taskRunOutcome(taskRun: TaskRun): string {
  return taskRunStatus(taskRun) ?? taskRunState(taskRun) ?? 'unknown';
}

export function pipelineTable(pipelines: readonly Pipeline[], now: number): string {
  if (pipelines.length === 0) return 'no pipelines yet: create one with gofer pipeline apply FILE';
  return formatTable(
    ['ID', 'NAME', 'STATE', 'VERSION', 'UPDATED'],
    pipelines.map((p) => [p.id, p.name, pipelineState(p) ?? '-', String(p.latestConfigVersion), formatAgo(p.updated, now)]),
  );
}

export function pipelineDetail(p: Pipeline, now: number): string {
  const title = p.name && p.name !== p.id ? `${p.id} (${p.name})` : p.id;
  const lines = [`pipeline ${title} in namespace ${p.namespaceId}`];
  if (p.description) lines.push(`  ${p.description}`);
  lines.push(
    formatFields([
      ['state', pipelineState(p) ?? '-'],
      ['version', String(p.latestConfigVersion)],
      ['parallelism', p.parallelism === 0 ? 'unlimited' : String(p.parallelism)],
      ['created', formatTimestamp(p.created, now)],
      ['updated', formatTimestamp(p.updated, now)],
    ]),
  );
  return lines.join('\n');
}

export function runTable(runs: readonly Run[], now: number): string {
  if (runs.length === 0) return 'no runs yet: start one with gofer pipeline run PIPELINE';
  return formatTable(
    ['RUN', 'STATUS', 'STARTED', 'DURATION', 'VERSION', 'REASON'],
    runs.map((r) => [
      String(r.id),
      runOutcome(r),
      formatAgo(r.started, now),
      formatElapsed(r.started, r.ended, now),
      String(r.configVersion),
      formatReason(r.statusReason),
    ]),
  );
}

export function runDetail(run: Run, taskRuns: readonly TaskRun[], now: number): string {
  const fields: Array<[string, string]> = [
    ['state', runState(run) ?? '-'],
    ['status', runStatus(run) ?? '-'],
  ];
  if (run.statusReason) fields.push(['reason', formatReason(run.statusReason)]);
  fields.push(
    ['started', formatTimestamp(run.started, now)],
    ['ended', formatTimestamp(run.ended, now)],
    ['duration', formatElapsed(run.started, run.ended, now)],
    ['config', `version ${run.configVersion}`],
  );
  if (run.retryOf) fields.push(['retry of', `run ${run.retryOf}`]);
  const variables = Object.entries(run.variables);
  if (variables.length > 0) fields.push(['variables', variables.map(([k, v]) => `${k}=${v}`).join(' ')]);
  const lines = [`run ${run.id} of ${run.pipelineId}`, formatFields(fields)];
  if (taskRuns.length > 0) lines.push('', taskRunTable(taskRuns, now));
  return lines.join('\n');
}

export function taskRunTable(taskRuns: readonly TaskRun[], now: number): string {
  if (taskRuns.length === 0) return 'no task runs yet';
  return formatTable(
    ['TASK', 'STATUS', 'EXIT', 'ATTEMPT', 'DURATION', 'REASON'],
    taskRuns.map((t) => [
      t.taskId,
      taskRunOutcome(t),
      t.exitCode == null ? '-' : String(t.exitCode),
      String(t.attempt),
      formatElapsed(t.started, t.ended, now),
      formatReason(t.statusReason),
    ]),
  );
}

export function taskRunDetail(t: TaskRun, now: number): string {
  const fields: Array<[string, string]> = [
    ['state', taskRunState(t) ?? '-'],
    ['status', taskRunStatus(t) ?? '-'],
  ];
  if (t.statusReason) fields.push(['reason', formatReason(t.statusReason)]);
  fields.push(
    ['exit code', t.exitCode == null ? '-' : String(t.exitCode)],
    ['attempt', String(t.attempt)],
    ['image', t.image || '-'],
    ['started', formatTimestamp(t.started, now)],
    ['ended', formatTimestamp(t.ended, now)],
    ['duration', formatElapsed(t.started, t.ended, now)],
    ['container', t.schedulerId || '-'],
    ['worker', t.workerId || '-'],
  );
  return [`task ${t.taskId} of run ${t.runId} of ${t.pipelineId}`, formatFields(fields)].join('\n');
}

/** The summary `pipeline run --wait` prints when the run is complete. */
export function runSummary(run: Run, taskRuns: readonly TaskRun[], now: number): string {
  const reason = run.statusReason ? ` (${formatReason(run.statusReason)})` : '';
  const head = `run ${run.id} of ${run.pipelineId}: ${runOutcome(run)} in ${formatElapsed(run.started, run.ended, now)}${reason}`;
  return taskRuns.length > 0 ? `${head}\n\n${taskRunTable(taskRuns, now)}` : head;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** The mark in front of a task in live progress: a spinner frame while it runs, a symbol once done. */
export function progressMark(t: TaskRun, frame: number): string {
  switch (taskRunStatus(t)) {
    case 'successful':
      return '✓';
    case 'failed':
      return '✗';
    case 'cancelled':
      return '⊘';
    case 'skipped':
      return '-';
  }
  return taskRunState(t) === 'running' ? SPINNER[frame % SPINNER.length]! : '·';
}

/**
 * The lines of live progress for `pipeline run --wait` on a terminal: a header, then one line per
 * task (mark, task, status, elapsed), each cut to `columns` so redrawing in place never wraps.
 */
export function progressLines(run: Run, taskRuns: readonly TaskRun[], now: number, frame: number, columns = 80): string[] {
  const width = Math.max(0, ...taskRuns.map((t) => t.taskId.length));
  const lines = [`run ${run.id} of ${run.pipelineId}: ${runOutcome(run)} ${formatElapsed(run.started, run.ended, now)}`];
  for (const t of taskRuns) {
    const elapsed = formatElapsed(t.started, t.ended, now);
    lines.push(`  ${progressMark(t, frame)} ${t.taskId.padEnd(width)}  ${taskRunOutcome(t).padEnd(10)}  ${elapsed === '-' ? '' : elapsed}`.trimEnd());
  }
  return lines.map((line) => (line.length > columns - 1 ? `${line.slice(0, Math.max(0, columns - 2))}…` : line));
}
