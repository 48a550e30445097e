// Chain: tasks in a line, each depending on the previous with `success`, on real containers. The
// orchestration overhead of an edge is child.started − parent.ended from Postgres: `ended` is written
// when the parent's completion transaction runs, `started` when a worker claims the child (before any
// container work), so the edge holds commit + enqueue + queue pickup + claim, and nothing of Docker.
import { edgeBreakdown, edgeLatencies, runAndWait, runTimes, taskTimes } from './support/cluster.mjs';
import { median, round, summary } from './support/stats.mjs';

const PIPELINE_ID = 'bench-chain';

/** @param {{ length: number, runs: number, log: (line: string) => void }} options */
export async function chainBench(cluster, { length, runs, log }) {
  const ids = Array.from({ length }, (_, i) => `c${String(i).padStart(2, '0')}`);
  const dependsOn = Object.fromEntries(ids.map((id, i) => [id, i === 0 ? [] : [ids[i - 1]]]));
  await cluster.apply({
    id: PIPELINE_ID,
    tasks: ids.map((id, i) => ({
      id, image: 'busybox:latest', command: ['true'], ...(i > 0 ? { depends_on: { [ids[i - 1]]: 'success' } } : {}),
    })),
  });

  log(`chain: warm-up run of ${length} tasks (not counted)`);
  const warm = await runAndWait(cluster.client, PIPELINE_ID, { pollMs: 100 });
  if (warm.run.status !== 'RUN_STATUS_SUCCESSFUL') throw new Error(`chain run ended ${warm.run.status}; see ${cluster.logFile}`);

  const runIds = [];
  const walls = [];
  await cluster.resetStats();
  for (let r = 0; r < runs; r++) {
    const { run, wallMs } = await runAndWait(cluster.client, PIPELINE_ID, { pollMs: 100 });
    if (run.status !== 'RUN_STATUS_SUCCESSFUL') throw new Error(`chain run ${run.id} ended ${run.status}; see ${cluster.logFile}`);
    runIds.push(run.id);
    walls.push(wallMs);
    log(`chain run ${r + 1}/${runs}: ${round(wallMs, 0)} ms`);
  }
  const stats = await cluster.stats();
  const tasks = await taskTimes(cluster, PIPELINE_ID, runIds);
  const edges = edgeLatencies(tasks, dependsOn);
  const parts = edgeBreakdown(PIPELINE_ID, tasks, dependsOn, await cluster.queueEvents());
  const taskDurations = tasks.map((t) => t.ended - t.started); // claim → completion recorded (container lifecycle inside Gofer)
  const runRows = await runTimes(cluster, PIPELINE_ID, runIds);
  return {
    length,
    runs,
    edgesMeasured: edges.length,
    edgeMs: summary(edges),
    edgePartsMs: Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, summary(v)])),
    taskClaimToEndMs: summary(taskDurations),
    runWallMedianMs: median(walls),
    runDbMedianMs: median(runRows.map((r) => r.ended - r.created)),
    /** Share of the run's time spent between tasks rather than in them. */
    edgeShareOfRun: edges.reduce((a, b) => a + b, 0) / runRows.reduce((a, r) => a + (r.ended - r.created), 0),
    instruments: stats,
    target: { edgeP50Ms: 25 },
  };
}
