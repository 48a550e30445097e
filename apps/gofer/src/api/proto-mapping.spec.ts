import { describe, expect, it } from 'vitest';
import { WaitingReasonKind } from '@gofer/proto';
import { runWaitingReason, taskRunWaitingReason } from './proto-mapping.js';

const NOW = Date.UTC(2026, 0, 2, 3, 4, 5);
const run = (state: 'pending' | 'running' | 'complete') => ({ state, namespaceId: 'default', pipelineId: 'hello' });

describe('runWaitingReason', () => {
  it('follows the rules of pendingByReason: disabled first, then a full parallelism limit, else admission', () => {
    expect(runWaitingReason(run('pending'), { state: 'disabled', parallelism: 1, running: 1 })).toEqual({
      kind: WaitingReasonKind.WAITING_REASON_KIND_PIPELINE_DISABLED,
      description: 'the pipeline is disabled: gofer pipeline enable hello',
    });
    expect(runWaitingReason(run('pending'), { state: 'enabled', parallelism: 2, running: 2 })).toEqual({
      kind: WaitingReasonKind.WAITING_REASON_KIND_PARALLELISM,
      description: "behind 2 running run(s) of the pipeline's parallelism limit of 2",
    });
    expect(runWaitingReason(run('pending'), { state: 'enabled', parallelism: 2, running: 1 })?.kind).toBe(WaitingReasonKind.WAITING_REASON_KIND_ADMISSION);
    expect(runWaitingReason(run('pending'), { state: 'enabled', parallelism: 0, running: 9 })?.kind).toBe(WaitingReasonKind.WAITING_REASON_KIND_ADMISSION);
  });

  it('names the namespace in the enable command outside the default one', () => {
    const reason = runWaitingReason({ ...run('pending'), namespaceId: 'team-a' }, { state: 'disabled', parallelism: 0, running: 0 });
    expect(reason?.description).toBe('the pipeline is disabled: gofer pipeline enable hello -n team-a');
  });

  it('is null for a run that is not pending, or without a context', () => {
    expect(runWaitingReason(run('running'), { state: 'disabled', parallelism: 0, running: 0 })).toBeNull();
    expect(runWaitingReason(run('pending'), null)).toBeNull();
  });
});

describe('taskRunWaitingReason', () => {
  it('says retry backoff until ready_at while it is ahead, else a worker slot', () => {
    expect(taskRunWaitingReason({ state: 'waiting', readyAt: new Date(NOW + 60_000) }, NOW)).toEqual({
      kind: WaitingReasonKind.WAITING_REASON_KIND_RETRY_BACKOFF,
      description: 'retry backoff until 2026-01-02T03:05:05.000Z',
    });
    expect(taskRunWaitingReason({ state: 'waiting', readyAt: new Date(NOW) }, NOW)).toEqual({
      kind: WaitingReasonKind.WAITING_REASON_KIND_WORKER_SLOT,
      description: 'queued for a worker slot',
    });
  });

  it('names the parents that are not complete yet', () => {
    const siblings = [{ taskId: 'a', state: 'complete' as const }, { taskId: 'b', state: 'running' as const }, { taskId: 'c', state: 'waiting' as const }];
    expect(taskRunWaitingReason({ state: 'processing', readyAt: null }, NOW, { runState: 'running', dependsOn: ['a', 'b', 'c'], siblings })).toEqual({
      kind: WaitingReasonKind.WAITING_REASON_KIND_DEPENDENCIES,
      description: 'waiting for b, c to complete',
    });
  });

  it('says its run is pending before the run starts, and is null once running or complete', () => {
    expect(taskRunWaitingReason({ state: 'processing', readyAt: null }, NOW, { runState: 'pending' })?.kind).toBe(WaitingReasonKind.WAITING_REASON_KIND_RUN_PENDING);
    expect(taskRunWaitingReason({ state: 'running', readyAt: null }, NOW)).toBeNull();
    expect(taskRunWaitingReason({ state: 'complete', readyAt: new Date(NOW + 1) }, NOW)).toBeNull();
  });
});
