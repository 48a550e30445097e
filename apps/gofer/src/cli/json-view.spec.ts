import {
  PipelineState,
  RunState,
  RunStatus,
  StatusReasonKind,
  TaskRunState,
  TaskRunStatus,
  type Pipeline,
  type Run,
  type TaskRun,
} from '@gofer/proto';
import { describe, expect, it } from 'vitest';
import { enumValue, isoTime, pipelineJson, runJson, taskRunJson } from './json-view.js';

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
  it('has exactly the DESIGN §9 shape', () => {
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
    });
  });

  it('shows a running run with null status, reason and end', () => {
    const json = runJson(
      run({ state: RunState.RUN_STATE_RUNNING, status: RunStatus.RUN_STATUS_UNSPECIFIED, statusReason: null, ended: 0 }),
    );
    expect(json).toMatchObject({ state: 'running', status: null, status_reason: null, ended: null });
  });
});

describe('taskRunJson', () => {
  it("is the run's shape plus task, attempt, exit_code, image", () => {
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
    });
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
