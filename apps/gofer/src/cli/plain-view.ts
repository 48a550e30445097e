// Plain (human) output of every command. Pure: each function takes API messages and `now`, and
// returns text, so plain-view.spec.ts can pin the layout.
import {
  TokenKind,
  type Event,
  type InstalledNotifier,
  type InstalledTrigger,
  type Notification,
  type Namespace,
  type ObjectInfo,
  type Pipeline,
  type Run,
  type Secret,
  type StatusReason,
  type TaskRun,
  type Token,
  type WaitingReason,
} from '@gofer/proto';
import { formatAgo, formatBytes, formatElapsed, formatFields, formatIn, formatTable, formatTimestamp } from './format.js';
import {
  eventDetails, notificationState, notificationStatus, pipelineState, reasonKind, runState, runStatus, taskRunState, taskRunStatus, tokenKind,
  waitingKind,
} from './json-view.js';

/** `abnormal_exit: exited with code 3`, or empty when there is no reason. */
export function formatReason(reason: StatusReason | null | undefined): string {
  if (!reason) return '';
  const kind = reasonKind(reason) ?? 'unknown';
  return reason.description ? `${kind}: ${reason.description}` : kind;
}

/** `parallelism: behind 1 running run(s) …`, or empty when it does not wait. */
export function formatWaiting(waiting: WaitingReason | null | undefined): string {
  if (!waiting) return '';
  const kind = waitingKind(waiting) ?? 'unknown';
  return waiting.description ? `${kind}: ${waiting.description}` : kind;
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
      formatReason(r.statusReason) || formatWaiting(r.waitingReason),
    ]),
  );
}

export function runDetail(run: Run, taskRuns: readonly TaskRun[], now: number): string {
  const fields: Array<[string, string]> = [
    ['state', runState(run) ?? '-'],
    ['status', runStatus(run) ?? '-'],
  ];
  if (run.statusReason) fields.push(['reason', formatReason(run.statusReason)]);
  if (run.waitingReason) fields.push(['waiting', formatWaiting(run.waitingReason)]);
  fields.push(
    ['started', formatTimestamp(run.started, now)],
    ['ended', formatTimestamp(run.ended, now)],
    ['duration', formatElapsed(run.started, run.ended, now)],
    ['config', `version ${run.configVersion}`],
  );
  if (run.retryOf) fields.push(['retry of', `run ${run.retryOf}`]);
  if (run.startedBy) fields.push(['started by', run.startedBy.replace('/', ' ')]);
  const variables = Object.entries(run.variables);
  if (variables.length > 0) fields.push(['variables', variables.map(([k, v]) => `${k}=${v}`).join(' ')]);
  const lines = [`run ${run.id} of ${run.pipelineId}`, formatFields(fields)];
  if (taskRuns.length > 0) lines.push('', taskRunTable(taskRuns, now));
  if (run.notifications?.length) lines.push('', notificationTable(run.notifications, now));
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
      // A task run has a status reason once complete and a waiting reason only before it runs.
      formatReason(t.statusReason) || formatWaiting(t.waitingReason),
    ]),
  );
}

export function taskRunDetail(t: TaskRun, now: number): string {
  const fields: Array<[string, string]> = [
    ['state', taskRunState(t) ?? '-'],
    ['status', taskRunStatus(t) ?? '-'],
  ];
  if (t.statusReason) fields.push(['reason', formatReason(t.statusReason)]);
  if (t.waitingReason) fields.push(['waiting', formatWaiting(t.waitingReason)]);
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

/** Whether calls made with a token are accepted now. */
export function tokenStatus(t: Token, now: number): 'active' | 'disabled' | 'expired' {
  if (t.disabled) return 'disabled';
  return t.expires && t.expires <= now ? 'expired' : 'active';
}

/** The namespaces a token may use: `all` for management tokens. */
function tokenNamespaces(t: Token): string {
  if (t.kind === TokenKind.TOKEN_KIND_MANAGEMENT) return 'all';
  return t.namespaces.length > 0 ? t.namespaces.join(',') : '-';
}

function labels(metadata: Readonly<Record<string, string>>): string {
  return Object.entries(metadata)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

function expiry(at: number, now: number): string {
  return at ? formatIn(at, now) : 'never';
}

export function tokenTable(tokens: readonly Token[], now: number): string {
  if (tokens.length === 0) return 'no tokens yet: create one with gofer token create';
  return formatTable(
    ['ID', 'KIND', 'STATUS', 'NAMESPACES', 'EXPIRES', 'CREATED', 'METADATA'],
    tokens.map((t) => [
      t.id,
      tokenKind(t) ?? '-',
      tokenStatus(t, now),
      tokenNamespaces(t),
      expiry(t.expires, now),
      formatAgo(t.created, now),
      labels(t.metadata),
    ]),
  );
}

export function tokenDetail(t: Token, now: number): string {
  const fields: Array<[string, string]> = [
    ['kind', tokenKind(t) ?? '-'],
    ['status', tokenStatus(t, now)],
    ['namespaces', tokenNamespaces(t)],
    ['expires', t.expires ? `${formatIn(t.expires, now)} (${new Date(t.expires).toISOString()})` : 'never'],
    ['created', formatTimestamp(t.created, now)],
  ];
  if (Object.keys(t.metadata).length > 0) fields.push(['metadata', labels(t.metadata)]);
  return [`token ${t.id}`, formatFields(fields)].join('\n');
}

export function namespaceTable(namespaces: readonly Namespace[], now: number): string {
  if (namespaces.length === 0) return 'no namespaces: create one with gofer namespace create ID';
  return formatTable(
    ['ID', 'NAME', 'CREATED', 'DESCRIPTION'],
    namespaces.map((n) => [n.id, n.name || '-', formatAgo(n.created, now), n.description]),
  );
}

export function namespaceDetail(n: Namespace, now: number): string {
  const title = n.name && n.name !== n.id ? `${n.id} (${n.name})` : n.id;
  const lines = [`namespace ${title}`];
  if (n.description) lines.push(`  ${n.description}`);
  lines.push(formatFields([['created', formatTimestamp(n.created, now)]]));
  return lines.join('\n');
}

/** Objects, newest first as the API lists them; `empty` says what to do when there are none. */
export function objectTable(objects: readonly ObjectInfo[], now: number, empty: string): string {
  if (objects.length === 0) return empty;
  return formatTable(
    ['KEY', 'SIZE', 'SHA256', 'CREATED'],
    objects.map((o) => [o.key, formatBytes(o.size), o.sha256.slice(0, 12), formatAgo(o.created, now)]),
  );
}

/** Secrets (never their values); global ones show the namespaces allowed to use them. */
export function secretTable(secrets: readonly Secret[], now: number, global: boolean, empty: string): string {
  if (secrets.length === 0) return empty;
  const headers = global ? ['KEY', 'NAMESPACES', 'UPDATED', 'CREATED'] : ['KEY', 'UPDATED', 'CREATED'];
  return formatTable(
    headers,
    secrets.map((s) => [
      s.key,
      ...(global ? [s.namespaces.join(',') || '-'] : []),
      formatAgo(s.updated, now),
      formatAgo(s.created, now),
    ]),
  );
}

/** A secret's metadata under a title such as `secret TOKEN of pipeline hello` (never its value). */
export function secretDetail(s: Secret, title: string, global: boolean, now: number): string {
  const fields: Array<[string, string]> = [];
  if (global) fields.push(['namespaces', s.namespaces.join(',') || '-']);
  fields.push(['created', formatTimestamp(s.created, now)], ['updated', formatTimestamp(s.updated, now)]);
  return [title, formatFields(fields)].join('\n');
}

/** One event as a line, for streaming: `TIME  #ID  KIND  WHERE  DETAILS`. */
export function eventLine(e: Event): string {
  const where = [
    [e.namespaceId, e.pipelineId].filter(Boolean).join('/'),
    e.runId ? `run ${e.runId}` : '',
    e.taskId ? `task ${e.taskId}` : '',
  ]
    .filter(Boolean)
    .join(' ');
  const fields = [e.emitted ? new Date(e.emitted).toISOString() : '-', `#${e.id}`, e.kind, where || '-', detailsText(e.details)];
  return fields.filter(Boolean).join('  ');
}

/** Event details as `key=value` pairs (values JSON-encoded unless they are plain words). */
function detailsText(details: string): string {
  const parsed = eventDetails(details);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return JSON.stringify(parsed);
  return Object.entries(parsed)
    .filter(([, v]) => v !== null) // e.g. no reason for a successful task: nothing to say
    .map(([k, v]) => `${k}=${typeof v === 'string' && /^[^\s"=]*$/.test(v) && v !== '' ? v : JSON.stringify(v)}`)
    .join(' ');
}

/**
 * The progress line of an object transfer: `uploading KEY  12.0 MiB / 20.0 MiB (60%)  8.0 MiB/s`;
 * without a known total (stdin) only the bytes so far.
 */
export function transferLine(verb: string, key: string, done: number, total: number | undefined, elapsedMs: number): string {
  let text = `${verb} ${key}  ${formatBytes(done)}`;
  if (total !== undefined) text += ` / ${formatBytes(total)} (${total > 0 ? Math.floor((done / total) * 100) : 100}%)`;
  if (elapsedMs > 0) text += `  ${formatBytes((done * 1000) / elapsedMs)}/s`;
  return text;
}

/** Installed triggers, one line each. */
export function triggerTable(triggers: readonly InstalledTrigger[], now: number): string {
  if (triggers.length === 0) return 'no triggers installed: install one with `gofer trigger install NAME --image IMAGE`';
  return formatTable(
    ['NAME', 'STATE', 'IMAGE', 'LAST EVENT', 'INSTALLED'],
    triggers.map((t) => [t.name, triggerState(t), t.image, t.lastEvent ? formatAgo(t.lastEvent, now) : '-', formatAgo(t.installed, now)]),
  );
}

/** One installed trigger with its container, settings and subscriptions. */
export function triggerDetail(t: InstalledTrigger, now: number): string {
  const fields: Array<[string, string]> = [
    ['state', triggerState(t)],
    ['image', t.image],
    ['container', t.containerId ? t.containerId.slice(0, 12) : '-'],
    ['address', t.address || '-'],
    ['restarts', String(t.restarts)],
    ['settings', t.settingKeys.length > 0 ? t.settingKeys.join(', ') : '-'],
    ['last event', formatTimestamp(t.lastEvent, now)],
    ['installed', formatTimestamp(t.installed, now)],
  ];
  if (t.lastError) fields.push(['last error', t.lastError]);
  const lines = [`trigger ${t.name}${t.builtin ? ' (built-in)' : ''}`];
  if (t.description) lines.push(`  ${t.description}`);
  lines.push(formatFields(fields));
  if (t.subscriptionSettings.length > 0) {
    lines.push('', 'subscription settings:');
    for (const d of t.subscriptionSettings) lines.push(`  ${d.key}${d.required ? ' (required)' : ''}: ${d.description}`);
  }
  lines.push('');
  if (t.subscriptions.length === 0) lines.push('no subscriptions');
  else {
    lines.push(formatTable(
      ['NAMESPACE', 'PIPELINE', 'LABEL', 'ACTIVE', 'LAST EVENT', 'SETTINGS'],
      t.subscriptions.map((s) => [
        s.namespaceId, s.pipelineId, s.label, s.active ? 'yes' : 'no (pipeline disabled)', s.lastEvent ? formatAgo(s.lastEvent, now) : '-',
        Object.entries(s.settings).map(([k, v]) => `${k}=${v}`).join(' '),
      ]),
    ));
  }
  return lines.join('\n');
}

function triggerState(t: InstalledTrigger): string {
  return t.state.replace(/^TRIGGER_STATE_/, '').toLowerCase();
}

/** A run's notifications (its notifiers, run once it completed): `run get` shows them under its task runs. */
export function notificationTable(notifications: readonly Notification[], now: number): string {
  return formatTable(
    ['NOTIFIER', 'LABEL', 'STATUS', 'EXIT', 'DURATION', 'REASON'],
    notifications.map((n) => [
      n.notifier,
      n.label,
      notificationStatus(n) ?? notificationState(n) ?? 'unknown',
      n.hasExitCode ? String(n.exitCode) : '-',
      formatElapsed(n.started, n.ended, now),
      n.reason,
    ]),
  );
}

/** Installed notifiers, one line each. */
export function notifierTable(notifiers: readonly InstalledNotifier[], now: number): string {
  if (notifiers.length === 0) return 'no notifiers installed: install one with gofer notifier install NAME --image IMAGE';
  return formatTable(
    ['NAME', 'IMAGE', 'SETTINGS', 'INSTALLED'],
    notifiers.map((n) => [
      n.builtin ? `${n.name} (built-in)` : n.name,
      n.image,
      n.settingKeys.join(',') || '-',
      formatAgo(n.installed, now),
    ]),
  );
}

/** One installed notifier (its settings' keys; their values are sealed and never shown). */
export function notifierDetail(n: InstalledNotifier, now: number): string {
  return [
    `notifier ${n.name}${n.builtin ? ' (built-in)' : ''}`,
    formatFields([
      ['image', n.image],
      ['settings', n.settingKeys.join(', ') || '-'],
      ['installed', formatTimestamp(n.installed, now)],
    ]),
  ].join('\n');
}
