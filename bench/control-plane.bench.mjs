// Control-plane ceiling: the real engine (Postgres, Redis, BullMQ, logs) with the no-op scheduler, so
// no container work at all. Bursts of runs of a layered DAG measure task runs per second and
// dependency-complete → dependent-started latency under load; runs one at a time measure the same
// latency with an empty queue.
import { setTimeout as sleep } from 'node:timers/promises';
import { edgeBreakdown, edgeLatencies, memoryOf, runAndWait, runTimes, taskTimes } from './support/cluster.mjs';
import { cpuDelta, cpuSnapshot } from './support/cpu.mjs';
import { mapLimit, median, round, summary } from './support/stats.mjs';

const PIPELINE_ID = 'bench-control';
const WIDTH = 4;
const DEPTH = 5;

/**
 * A 4-wide, 5-deep layered DAG (20 tasks): task j of layer k depends on tasks j and j+1 (mod 4) of
 * layer k−1, so every non-root task has two parents and fan-out and fan-in both occur.
 */
function layeredDag() {
  const id = (layer, j) => `l${layer}t${j}`;
  const tasks = [];
  const dependsOn = {};
  for (let layer = 0; layer < DEPTH; layer++) {
    for (let j = 0; j < WIDTH; j++) {
      const parents = layer === 0 ? [] : [id(layer - 1, j), id(layer - 1, (j + 1) % WIDTH)];
      dependsOn[id(layer, j)] = parents;
      tasks.push({
        id: id(layer, j), image: 'busybox:latest', command: ['true'],
        ...(parents.length ? { depends_on: Object.fromEntries(parents.map((p) => [p, 'success'])) } : {}),
      });
    }
  }
  return { tasks, dependsOn };
}

async function waitAllComplete(cluster, runIds, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [{ done }] = await cluster.query(
      `SELECT count(*)::int AS done FROM runs WHERE namespace_id = 'default' AND pipeline_id = $1 AND id = ANY($2::int[]) AND state = 'complete'`,
      [PIPELINE_ID, runIds],
    );
    if (done === runIds.length) return;
    if (Date.now() > deadline) throw new Error(`only ${done} of ${runIds.length} runs completed within ${timeoutMs} ms; see ${cluster.logFile}`);
    await sleep(50);
  }
}

/** Starts `runs` runs as fast as the API takes them (`submitConcurrency` calls in flight), waits for all. */
async function burst(cluster, runs, submitConcurrency) {
  await cluster.resetStats();
  const cpuBefore = cpuSnapshot(cluster.pid);
  const t0 = performance.now();
  const runIds = await mapLimit(Array.from({ length: runs }), submitConcurrency, async () => {
    const { run } = await cluster.client.startRun({ namespaceId: 'default', pipelineId: PIPELINE_ID, variables: {} });
    return run.id;
  });
  const submitMs = performance.now() - t0;
  await waitAllComplete(cluster, runIds, 300_000);
  const observedMs = performance.now() - t0;
  const cpu = cpuDelta(cpuBefore, cpuSnapshot(cluster.pid));
  return { runIds, submitMs, observedMs, cpu, stats: await cluster.stats() };
}

/**
 * Starts runs at a fixed rate (open loop: a slow Gofer does not slow the arrivals), then waits for all.
 * At half the measured capacity the queue stays short, so latency shows the engine, not a backlog.
 */
async function steadyLoad(cluster, runsPerSecond, runs) {
  await cluster.resetStats();
  const cpuBefore = cpuSnapshot(cluster.pid);
  const interval = 1000 / runsPerSecond;
  const t0 = performance.now();
  const started = [];
  for (let i = 0; i < runs; i++) {
    const wait = t0 + i * interval - performance.now();
    if (wait > 0) await sleep(wait);
    started.push(cluster.client.startRun({ namespaceId: 'default', pipelineId: PIPELINE_ID, variables: {} }).then((r) => r.run.id));
  }
  const runIds = await Promise.all(started);
  await waitAllComplete(cluster, runIds, 300_000);
  const cpu = cpuDelta(cpuBefore, cpuSnapshot(cluster.pid));
  return { runIds, cpu, stats: await cluster.stats() };
}

/**
 * @param {{ runs: number, rounds: number, warmupRuns: number, steadySeconds: number, isolatedRuns: number,
 *   submitConcurrency: number, log: (line: string) => void }} options
 */
export async function controlPlaneBench(cluster, options) {
  const { runs, rounds, warmupRuns, isolatedRuns, submitConcurrency, log } = options;
  const { tasks, dependsOn } = layeredDag();
  await cluster.apply({ id: PIPELINE_ID, tasks });
  const tasksPerRun = tasks.length;
  const bootRss = memoryOf(cluster.pid).rss;
  const bootHeap = (await cluster.stats()).memory;

  let peakRss = 0;
  const sampler = setInterval(() => {
    try {
      peakRss = Math.max(peakRss, memoryOf(cluster.pid).rss);
    } catch {
      // process gone
    }
  }, 50);

  try {
    log(`control plane: warm-up burst of ${warmupRuns} runs (not counted)`);
    await burst(cluster, warmupRuns, submitConcurrency);

    const bursts = [];
    const pooledEdges = [];
    for (let r = 0; r < rounds; r++) {
      const b = await burst(cluster, runs, submitConcurrency);
      const rows = await runTimes(cluster, PIPELINE_ID, b.runIds);
      const failed = rows.filter((row) => row.status !== 'successful').length;
      if (failed > 0) throw new Error(`${failed} control-plane runs did not succeed; see ${cluster.logFile}`);
      const firstCreated = Math.min(...rows.map((row) => row.created));
      const lastEnded = Math.max(...rows.map((row) => row.ended));
      const times = await taskTimes(cluster, PIPELINE_ID, b.runIds);
      const edges = edgeLatencies(times, dependsOn);
      pooledEdges.push(...edges);
      const result = {
        round: r + 1,
        taskRuns: runs * tasksPerRun,
        dbSpanMs: lastEnded - firstCreated,
        observedMs: b.observedMs,
        submitMs: b.submitMs,
        taskRunsPerSecond: (runs * tasksPerRun) / ((lastEnded - firstCreated) / 1000),
        edgeMs: summary(edges),
        taskClaimToEndMs: summary(times.map((t) => t.ended - t.started)),
        cpu: b.cpu,
        perTaskRun: perTaskRun(b.stats, runs * tasksPerRun),
        eventLoopDelayMs: b.stats.eventLoopDelayMs,
        goferMemoryAtEnd: b.stats.memory,
      };
      bursts.push(result);
      log(
        `control plane burst ${r + 1}/${rounds}: ${result.taskRuns} task runs in ${round(result.dbSpanMs, 0)} ms = ` +
          `${round(result.taskRunsPerSecond, 0)}/s; edge p50 ${round(result.edgeMs.p50)} ms, p99 ${round(result.edgeMs.p99)} ms`,
      );
    }

    // Half the measured capacity, as a steady stream of runs for about `steadySeconds`.
    const capacity = median(bursts.map((b) => b.taskRunsPerSecond));
    const steadyRunsPerSecond = capacity / 2 / tasksPerRun;
    const steadyRuns = Math.max(10, Math.min(200, Math.round(steadyRunsPerSecond * options.steadySeconds)));
    log(`control plane: steady load at half capacity, ${steadyRuns} runs at ${round(steadyRunsPerSecond, 2)} runs/s`);
    const steady = await steadyLoad(cluster, steadyRunsPerSecond, steadyRuns);
    const steadyFailed = (await runTimes(cluster, PIPELINE_ID, steady.runIds)).filter((row) => row.status !== 'successful').length;
    if (steadyFailed > 0) throw new Error(`${steadyFailed} steady-load runs did not succeed; see ${cluster.logFile}`);
    const steadyTimes = await taskTimes(cluster, PIPELINE_ID, steady.runIds);
    const steadyParts = edgeBreakdown(PIPELINE_ID, steadyTimes, dependsOn, await cluster.queueEvents());
    const steadyResult = {
      runs: steadyRuns,
      runsPerSecond: steadyRunsPerSecond,
      taskRunsPerSecondOffered: steadyRunsPerSecond * tasksPerRun,
      edgeMs: summary(edgeLatencies(steadyTimes, dependsOn)),
      edgePartsMs: Object.fromEntries(Object.entries(steadyParts).map(([k, v]) => [k, summary(v)])),
      taskClaimToEndMs: summary(steadyTimes.map((t) => t.ended - t.started)),
      cpu: steady.cpu,
      perTaskRun: perTaskRun(steady.stats, steadyRuns * tasksPerRun),
      eventLoopDelayMs: steady.stats.eventLoopDelayMs,
    };
    log(`control plane steady load: edge p50 ${round(steadyResult.edgeMs.p50)} ms, p99 ${round(steadyResult.edgeMs.p99)} ms`);

    // One run at a time: the queue holds at most one layer, so the latency is the engine's own.
    log(`control plane: ${isolatedRuns} runs one at a time`);
    await cluster.resetStats();
    const isolatedIds = [];
    for (let i = 0; i < isolatedRuns; i++) {
      const { run } = await runAndWait(cluster.client, PIPELINE_ID, { pollMs: 100 });
      if (run.status !== 'RUN_STATUS_SUCCESSFUL') throw new Error(`run ${run.id} ended ${run.status}; see ${cluster.logFile}`);
      isolatedIds.push(run.id);
    }
    const isolatedStats = await cluster.stats();
    const isolatedTimes = await taskTimes(cluster, PIPELINE_ID, isolatedIds);
    const isolatedEdges = edgeLatencies(isolatedTimes, dependsOn);
    const isolatedParts = edgeBreakdown(PIPELINE_ID, isolatedTimes, dependsOn, await cluster.queueEvents());
    const isolatedRuns_ = await runTimes(cluster, PIPELINE_ID, isolatedIds);

    const memory = memoryOf(cluster.pid);
    return {
      dag: `${WIDTH}-wide, ${DEPTH}-deep layered DAG (${tasksPerRun} tasks; each non-root task depends on 2 tasks of the previous layer)`,
      runsPerBurst: runs,
      bursts,
      taskRunsPerSecondMedian: median(bursts.map((b) => b.taskRunsPerSecond)),
      burstEdgeMs: summary(pooledEdges),
      steady: steadyResult,
      isolated: {
        runs: isolatedRuns,
        edgeMs: summary(isolatedEdges),
        edgePartsMs: Object.fromEntries(Object.entries(isolatedParts).map(([k, v]) => [k, summary(v)])),
        taskClaimToEndMs: summary(isolatedTimes.map((t) => t.ended - t.started)),
        runMedianMs: median(isolatedRuns_.map((r) => r.ended - r.created)),
        perTaskRun: perTaskRun(isolatedStats, isolatedRuns * tasksPerRun),
        eventLoopDelayMs: isolatedStats.eventLoopDelayMs,
      },
      memory: { bootRssBytes: bootRss, bootHeapUsedBytes: bootHeap.heapUsed, bootHeapTotalBytes: bootHeap.heapTotal, peakRssSampledBytes: peakRss, vmHwmBytes: memory.hwm, finalRssBytes: memory.rss },
      targets: { taskRunsPerSecond: 500, edgeP50Ms: 10, edgeP99Ms: 50, peakRssBytes: 300 * 1024 * 1024 },
    };
  } finally {
    clearInterval(sampler);
  }
}

/**
 * The instruments' readings divided by the task runs they served: how many of each call one task run
 * costs, how long one call takes on average, and the time per task run.
 */
function perTaskRun(stats, taskRuns) {
  const timings = {};
  for (const [name, t] of Object.entries(stats.timings)) {
    timings[name] = { perTaskRun: t.count / taskRuns, meanMs: t.totalMs / t.count, maxMs: t.maxMs, msPerTaskRun: t.totalMs / taskRuns };
  }
  const counts = {};
  for (const [name, n] of Object.entries(stats.counts)) counts[name] = n / taskRuns;
  return { timings, counts };
}
