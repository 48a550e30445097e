import {
  RunState,
  RunStatus,
  StatusReasonKind,
  TaskRunState,
  TaskRunStatus,
  type Run,
  type TaskRun,
} from '@gofer/proto';
import { describe, expect, it } from 'vitest';
import { formatReason, progressLines, progressMark, runSummary, runTable, taskRunTable } from './plain-view.js';

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
