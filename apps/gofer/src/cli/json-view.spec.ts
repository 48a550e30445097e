import {
  NotificationState,
  NotificationStatus,
  PipelineState,
  RunState,
  RunStatus,
  StatusReasonKind,
  TaskRunState,
  TaskRunStatus,
  TokenKind,
  type Event,
  type Pipeline,
  type Run,
  type TaskRun,
  type Token,
  WaitingReasonKind,
} from '@gofer/proto';
import { describe, expect, it } from 'vitest';
import {
  enumValue,
  eventJson,
  isoTime,
  namespaceJson,
  notifierJson,
  objectJson,
  pipelineJson,
  runJson,
  secretJson,
  taskRunJson,
  tokenJson,
} from './json-view.js';

const T0 = Date.UTC(2025, 0, 2, 3, 4, 5);

const run = (over: Partial<Run> = {}): Run => ({
  namespaceId: 'default',
  pipelineId: 'hello',
  id: 4,
  state: RunState.RUN_STATE_COMPLETE,
  status: RunStatus.RUN_STATUS_FAILED,
  statusReason: { reason: StatusReasonKind.STATUS_REASON_KIND_ABNORMAL_EXIT, description: 'task flaky exited 3' },
  started: T0,
  ended: T0 + 12_300,
  variables: { WHO: 'world' },
  configVersion: 2,
  retryOf: 0,
  startedBy: 'token/tok_0123456789abcdef',
  notifications: [],
  waitingReason: null,
  ...over,
});

const taskRun = (over: Partial<TaskRun> = {}): TaskRun => ({
  namespaceId: 'default',
  pipelineId: 'hello',
  runId: 4,
  taskId: 'greet',
  attempt: 1,
  state: TaskRunState.TASK_RUN_STATE_COMPLETE,
  status: TaskRunStatus.TASK_RUN_STATUS_SUCCESSFUL,
  statusReason: null,
  exitCode: 0,
  image: 'busybox:latest',
  schedulerId: 'c0ffee',
  workerId: 'w1',
  started: T0,
  ended: T0 + 1_000,
  waitingReason: null,
  ...over,
});

describe('enumValue', () => {
  const cases: Array<[string | null | undefined, string, string | null]> = [
    ['RUN_STATE_RUNNING', 'RUN_STATE_', 'running'],
    ['STATUS_REASON_KIND_ABNORMAL_EXIT', 'STATUS_REASON_KIND_', 'abnormal_exit'],
    ['RUN_STATUS_UNSPECIFIED', 'RUN_STATUS_', null],
    ['', 'RUN_STATUS_', null],
    [undefined, 'RUN_STATUS_', null],
    ['SOMETHING_NEW', 'RUN_STATE_', 'something_new'],
    // proto-loader hands an enum value this CLI's proto lacks over as its number.
    [7 as unknown as string, 'TOKEN_KIND_', 'unknown (7)'],
  ];
  it.each(cases)('%s -> %s', (value, prefix, expected) => expect(enumValue(value, prefix)).toBe(expected));
});

describe('isoTime', () => {
  it('maps unix ms to ISO and 0 to null', () => {
    expect(isoTime(T0)).toBe('2025-01-02T03:04:05.000Z');
    expect(isoTime(0)).toBeNull();
  });
});

describe('runJson', () => {
  it('has exactly the docs/design.md §9 shape', () => {
    expect(runJson(run())).toStrictEqual({
      namespace: 'default',
      pipeline: 'hello',
      id: 4,
      state: 'complete',
      status: 'failed',
      status_reason: { reason: 'abnormal_exit', description: 'task flaky exited 3' },
      started: '2025-01-02T03:04:05.000Z',
      ended: '2025-01-02T03:04:17.300Z',
      variables: { WHO: 'world' },
      config_version: 2,
      started_by: 'token/tok_0123456789abcdef',
      notifications: [],
      waiting_reason: null,
    });
  });

  it('says why a pending run waits, as status_reason does', () => {
    const json = runJson(run({
      state: RunState.RUN_STATE_PENDING, status: RunStatus.RUN_STATUS_UNSPECIFIED, statusReason: null, started: 0, ended: 0,
      waitingReason: {
        kind: WaitingReasonKind.WAITING_REASON_KIND_PARALLELISM,
        description: "behind 1 running run(s) of the pipeline's parallelism limit of 1",
      },
    }));
    expect(json).toMatchObject({
      state: 'pending',
      waiting_reason: { reason: 'parallelism', description: "behind 1 running run(s) of the pipeline's parallelism limit of 1" },
    });
  });

  it('lists its notifications: exit code only when the notifier ran, reason null when it succeeded', () => {
    const json = runJson(run({
      notifications: [
        {
          label: 'hook', notifier: 'webhook', state: NotificationState.NOTIFICATION_STATE_COMPLETE,
          status: NotificationStatus.NOTIFICATION_STATUS_FAILED, exitCode: 3, hasExitCode: true,
          reason: 'exited with code 3: POST failed', started: T0, ended: T0 + 1000,
        },
        {
          label: 'chat', notifier: 'slack', state: NotificationState.NOTIFICATION_STATE_COMPLETE,
          status: NotificationStatus.NOTIFICATION_STATUS_FAILED, exitCode: 0, hasExitCode: false,
          reason: 'notifier "slack" is not installed', started: 0, ended: T0 + 5,
        },
        {
          label: 'console', notifier: 'log', state: NotificationState.NOTIFICATION_STATE_PENDING,
          status: NotificationStatus.NOTIFICATION_STATUS_UNSPECIFIED, exitCode: 0, hasExitCode: false, reason: '', started: 0, ended: 0,
        },
      ],
    }));
    expect(json.notifications).toStrictEqual([
      {
        label: 'hook', notifier: 'webhook', state: 'complete', status: 'failed', exit_code: 3, reason: 'exited with code 3: POST failed',
        started: '2025-01-02T03:04:05.000Z', ended: '2025-01-02T03:04:06.000Z',
      },
      {
        label: 'chat', notifier: 'slack', state: 'complete', status: 'failed', exit_code: null, reason: 'notifier "slack" is not installed',
        started: null, ended: '2025-01-02T03:04:05.005Z',
      },
      { label: 'console', notifier: 'log', state: 'pending', status: null, exit_code: null, reason: null, started: null, ended: null },
    ]);
  });

  it('shows a running run with null status, reason and end', () => {
    const json = runJson(
      run({ state: RunState.RUN_STATE_RUNNING, status: RunStatus.RUN_STATUS_UNSPECIFIED, statusReason: null, ended: 0 }),
    );
    expect(json).toMatchObject({ state: 'running', status: null, status_reason: null, ended: null });
  });
});

describe('taskRunJson', () => {
  it("is the run's shape plus task, attempt, exit_code, image, container and worker", () => {
    expect(taskRunJson(taskRun(), run())).toStrictEqual({
      namespace: 'default',
      pipeline: 'hello',
      id: 4,
      run: 4,
      task: 'greet',
      attempt: 1,
      state: 'complete',
      status: 'successful',
      status_reason: null,
      started: '2025-01-02T03:04:05.000Z',
      ended: '2025-01-02T03:04:06.000Z',
      variables: { WHO: 'world' },
      config_version: 2,
      exit_code: 0,
      image: 'busybox:latest',
      container: 'c0ffee',
      worker: 'w1',
      waiting_reason: null,
    });
  });

  it('says why a task run that is not running yet waits', () => {
    const json = taskRunJson(taskRun({
      state: TaskRunState.TASK_RUN_STATE_WAITING, status: TaskRunStatus.TASK_RUN_STATUS_UNSPECIFIED, exitCode: undefined, started: 0, ended: 0,
      waitingReason: { kind: WaitingReasonKind.WAITING_REASON_KIND_RETRY_BACKOFF, description: 'retry backoff until 2025-01-02T03:04:35.000Z' },
    }), run());
    expect(json.waiting_reason).toStrictEqual({ reason: 'retry_backoff', description: 'retry backoff until 2025-01-02T03:04:35.000Z' });
  });

  it('shows where an attempt that has not run yet ran as null', () => {
    expect(taskRunJson(taskRun({ schedulerId: '', workerId: '' }), run())).toMatchObject({ container: null, worker: null });
  });

  it('keeps exit code 0 and shows an absent exit code as null', () => {
    expect(taskRunJson(taskRun({ exitCode: 0 }), run()).exit_code).toBe(0);
    expect(taskRunJson(taskRun({ exitCode: undefined }), run()).exit_code).toBeNull();
    expect(taskRunJson(taskRun({ exitCode: null }), run()).exit_code).toBeNull();
  });

  it('maps skipped with its reason', () => {
    const json = taskRunJson(
      taskRun({
        status: TaskRunStatus.TASK_RUN_STATUS_SKIPPED,
        statusReason: { reason: StatusReasonKind.STATUS_REASON_KIND_FAILED_PRECONDITION, description: 'greet failed' },
        exitCode: undefined,
        started: 0,
      }),
      run(),
    );
    expect(json).toMatchObject({
      status: 'skipped',
      status_reason: { reason: 'failed_precondition', description: 'greet failed' },
      exit_code: null,
      started: null,
    });
  });
});

describe('pipelineJson', () => {
  it('snake_cases keys and lower-cases the state', () => {
    const p: Pipeline = {
      namespaceId: 'default',
      id: 'hello',
      name: 'Hello',
      description: 'Says hello',
      state: PipelineState.PIPELINE_STATE_DISABLED,
      parallelism: 0,
      latestConfigVersion: 3,
      created: T0,
      updated: 0,
    };
    expect(pipelineJson(p)).toStrictEqual({
      namespace: 'default',
      id: 'hello',
      name: 'Hello',
      description: 'Says hello',
      state: 'disabled',
      parallelism: 0,
      latest_config_version: 3,
      created: '2025-01-02T03:04:05.000Z',
      updated: null,
    });
  });
});

describe('tokenJson', () => {
  const token: Token = {
    id: 'tok-3',
    kind: TokenKind.TOKEN_KIND_CLIENT,
    namespaces: ['team-a', '/staging-.*/'],
    metadata: { owner: 'ci' },
    created: T0,
    expires: T0 + 30 * 86_400_000,
    disabled: false,
  };

  it('has the id, lower-case kind, namespaces, labels, times and disabled flag (never a secret)', () => {
    expect(tokenJson(token)).toStrictEqual({
      id: 'tok-3',
      kind: 'client',
      namespaces: ['team-a', '/staging-.*/'],
      metadata: { owner: 'ci' },
      created: '2025-01-02T03:04:05.000Z',
      expires: '2025-02-01T03:04:05.000Z',
      disabled: false,
    });
  });

  it('shows a token that never expires with expires null', () => {
    expect(tokenJson({ ...token, kind: TokenKind.TOKEN_KIND_MANAGEMENT, expires: 0, namespaces: [] })).toMatchObject({
      kind: 'management',
      namespaces: [],
      expires: null,
    });
  });
});

describe('namespaceJson and objectJson', () => {
  it('snake_case shapes with ISO times', () => {
    expect(namespaceJson({ id: 'team-a', name: 'Team A', description: 'd', created: T0 })).toStrictEqual({
      id: 'team-a',
      name: 'Team A',
      description: 'd',
      created: '2025-01-02T03:04:05.000Z',
    });
    expect(objectJson({ key: 'report.tar', size: 20_971_520, sha256: 'ab'.repeat(32), created: T0 })).toStrictEqual({
      key: 'report.tar',
      size: 20_971_520,
      sha256: 'ab'.repeat(32),
      created: '2025-01-02T03:04:05.000Z',
    });
  });
});

describe('secretJson', () => {
  const secret = { key: 'DEPLOY_TOKEN', value: 's3cret', namespaces: ['team-a'], created: T0, updated: T0 + 1_000 };

  it('leaves the value out unless it was asked for', () => {
    expect(secretJson({ ...secret, value: '' })).toStrictEqual({
      key: 'DEPLOY_TOKEN',
      namespaces: ['team-a'],
      created: '2025-01-02T03:04:05.000Z',
      updated: '2025-01-02T03:04:06.000Z',
    });
    expect(Object.keys(secretJson(secret, true))).toEqual(['key', 'value', 'namespaces', 'created', 'updated']);
    expect(secretJson(secret, true).value).toBe('s3cret');
  });
});

describe('eventJson', () => {
  const event: Event = {
    id: 42,
    kind: 'task_run_completed',
    namespaceId: 'default',
    pipelineId: 'hello',
    runId: 3,
    taskId: 'greet',
    details: '{"status":"successful","exit_code":0}',
    emitted: T0,
  };

  it('parses the details and names every field', () => {
    expect(eventJson(event)).toStrictEqual({
      id: 42,
      kind: 'task_run_completed',
      namespace: 'default',
      pipeline: 'hello',
      run: 3,
      task: 'greet',
      details: { status: 'successful', exit_code: 0 },
      emitted: '2025-01-02T03:04:05.000Z',
    });
  });

  it('shows what an event is not about as null, empty details as {}, and keeps details that are not JSON', () => {
    const token = { ...event, kind: 'token_created', namespaceId: '', pipelineId: '', runId: 0, taskId: '', details: '' };
    expect(eventJson(token)).toMatchObject({ namespace: null, pipeline: null, run: null, task: null, details: {} });
    expect(eventJson({ ...event, details: 'not json' }).details).toBe('not json');
  });
});

describe('notifierJson', () => {
  it('shows the keys of its settings, never values', () => {
    expect(notifierJson({ name: 'team-hook', image: 'gofer/notifier-webhook:1', settingKeys: ['secret', 'url'], builtin: false, installed: T0 }))
      .toStrictEqual({ name: 'team-hook', image: 'gofer/notifier-webhook:1', setting_keys: ['secret', 'url'], builtin: false, installed: '2025-01-02T03:04:05.000Z' });
  });
});
