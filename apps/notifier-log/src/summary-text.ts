/** The parts of GOFER_RUN_SUMMARY this notifier shows (the contract: libs/notifiers/src/run-summary.ts). */
export interface Summary {
  namespace: string;
  pipeline: string;
  run: number;
  status: string;
  reason: { kind: string; description: string } | null;
  started: string | null;
  ended: string | null;
  started_by: string;
  task_runs: Array<{ task: string; status: string | null; exit_code: number | null; reason: { kind: string; description: string } | null }>;
  task_runs_omitted?: number;
}

const MARKS: Record<string, string> = { successful: '✓', failed: '✗', cancelled: '⊘', skipped: '-' };

function reasonText(reason: Summary['reason']): string {
  return reason ? `${reason.kind}: ${reason.description}` : '';
}

function duration(started: string | null, ended: string | null): string {
  if (!started || !ended) return '';
  const ms = Date.parse(ended) - Date.parse(started);
  if (!Number.isFinite(ms) || ms < 0) return '';
  return ms < 60_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.floor(ms / 60_000)}m${Math.round((ms % 60_000) / 1000)}s`;
}

/**
 * A run summary as a few lines of text: the outcome, who started it, then one line per task run.
 *
 * @example
 * run 4 of default/hello: failed in 12.3s (abnormal_exit: task "flaky" failed: exited with code 3)
 * started by token/tok_0123 at 2025-01-02T03:04:05.000Z
 *   ✓ greet  successful  exit 0
 *   ✗ flaky  failed      exit 3  abnormal_exit: exited with code 3
 */
export function summaryText(summary: Summary): string {
  const took = duration(summary.started, summary.ended);
  const reason = reasonText(summary.reason);
  const lines = [
    `run ${summary.run} of ${summary.namespace}/${summary.pipeline}: ${summary.status}${took ? ` in ${took}` : ''}${reason ? ` (${reason})` : ''}`,
  ];
  const by = summary.started_by ? `started by ${summary.started_by}` : 'started';
  lines.push(summary.started ? `${by} at ${summary.started}` : by);
  const width = Math.max(0, ...summary.task_runs.map((t) => t.task.length));
  const statusWidth = Math.max(0, ...summary.task_runs.map((t) => (t.status ?? '').length));
  for (const t of summary.task_runs) {
    const parts = [
      `  ${MARKS[t.status ?? ''] ?? '·'} ${t.task.padEnd(width)}`,
      (t.status ?? 'unknown').padEnd(statusWidth),
      t.exit_code === null ? '' : `exit ${t.exit_code}`,
      reasonText(t.reason),
    ];
    lines.push(parts.filter(Boolean).join('  ').trimEnd());
  }
  if (summary.task_runs_omitted) lines.push(`  … and ${summary.task_runs_omitted} more task runs`);
  return lines.join('\n');
}
