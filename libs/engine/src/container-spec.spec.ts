import { describe, expect, it } from 'vitest';
import { attemptOfLabels, containerLabels } from './container-spec.js';

describe('attemptOfLabels', () => {
  const key = { namespaceId: 'default', pipelineId: 'hello', runId: 12, taskId: 'greet', attempt: 2 };
  const labels = containerLabels('cluster-1', key);

  it('reads back what containerLabels wrote', () => {
    expect(attemptOfLabels(labels)).toEqual(key);
  });

  const tests: Array<{ why: string; labels: Record<string, string | undefined> }> = [
    { why: 'only the cluster label (another kind of container of the cluster)', labels: { 'gofer.cluster': 'cluster-1' } },
    { why: 'no task', labels: { ...labels, 'gofer.task': undefined } },
    { why: 'a run that is not a number', labels: { ...labels, 'gofer.run': 'twelve' } },
    { why: 'run 0', labels: { ...labels, 'gofer.run': '0' } },
    { why: 'a fractional attempt', labels: { ...labels, 'gofer.attempt': '1.5' } },
    { why: 'a negative attempt', labels: { ...labels, 'gofer.attempt': '-1' } },
    { why: 'an id no pipeline can have', labels: { ...labels, 'gofer.pipeline': '../etc' } },
    { why: 'an empty namespace', labels: { ...labels, 'gofer.namespace': '' } },
  ];
  it.each(tests)('names no attempt for $why', ({ labels: given }) => {
    expect(attemptOfLabels(given)).toBeUndefined();
  });
});
