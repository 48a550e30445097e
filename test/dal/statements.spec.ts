import { describe, expect, it } from 'vitest';
import {
  advanceSql, completeAndReadBatchSql, deleteRunTokensSql, eventSql, insertRunNotificationsSql, insertRunSql, insertTaskRunsSql, lockRunSql, lockRunsSql,
  lockUnfinishedRunsSql, nextRunIdSql, RUN_SQL, TASK_RUN_SQL, TaskRunEntity,
} from '@gofer/dal';

/**
 * The hot path's SQL (libs/dal repositories), pinned: Postgres caches a named statement per connection by its name, and the hot
 * path's round trips depend on which statements travel together. Moving this SQL elsewhere (into
 * repositories) must leave every text byte-for-byte the same; a deliberate change updates the
 * snapshot in the same commit (and renames a named statement whose text changed).
 */
describe('engine statements', () => {
  const named = { ...TASK_RUN_SQL, ...RUN_SQL };

  it('gives every named statement its own name', () => {
    const names = Object.values(named).map((statement) => statement.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it.each(Object.entries(named))('%s', (_key, statement) => {
    expect(statement).toMatchSnapshot();
  });

  const at = new Date('2026-01-01T00:00:00Z');
  const builders: Array<[string, () => string]> = [
    ['lockRunSql', () => lockRunSql('default', "it's", 3)],
    ['lockUnfinishedRunsSql', () => lockUnfinishedRunsSql('default', 'hello')],
    ['lockRunsSql (deduplicated, in key order)', () => lockRunsSql([
      { namespaceId: 'default', pipelineId: 'b', runId: 2 }, { namespaceId: 'default', pipelineId: 'a', runId: 9 },
      { namespaceId: 'default', pipelineId: 'b', runId: 2 },
    ])],
    ['advanceSql', () => advanceSql({ namespaceId: 'default', pipelineId: 'hello', id: 4 }, ['a', "it's"], [{ taskId: 'c', reason: '{"reason":"failed_precondition"}' }], at)],
    ['completeAndReadBatchSql', () => completeAndReadBatchSql([
      { key: { namespaceId: 'default', pipelineId: 'hello', runId: 4, taskId: 'a', attempt: 1 }, workerId: 'w1', ended: at,
        result: { status: 'failed', reason: 'abnormal_exit', description: "exited 3: it's", exitCode: 3, logBytes: 10 } },
      { key: { namespaceId: 'default', pipelineId: 'hello', runId: 4, taskId: 'b', attempt: 2 }, workerId: 'w1', ended: at,
        result: { status: 'successful', description: '' } },
    ])],
    ['eventSql', () => eventSql({ kind: 'run_started', namespaceId: 'default', pipelineId: 'hello', runId: 4, details: { note: "it's" } })],
    ['nextRunIdSql', () => nextRunIdSql('default', "it's")],
    ['insertRunSql', () => insertRunSql({
      namespaceId: 'default', pipelineId: 'hello', id: 5, configVersion: 2, variables: { WHO: "it's" }, retryOf: 4, created: at,
      startedBy: 'token/tok_0123', idempotencyKey: "delivery 'x'",
    })],
    ['insertTaskRunsSql (fresh and reused)', () => insertTaskRunsSql({ namespaceId: 'default', pipelineId: 'hello', runId: 5 }, [
      { taskId: 'a', image: 'busybox:latest' },
      { taskId: 'b', image: 'busybox:latest', reused: Object.assign(new TaskRunEntity(), {
        runId: 4, attempt: 2, exitCode: 0, schedulerId: 'c0ffee', workerId: 'w1', reusedFromRun: null, logBytes: '12',
        logsTruncated: false, logsArchived: true, started: at, ended: at,
      }) },
    ])],
    ['deleteRunTokensSql', () => deleteRunTokensSql({ namespaceId: 'default', pipelineId: 'hello', runId: 5 })],
    ['insertRunNotificationsSql', () => insertRunNotificationsSql({ namespaceId: 'default', pipelineId: 'hello', id: 5 }, [
      { label: 'console', notifier: 'log' }, { label: "it's", notifier: 'webhook' },
    ])],
  ];
  it.each(builders)('%s', (_name, build) => {
    expect(build()).toMatchSnapshot();
  });
});
