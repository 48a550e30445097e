import { describe, expect, it } from 'vitest';
import type { NomadAllocationMetric, NomadEvaluation } from './nomad.types.js';
import { placementFailureReason } from './placement-failure.js';

const evaluation = (fields: Partial<NomadEvaluation>): NomadEvaluation => ({
  ID: 'e1',
  Namespace: 'default',
  Priority: 50,
  Type: 'batch',
  TriggeredBy: 'job-register',
  JobID: 'j',
  Status: 'complete',
  CreateIndex: 1,
  ModifyIndex: 1,
  ...fields,
});
const metric = (fields: Partial<NomadAllocationMetric>): NomadAllocationMetric => ({
  NodesEvaluated: 3,
  NodesFiltered: 0,
  NodesExhausted: 0,
  ...fields,
});

describe('placementFailureReason', () => {
  const tests: Array<{ name: string; evaluation: NomadEvaluation; reason: string | undefined }> = [
    { name: 'a complete evaluation that placed everything', evaluation: evaluation({ FailedTGAllocs: null }), reason: undefined },
    { name: 'a pending evaluation', evaluation: evaluation({ Status: 'pending' }), reason: undefined },
    {
      name: 'a constraint no node meets, blocked',
      evaluation: evaluation({
        Status: 'complete',
        BlockedEval: 'e2',
        FailedTGAllocs: { task: metric({ NodesFiltered: 3, ConstraintFiltered: { '${attr.kernel.name} = windows': 3 } }) },
      }),
      reason:
        'task group "task" failed to place 1 allocation: constraint "${attr.kernel.name} = windows": 3 nodes excluded by filter (evaluation blocked, waiting for capacity)',
    },
    {
      name: 'no node in the pool at all',
      evaluation: evaluation({ FailedTGAllocs: { task: metric({ NodesEvaluated: 0, NodesAvailable: { dc1: 0 } }) } }),
      reason: 'task group "task" failed to place 1 allocation: no nodes were eligible for evaluation; no nodes are available in datacenter "dc1"',
    },
    {
      name: 'resources exhausted, several allocations, keys sorted',
      evaluation: evaluation({
        FailedTGAllocs: {
          task: metric({ NodesExhausted: 2, CoalescedFailures: 2, DimensionExhausted: { memory: 2, cpu: 1 }, ClassExhausted: { gpu: 1 } }),
        },
      }),
      reason:
        'task group "task" failed to place 3 allocations: resources exhausted on 2 nodes; class "gpu" exhausted on 1 node; dimension "cpu" exhausted on 1 node; dimension "memory" exhausted on 2 nodes',
    },
    {
      name: 'class filter and quota, two task groups sorted',
      evaluation: evaluation({
        FailedTGAllocs: {
          web: metric({ QuotaExhausted: ['memory exhausted (1024 needed > 512 limit)'] }),
          api: metric({ NodesFiltered: 1, ClassFiltered: { 'linux-small': 1 } }),
        },
      }),
      reason:
        'task group "api" failed to place 1 allocation: class "linux-small": 1 node excluded by filter; task group "web" failed to place 1 allocation: quota limit hit "memory exhausted (1024 needed > 512 limit)"',
    },
    {
      name: 'metrics with nothing specific',
      evaluation: evaluation({ FailedTGAllocs: { task: metric({ NodesEvaluated: 2, NodesFiltered: 2 }) } }),
      reason: 'task group "task" failed to place 1 allocation: 2 nodes evaluated, 2 filtered, none could run it',
    },
    {
      name: 'a failed evaluation without metrics',
      evaluation: evaluation({ Status: 'failed', StatusDescription: 'maximum attempts reached (5)' }),
      reason: 'evaluation failed: maximum attempts reached (5)',
    },
  ];

  it.each(tests)('$name', ({ evaluation, reason }) => {
    expect(placementFailureReason(evaluation)).toBe(reason);
  });
});
