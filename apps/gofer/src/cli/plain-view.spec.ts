import {
  NotificationState,
  NotificationStatus,
  RunState,
  RunStatus,
  StatusReasonKind,
  TaskRunState,
  TaskRunStatus,
  TokenKind,
  type Run,
  type TaskRun,
  type Token,
  WaitingReasonKind,
} from '@gofer/proto';
import { describe, expect, it } from 'vitest';
import {
  eventLine,
  formatReason,
  namespaceTable,
  notifierDetail,
  notifierTable,
  runDetail,
  objectTable,
  progressLines,
  progressMark,
  runSummary,
  runTable,
  secretDetail,
  secretTable,
  taskRunDetail,
  taskRunTable,
  tokenDetail,
  tokenStatus,
  tokenTable,
  transferLine,
} from './plain-view.js';

const T0 = Date.UTC(2025, 0, 2, 3, 4, 5);

const run = (over: Partial<Run> = {}): Run => ({
  namespaceId: 'default',
  pipelineId: 'hello',
  id: 4,
  state: RunState.RUN_STATE_COMPLETE,
  status: RunStatus.RUN_STATUS_SUCCESSFUL,
  statusReason: null,
  started: T0,
  ended: T0 + 12_300,
  variables: {},
  configVersion: 2,
  retryOf: 0,
  startedBy: 'token/tok_0123456789abcdef',
  notifications: [],
  waitingReason: null,
  ...over,
});

const taskRun = (taskId: string, over: Partial<TaskRun> = {}): TaskRun => ({
  namespaceId: 'default',
  pipelineId: 'hello',
  runId: 4,
  taskId,
  attempt: 1,
  state: TaskRunState.TASK_RUN_STATE_COMPLETE,
  status: TaskRunStatus.TASK_RUN_STATUS_SUCCESSFUL,
  statusReason: null,
  exitCode: 0,
  image: 'busybox:latest',
  schedulerId: '',
  workerId: '',
  started: T0,
  ended: T0 + 1_200,
  waitingReason: null,
  ...over,
});

const failed = taskRun('flaky', {
  status: TaskRunStatus.TASK_RUN_STATUS_FAILED,
  statusReason: { reason: StatusReasonKind.STATUS_REASON_KIND_ABNORMAL_EXIT, description: 'exited with code 3' },
  exitCode: 3,
  attempt: 3,
  ended: T0 + 800,
});
const skipped = taskRun('on_success', {
  status: TaskRunStatus.TASK_RUN_STATUS_SKIPPED,
  statusReason: { reason: StatusReasonKind.STATUS_REASON_KIND_FAILED_PRECONDITION, description: '' },
  exitCode: undefined,
  started: 0,
  ended: T0 + 900,
});

describe('formatReason', () => {
  it('joins kind and description', () => {
    expect(formatReason(failed.statusReason)).toBe('abnormal_exit: exited with code 3');
    expect(formatReason(skipped.statusReason)).toBe('failed_precondition');
    expect(formatReason(null)).toBe('');
  });
});

describe('runSummary', () => {
  it('shows the outcome, duration and every task with status, exit code and duration', () => {
    const summary = runSummary(
      run({
        status: RunStatus.RUN_STATUS_FAILED,
        statusReason: { reason: StatusReasonKind.STATUS_REASON_KIND_ABNORMAL_EXIT, description: 'task flaky failed' },
      }),
      [taskRun('greet'), failed, skipped],
      T0 + 60_000,
    );
    expect(summary).toBe(
      [
        'run 4 of hello: failed in 12.3s (abnormal_exit: task flaky failed)',
        '',
        'TASK        STATUS      EXIT  ATTEMPT  DURATION  REASON',
        'greet       successful  0     1        1.2s',
        'flaky       failed      3     3        0.8s      abnormal_exit: exited with code 3',
        'on_success  skipped     -     1        -         failed_precondition',
      ].join('\n'),
    );
  });
});

describe('tables', () => {
  it('list runs with a pending one', () => {
    const pending = run({ id: 5, state: RunState.RUN_STATE_PENDING, status: RunStatus.RUN_STATUS_UNSPECIFIED, started: 0, ended: 0 });
    expect(runTable([pending, run()], T0 + 60_000).split('\n')).toEqual([
      'RUN  STATUS      STARTED  DURATION  VERSION  REASON',
      '5    pending     -        -         2',
      '4    successful  1m ago   12.3s     2',
    ]);
  });

  it('run get says why a pending run and its task runs wait', () => {
    const pending = run({
      id: 5, state: RunState.RUN_STATE_PENDING, status: RunStatus.RUN_STATUS_UNSPECIFIED, started: 0, ended: 0,
      waitingReason: { kind: WaitingReasonKind.WAITING_REASON_KIND_PIPELINE_DISABLED, description: 'the pipeline is disabled: gofer pipeline enable hello' },
    });
    const backoff = taskRun('flaky', {
      state: TaskRunState.TASK_RUN_STATE_WAITING, status: TaskRunStatus.TASK_RUN_STATUS_UNSPECIFIED, exitCode: undefined, attempt: 2, started: 0, ended: 0,
      waitingReason: { kind: WaitingReasonKind.WAITING_REASON_KIND_RETRY_BACKOFF, description: 'retry backoff until 2025-01-02T03:04:35.000Z' },
    });
    const lines = runDetail(pending, [backoff], T0).split('\n');
    expect(lines).toContain('  waiting     pipeline_disabled: the pipeline is disabled: gofer pipeline enable hello');
    expect(lines.slice(lines.findIndex((line) => line.startsWith('TASK')))).toEqual([
      'TASK   STATUS   EXIT  ATTEMPT  DURATION  REASON',
      'flaky  waiting  -     2        -         retry_backoff: retry backoff until 2025-01-02T03:04:35.000Z',
    ]);
    expect(taskRunDetail(backoff, T0).split('\n')).toContain('  waiting    retry_backoff: retry backoff until 2025-01-02T03:04:35.000Z');
  });

  it('list runs with why a pending one waits', () => {
    const pending = run({
      id: 5, state: RunState.RUN_STATE_PENDING, status: RunStatus.RUN_STATUS_UNSPECIFIED, started: 0, ended: 0,
      waitingReason: { kind: WaitingReasonKind.WAITING_REASON_KIND_ADMISSION, description: 'being admitted' },
    });
    expect(runTable([pending], T0).split('\n')).toEqual([
      'RUN  STATUS   STARTED  DURATION  VERSION  REASON',
      '5    pending  -        -         2        admission: being admitted',
    ]);
  });

  it('say what to do when empty', () => {
    expect(runTable([], T0)).toMatch(/gofer pipeline run/);
    expect(taskRunTable([], T0)).toBe('no task runs yet');
  });
});

describe('live progress', () => {
  const running = taskRun('build', {
    state: TaskRunState.TASK_RUN_STATE_RUNNING,
    status: TaskRunStatus.TASK_RUN_STATUS_UNSPECIFIED,
    exitCode: undefined,
    ended: 0,
  });
  const waiting = taskRun('deploy', {
    state: TaskRunState.TASK_RUN_STATE_WAITING,
    status: TaskRunStatus.TASK_RUN_STATUS_UNSPECIFIED,
    started: 0,
    ended: 0,
  });

  it('marks each task by where it is; the spinner moves with the frame', () => {
    expect([progressMark(taskRun('a'), 0), progressMark(failed, 0), progressMark(skipped, 0)]).toEqual(['✓', '✗', '-']);
    expect(progressMark(waiting, 0)).toBe('·');
    expect(progressMark(running, 0)).not.toBe(progressMark(running, 1));
  });

  it('draws a header and a line per task', () => {
    const current = run({ state: RunState.RUN_STATE_RUNNING, status: RunStatus.RUN_STATUS_UNSPECIFIED, ended: 0 });
    expect(progressLines(current, [taskRun('greet'), running, waiting], T0 + 3_200, 0)).toEqual([
      'run 4 of hello: running 3.2s',
      '  ✓ greet   successful  1.2s',
      '  ⠋ build   running     3.2s',
      '  · deploy  waiting',
    ]);
  });

  it('cuts lines to the terminal width so redrawing never wraps', () => {
    const lines = progressLines(run(), [taskRun('a'.repeat(50))], T0, 0, 30);
    for (const line of lines) expect(line.length).toBeLessThanOrEqual(29);
    expect(lines[1]!.endsWith('…')).toBe(true);
  });
});

describe('tokens', () => {
  const client: Token = {
    id: 'tok-2',
    kind: TokenKind.TOKEN_KIND_CLIENT,
    namespaces: ['team-a', '/staging-.*/'],
    metadata: { owner: 'ci', purpose: 'deploy' },
    created: T0,
    expires: T0 + 30 * 86_400_000,
    disabled: false,
  };
  const management: Token = { ...client, id: 'tok-1', kind: TokenKind.TOKEN_KIND_MANAGEMENT, namespaces: [], metadata: {}, expires: 0 };

  it('says whether a token is active, disabled or expired', () => {
    expect(tokenStatus(client, T0)).toBe('active');
    expect(tokenStatus({ ...client, disabled: true }, T0)).toBe('disabled');
    expect(tokenStatus(client, client.expires)).toBe('expired');
    expect(tokenStatus(management, T0 + 1e12)).toBe('active');
  });

  it('lists tokens with kind, status, namespaces (all for management), expiry and labels', () => {
    expect(tokenTable([management, client], T0 + 60_000).split('\n')).toEqual([
      'ID     KIND        STATUS  NAMESPACES           EXPIRES  CREATED  METADATA',
      'tok-1  management  active  all                  never    1m ago',
      'tok-2  client      active  team-a,/staging-.*/  in 29d   1m ago   owner=ci purpose=deploy',
    ]);
    expect(tokenTable([], T0)).toMatch(/gofer token create/);
  });

  it('shows one token', () => {
    expect(tokenDetail(client, T0 + 60_000)).toBe(
      [
        'token tok-2',
        '  kind        client',
        '  status      active',
        '  namespaces  team-a,/staging-.*/',
        '  expires     in 29d (2025-02-01T03:04:05.000Z)',
        '  created     1m ago (2025-01-02T03:04:05.000Z)',
        '  metadata    owner=ci purpose=deploy',
      ].join('\n'),
    );
  });
});

describe('namespaces, objects and secrets', () => {
  it('lists namespaces', () => {
    expect(namespaceTable([{ id: 'default', name: 'Default', description: 'Where pipelines go.', created: T0 }], T0 + 120_000)).toBe(
      ['ID       NAME     CREATED  DESCRIPTION', 'default  Default  2m ago   Where pipelines go.'].join('\n'),
    );
  });

  it('lists objects with human sizes and a short checksum, or says what to do', () => {
    const objects = [
      { key: 'model.bin', size: 20 * 1024 * 1024, sha256: '0123456789abcdef'.repeat(4), created: T0 },
      { key: 'v', size: 7, sha256: 'f'.repeat(64), created: T0 - 3_600_000 },
    ];
    expect(objectTable(objects, T0 + 2_000, 'none').split('\n')).toEqual([
      'KEY        SIZE      SHA256        CREATED',
      'model.bin  20.0 MiB  0123456789ab  just now',
      'v          7 B       ffffffffffff  1h ago',
    ]);
    expect(objectTable([], T0, 'no objects yet')).toBe('no objects yet');
  });

  it('lists secrets without values; global ones with their namespaces', () => {
    const secret = { key: 'TOKEN', value: 'never shown', namespaces: ['team-a', '/x-.*/'], created: T0, updated: T0 + 60_000 };
    const now = T0 + 120_000;
    expect(secretTable([secret], now, false, '')).toBe(['KEY    UPDATED  CREATED', 'TOKEN  1m ago   2m ago'].join('\n'));
    expect(secretTable([secret], now, true, '')).toBe(
      ['KEY    NAMESPACES     UPDATED  CREATED', 'TOKEN  team-a,/x-.*/  1m ago   2m ago'].join('\n'),
    );
    const detail = secretDetail(secret, 'global secret TOKEN', true, now);
    expect(detail).toMatch(/^global secret TOKEN\n {2}namespaces {2}team-a,\/x-\.\*\/\n/);
    expect(detail).not.toContain('never shown');
  });
});

describe('eventLine', () => {
  const base = { id: 7, kind: 'run_started', namespaceId: 'default', pipelineId: 'hello', runId: 3, taskId: '', details: '', emitted: T0 };
  const cases: Array<[string, Partial<typeof base>, string]> = [
    ['a run event', { details: '{"trigger":"cron","label":"nightly"}' }, '2025-01-02T03:04:05.000Z  #7  run_started  default/hello run 3  trigger=cron label=nightly'],
    ['a task event', { kind: 'task_run_completed', taskId: 'greet', details: '{"status":"failed","exit_code":3}' }, '2025-01-02T03:04:05.000Z  #7  task_run_completed  default/hello run 3 task greet  status=failed exit_code=3'],
    ['a task event with empty details', { kind: 'task_run_completed', taskId: 'greet', details: '{"status":"successful","reason":null}' }, '2025-01-02T03:04:05.000Z  #7  task_run_completed  default/hello run 3 task greet  status=successful'],
    ['an event outside namespaces', { kind: 'token_created', namespaceId: '', pipelineId: '', runId: 0, details: '{"id":"tok-2"}' }, '2025-01-02T03:04:05.000Z  #7  token_created  -  id=tok-2'],
    ['details with spaces, quotes and nesting', { details: '{"reason":"image not found","x":{"a":1}}' }, '2025-01-02T03:04:05.000Z  #7  run_started  default/hello run 3  reason="image not found" x={"a":1}'],
    ['details that are not an object', { details: 'oops' }, '2025-01-02T03:04:05.000Z  #7  run_started  default/hello run 3  "oops"'],
  ];
  it.each(cases)('%s', (_name, over, line) => expect(eventLine({ ...base, ...over })).toBe(line));
});

describe('transferLine', () => {
  it('shows bytes, total with percent, and rate', () => {
    expect(transferLine('uploading', 'model.bin', 12 * 1024 * 1024, 20 * 1024 * 1024, 2_000)).toBe(
      'uploading model.bin  12.0 MiB / 20.0 MiB (60%)  6.0 MiB/s',
    );
  });

  it('shows only bytes so far without a known total (stdin)', () => {
    expect(transferLine('uploading', 'dist.tar', 1536, undefined, 0)).toBe('uploading dist.tar  1.5 KiB');
    expect(transferLine('downloading', 'empty', 0, 0, 0)).toBe('downloading empty  0 B / 0 B (100%)');
  });
});

describe('notifiers', () => {
  it('run get lists the notifications under the task runs, with exit code and reason', () => {
    const text = runDetail(
      run({
        notifications: [
          {
            label: 'hook', notifier: 'webhook', state: NotificationState.NOTIFICATION_STATE_COMPLETE,
            status: NotificationStatus.NOTIFICATION_STATUS_FAILED, exitCode: 3, hasExitCode: true,
            reason: 'exited with code 3: POST failed', started: T0, ended: T0 + 1500,
          },
          {
            label: 'chat', notifier: 'slack', state: NotificationState.NOTIFICATION_STATE_COMPLETE,
            status: NotificationStatus.NOTIFICATION_STATUS_FAILED, exitCode: 0, hasExitCode: false,
            reason: 'notifier "slack" is not installed', started: 0, ended: T0,
          },
        ],
      }),
      [],
      T0 + 60_000,
    );
    const lines = text.split('\n');
    expect(lines.slice(lines.findIndex((line) => line.startsWith('NOTIFIER')))).toEqual([
      'NOTIFIER  LABEL  STATUS  EXIT  DURATION  REASON',
      'webhook   hook   failed  3     1.5s      exited with code 3: POST failed',
      'slack     chat   failed  -     -         notifier "slack" is not installed',
    ]);
  });

  it('lists notifiers (built-ins marked) and shows one without its settings\' values', () => {
    const hook = { name: 'team-hook', image: 'gofer/notifier-webhook:1', settingKeys: ['secret', 'url'], builtin: false, installed: T0 };
    const log = { name: 'log', image: 'gofer/notifier-log:1', settingKeys: [], builtin: true, installed: T0 };
    expect(notifierTable([log, hook], T0 + 120_000).split('\n')).toEqual([
      'NAME            IMAGE                     SETTINGS    INSTALLED',
      'log (built-in)  gofer/notifier-log:1      -           2m ago',
      'team-hook       gofer/notifier-webhook:1  secret,url  2m ago',
    ]);
    expect(notifierTable([], T0)).toMatch(/no notifiers installed: install one with gofer notifier install/);
    expect(notifierDetail(hook, T0 + 120_000)).toMatch(/^notifier team-hook\n  image +gofer\/notifier-webhook:1\n  settings +secret, url\n  installed /);
  });
});
