import type { NomadAllocationMetric, NomadEvaluation } from './nomad.types.js';

/**
 * Why an evaluation could not place its allocations, in Nomad's own words (the lines `nomad job run`
 * prints under "failed to place", from `formatAllocMetrics` in Nomad's CLI), on one line:
 *
 * `task group "task" failed to place 1 allocation: constraint "${attr.kernel.name} = windows": 3 nodes
 * excluded by filter (evaluation blocked, waiting for capacity)`
 *
 * Undefined when the evaluation reports no placement failure. Task groups and map keys are sorted so the
 * text is stable.
 */
export function placementFailureReason(evaluation: NomadEvaluation): string | undefined {
  const groups = Object.entries(evaluation.FailedTGAllocs ?? {}).sort(([a], [b]) => a.localeCompare(b));
  const blocked = evaluation.Status === 'blocked' || Boolean(evaluation.BlockedEval);
  if (groups.length === 0) {
    if (evaluation.Status === 'failed') return `evaluation failed: ${evaluation.StatusDescription || 'no reason given'}`;
    return undefined;
  }
  const text = groups
    .map(([group, metric]) => {
      const failed = (metric.CoalescedFailures ?? 0) + 1;
      return `task group "${group}" failed to place ${failed} allocation${failed === 1 ? '' : 's'}: ${metricReasons(metric).join('; ')}`;
    })
    .join('; ');
  return blocked ? `${text} (evaluation blocked, waiting for capacity)` : text;
}

/** Nomad's explanations for one task group, in the order Nomad prints them. */
function metricReasons(metric: NomadAllocationMetric): string[] {
  const reasons: string[] = [];
  if (metric.NodesEvaluated === 0) reasons.push('no nodes were eligible for evaluation');
  for (const [dc, available] of sorted(metric.NodesAvailable)) {
    if (available === 0) reasons.push(`no nodes are available in datacenter "${dc}"`);
  }
  for (const [nodeClass, n] of sorted(metric.ClassFiltered)) reasons.push(`class "${nodeClass}": ${nodes(n)} excluded by filter`);
  for (const [constraint, n] of sorted(metric.ConstraintFiltered)) reasons.push(`constraint "${constraint}": ${nodes(n)} excluded by filter`);
  if (metric.NodesExhausted > 0) reasons.push(`resources exhausted on ${nodes(metric.NodesExhausted)}`);
  for (const [nodeClass, n] of sorted(metric.ClassExhausted)) reasons.push(`class "${nodeClass}" exhausted on ${nodes(n)}`);
  for (const [dimension, n] of sorted(metric.DimensionExhausted)) reasons.push(`dimension "${dimension}" exhausted on ${nodes(n)}`);
  for (const quota of metric.QuotaExhausted ?? []) reasons.push(`quota limit hit "${quota}"`);
  if (reasons.length === 0) {
    // Nomad prints nothing more specific here; say what the counts say.
    reasons.push(`${nodes(metric.NodesEvaluated)} evaluated, ${metric.NodesFiltered} filtered, none could run it`);
  }
  return reasons;
}

function sorted(map: Record<string, number> | null | undefined): Array<[string, number]> {
  return Object.entries(map ?? {}).sort(([a], [b]) => a.localeCompare(b));
}

function nodes(n: number): string {
  return `${n} node${n === 1 ? '' : 's'}`;
}
