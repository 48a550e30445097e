import { describe, expect, it } from 'vitest';
import { summaryText, type Summary } from './summary-text.js';

const summary: Summary = {
  namespace: 'default',
  pipeline: 'hello',
  run: 4,
  status: 'failed',
  reason: { kind: 'abnormal_exit', description: 'task "flaky" failed: exited with code 3' },
  started: '2025-01-02T03:04:05.000Z',
  ended: '2025-01-02T03:04:17.300Z',
  started_by: 'token/tok_0123',
  task_runs: [
    { task: 'greet', status: 'successful', exit_code: 0, reason: null },
    { task: 'flaky', status: 'failed', exit_code: 3, reason: { kind: 'abnormal_exit', description: 'exited with code 3' } },
    { task: 'on_ok', status: 'skipped', exit_code: null, reason: { kind: 'failed_precondition', description: '"flaky" ended failed' } },
  ],
};

describe('summaryText', () => {
  it('shows the outcome, who started the run, and each task run', () => {
    expect(summaryText(summary).split('\n')).toEqual([
      'run 4 of default/hello: failed in 12.3s (abnormal_exit: task "flaky" failed: exited with code 3)',
      'started by token/tok_0123 at 2025-01-02T03:04:05.000Z',
      '  ✓ greet  successful  exit 0',
      '  ✗ flaky  failed      exit 3  abnormal_exit: exited with code 3',
      '  - on_ok  skipped     failed_precondition: "flaky" ended failed',
    ]);
  });

  it('says how many task runs the summary left out, and copes with a run that never started', () => {
    const text = summaryText({ ...summary, status: 'cancelled', reason: null, started: null, started_by: '', task_runs: [], task_runs_omitted: 7 });
    expect(text.split('\n')).toEqual(['run 4 of default/hello: cancelled', 'started', '  … and 7 more task runs']);
  });
});
