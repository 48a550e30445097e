import { RunEntity, TaskRunEntity } from '@gofer/dal';
import { describe, expect, it } from 'vitest';
import { MAX_SUMMARY_BYTES, notifierEnvironment, runSummary } from './run-summary.js';

const at = new Date('2026-01-01T00:00:00Z');
const run = Object.assign(new RunEntity(), {
  namespaceId: 'default', pipelineId: 'hello', id: 4, configVersion: 2, state: 'complete', status: 'failed',
  statusReason: { reason: 'abnormal_exit', description: 'task "flaky" failed: exited with code 3' },
  variables: {}, retryOf: null, startedBy: 'token/tok_0123', idempotencyKey: null, cancelRequested: false,
  created: at, started: at, ended: new Date(at.getTime() + 4200),
} satisfies Partial<RunEntity>);
const taskRun = (taskId: string, over: Partial<TaskRunEntity> = {}) =>
  Object.assign(new TaskRunEntity(), { taskId, status: 'successful', exitCode: 0, statusReason: null, ...over });

describe('runSummary', () => {
  it('is the run\'s outcome and each task run\'s, snake_case with ISO times', () => {
    const summary = runSummary(run, [
      taskRun('greet'),
      taskRun('flaky', { status: 'failed', exitCode: 3, statusReason: { reason: 'abnormal_exit', description: 'exited with code 3' } }),
      taskRun('after', { status: 'skipped', exitCode: null, statusReason: { reason: 'failed_precondition', description: 'x'.repeat(2000) } }),
    ]);
    expect(summary).toStrictEqual({
      namespace: 'default', pipeline: 'hello', run: 4, status: 'failed',
      reason: { kind: 'abnormal_exit', description: 'task "flaky" failed: exited with code 3' },
      started: '2026-01-01T00:00:00.000Z', ended: '2026-01-01T00:00:04.200Z', started_by: 'token/tok_0123', config_version: 2,
      task_runs: [
        { task: 'greet', status: 'successful', exit_code: 0, reason: null },
        { task: 'flaky', status: 'failed', exit_code: 3, reason: { kind: 'abnormal_exit', description: 'exited with code 3' } },
        { task: 'after', status: 'skipped', exit_code: null, reason: { kind: 'failed_precondition', description: `${'x'.repeat(511)}…` } },
      ],
    });
  });

  it('leaves out task runs past the size an environment variable can hold, and says how many', () => {
    const many = Array.from({ length: 500 }, (_, i) =>
      taskRun(`task-${i}-${'t'.repeat(50)}`, { status: 'failed', exitCode: 1, statusReason: { reason: 'abnormal_exit', description: 'd'.repeat(400) } }));
    const summary = runSummary(run, many);
    expect(Buffer.byteLength(JSON.stringify(summary))).toBeLessThanOrEqual(MAX_SUMMARY_BYTES);
    expect(summary.task_runs.length + summary.task_runs_omitted!).toBe(500);
    expect(summary.task_runs_omitted).toBeGreaterThan(0);
    expect(summary.task_runs[0]!.task).toBe(many[0]!.taskId);
  });
});

describe('notifierEnvironment', () => {
  it('passes the run and the settings upper-cased, the pipeline\'s over the install\'s', () => {
    const summary = runSummary(run, []);
    const env = notifierEnvironment({
      key: { namespaceId: 'default', pipelineId: 'hello', runId: 4, label: 'hook' },
      notifier: 'webhook',
      summary,
      installSettings: { url: 'https://default.example.com', secret: 's3cr3t' },
      pipelineSettings: { URL: 'https://team.example.com', channel: '#ci' },
    });
    expect(env).toStrictEqual({
      GOFER_NOTIFIER_CONFIG_URL: 'https://team.example.com',
      GOFER_NOTIFIER_CONFIG_SECRET: 's3cr3t',
      GOFER_NOTIFIER_CONFIG_CHANNEL: '#ci',
      GOFER_NAMESPACE: 'default',
      GOFER_PIPELINE_ID: 'hello',
      GOFER_RUN_ID: '4',
      GOFER_NOTIFIER: 'webhook',
      GOFER_NOTIFIER_LABEL: 'hook',
      GOFER_RUN_STATUS: 'failed',
      GOFER_RUN_SUMMARY: JSON.stringify(summary),
    });
  });
});
