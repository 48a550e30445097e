// Scale-out: the control plane's ceiling with 1, 2 and 4 worker processes and 1 and 2 API processes,
// each a separate OS process running the real engine (Postgres, Redis, BullMQ, logs) with the no-op
// scheduler. Bursts of runs of a fan-out DAG are started over gRPC round-robin across the API
// processes; the report gives task runs/s and CPU per task run by process kind, so the cost of going
// distributed is known.
import { setTimeout as sleep } from 'node:timers/promises';
import { edgeLatencies, runTimes, taskTimes } from './support/cluster.mjs';
import { cpuSnapshot, processCpuSeconds } from './support/cpu.mjs';
import { startScaleCluster } from './support/scale-cluster.mjs';
import { mapLimit, round, summary } from './support/stats.mjs';

const PIPELINE_ID = 'bench-scale';
const FAN_OUT = 16;

/** One root, 16 children of it, one join of all 16: 18 tasks, 16 fan-out edges and a 16-way fan-in. */
function fanOutDag() {
  const children = Array.from({ length: FAN_OUT }, (_, i) => `c${i}`);
  const dependsOn = { root: [], ...Object.fromEntries(children.map((c) => [c, ['root']])), join: children };
  const tasks = Object.entries(dependsOn).map(([id, parents]) => ({
    id, image: 'busybox:latest', command: ['true'],
    ...(parents.length ? { depends_on: Object.fromEntries(parents.map((p) => [p, 'success'])) } : {}),
  }));
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
    if (Date.now() > deadline) throw new Error(`only ${done} of ${runIds.length} runs completed within ${timeoutMs} ms; see bench/results/gofer-scale-*.log`);
    await sleep(50);
  }
}

/**
 * CPU seconds used so far by each Gofer process, by this cluster's Postgres backends plus Postgres's
 * shared background processes (WAL writer, checkpointer, …), by Redis, and by the whole machine.
 */
async function cpuReading(cluster) {
  const machine = cpuSnapshot(undefined);
  const gofer = new Map(cluster.processes.map((p) => [p.pid, processCpuSeconds(p.pid) ?? 0]));
  return { machine, gofer };
}

async function cpuSpent(cluster, before, after) {
  const ours = new Set(
    (await cluster.query(
      `SELECT pid FROM pg_stat_activity WHERE datname = $1 OR (datname IS NULL AND backend_type <> 'client backend')`,
      [cluster.database],
    )).map((r) => String(r.pid)),
  );
  // Our own query's backend is one of them, but it sleeps between 50 ms polls: a rounding error.
  let postgres = 0;
  for (const [pid, { group, ticks }] of after.machine.processes) {
    if (group !== 'postgres' || !ours.has(pid)) continue;
    const earlier = before.machine.processes.get(pid);
    postgres += (ticks - (earlier ? earlier.ticks : 0)) / 100;
  }
  let redis = 0;
  let postgresAll = 0;
  let driver = 0;
  let docker = 0;
  for (const [pid, { group, ticks }] of after.machine.processes) {
    const earlier = before.machine.processes.get(pid);
    const seconds = (ticks - (earlier && earlier.group === group ? earlier.ticks : 0)) / 100;
    if (group === 'redis') redis += seconds;
    if (group === 'postgres') postgresAll += seconds;
    if (group === 'driver') driver += seconds;
    if (group === 'docker') docker += seconds;
  }
  const byKind = { api: 0, worker: 0 };
  for (const p of cluster.processes) byKind[p.kind] += (after.gofer.get(p.pid) ?? 0) - (before.gofer.get(p.pid) ?? 0);
  const machineBusy = (after.machine.machineBusy - before.machine.machineBusy) / 100;
  return {
    wallSeconds: (after.machine.at - before.machine.at) / 1000,
    api: byKind.api,
    worker: byKind.worker,
    postgres,
    redis,
    // Everything else on the machine meanwhile, other Postgres databases included (contention).
    others: Math.max(0, machineBusy - byKind.api - byKind.worker - postgresAll - redis - driver - docker),
    machineBusy,
  };
}

/** Starts `runs` runs, `submitConcurrency` calls in flight, round-robin across the API processes. */
async function burst(cluster, runs, submitConcurrency) {
  await cluster.resetStats();
  const before = await cpuReading(cluster);
  const runIds = await mapLimit(Array.from({ length: runs }), submitConcurrency, async (_, i) => {
    const client = cluster.clients[i % cluster.clients.length];
    const { run } = await client.startRun({ namespaceId: 'default', pipelineId: PIPELINE_ID, variables: {} });
    return run.id;
  });
  await waitAllComplete(cluster, runIds, 300_000);
  const after = await cpuReading(cluster);
  return { runIds, cpu: await cpuSpent(cluster, before, after), stats: await cluster.stats() };
}

/** Sums the instruments' counts of every process of a kind: SQL statements, Redis commands, socket writes. */
function calls(stats, kind) {
  const total = { statements: 0, postgresWrites: 0, redisCommands: 0, redisWrites: 0 };
  for (const { kind: k, stats: s } of stats) {
    if (kind && k !== kind) continue;
    for (const [name, t] of Object.entries(s.timings)) if (name.startsWith('pg ') && name !== 'pg pool wait') total.statements += t.count;
    for (const [name, n] of Object.entries(s.counts)) {
      // bzpopmin is BullMQ's blocking wait for the next job, not work done for a task run.
      if (name.startsWith('redis ') && name !== 'redis bzpopmin') total.redisCommands += n;
    }
    total.postgresWrites += s.counts['socket writes postgres'] ?? 0;
    total.redisWrites += s.counts['socket writes redis'] ?? 0;
  }
  return total;
}

/** Every instrument's count by name (`pg UPDATE`, `redis evalsha`, …) over all processes, per task run. */
function callsByName(stats, taskRuns) {
  const byName = {};
  for (const { kind, stats: s } of stats) {
    const add = (name, n) => (byName[`${kind} ${name}`] = (byName[`${kind} ${name}`] ?? 0) + n / taskRuns);
    for (const [name, t] of Object.entries(s.timings)) if (name.startsWith('pg ')) add(name, t.count);
    for (const [name, n] of Object.entries(s.counts)) add(name, n);
  }
  return Object.fromEntries(Object.entries(byName).sort(([a], [b]) => a.localeCompare(b)));
}

/**
 * @param {{ configurations: Array<{ apis: number, workers: number }>, runs: number, rounds: number, warmupRuns: number,
 *   submitConcurrency: number, workerConcurrency: number, pgPoolMax: number, log: (line: string) => void }} options
 */
export async function scaleOutBench(options) {
  const { configurations, runs, rounds, warmupRuns, submitConcurrency, workerConcurrency, pgPoolMax, log } = options;
  const { tasks, dependsOn } = fanOutDag();
  const tasksPerRun = tasks.length;
  const results = [];
  for (const { apis, workers } of configurations) {
    const label = `${apis} API / ${workers} worker${workers > 1 ? 's' : ''}`;
    const t0 = performance.now();
    const cluster = await startScaleCluster({ apis, workers, env: {
      GOFER_WORKER_CONCURRENCY: String(workerConcurrency), GOFER_BENCH_PG_POOL_MAX: String(pgPoolMax),
    } });
    try {
      await cluster.apply({ id: PIPELINE_ID, tasks });
      log(`scale-out ${label}: booted in ${round((performance.now() - t0) / 1000, 1)} s; warm-up burst of ${warmupRuns} runs (not counted)`);
      await burst(cluster, warmupRuns, submitConcurrency);
      const measured = [];
      for (let r = 0; r < rounds; r++) {
        const b = await burst(cluster, runs, submitConcurrency);
        const rows = await runTimes(cluster, PIPELINE_ID, b.runIds);
        const failed = rows.filter((row) => row.status !== 'successful').length;
        if (failed > 0) throw new Error(`${failed} scale-out runs did not succeed; see bench/results/gofer-scale-*.log`);
        const spanMs = Math.max(...rows.map((row) => row.ended)) - Math.min(...rows.map((row) => row.created));
        const edges = edgeLatencies(await taskTimes(cluster, PIPELINE_ID, b.runIds), dependsOn);
        measured.push({ taskRuns: runs * tasksPerRun, spanMs, edges, cpu: b.cpu, stats: b.stats });
        log(`scale-out ${label}, burst ${r + 1}/${rounds}: ${runs * tasksPerRun} task runs in ${round(spanMs, 0)} ms = ${round((runs * tasksPerRun) / (spanMs / 1000), 0)}/s`);
      }
      const taskRuns = measured.reduce((a, m) => a + m.taskRuns, 0);
      const cpu = (name) => measured.reduce((a, m) => a + m.cpu[name], 0);
      const perTaskRunMs = (seconds) => (seconds / taskRuns) * 1000;
      const wall = cpu('wallSeconds');
      const sumCalls = (kind) => {
        const parts = measured.map((m) => calls(m.stats, kind));
        return Object.fromEntries(Object.keys(parts[0]).map((k) => [k, parts.reduce((a, p) => a + p[k], 0) / taskRuns]));
      };
      results.push({
        apis,
        workers,
        // The same configuration measured again (the baseline at the end shows how far the machine drifted).
        repeat: results.some((r) => r.apis === apis && r.workers === workers),
        taskRuns,
        taskRunsPerSecond: taskRuns / (measured.reduce((a, m) => a + m.spanMs, 0) / 1000),
        perBurstTaskRunsPerSecond: measured.map((m) => m.taskRuns / (m.spanMs / 1000)),
        cpuMsPerTaskRun: {
          api: perTaskRunMs(cpu('api')),
          worker: perTaskRunMs(cpu('worker')),
          postgres: perTaskRunMs(cpu('postgres')),
          redis: perTaskRunMs(cpu('redis')),
          total: perTaskRunMs(cpu('api') + cpu('worker') + cpu('postgres') + cpu('redis')),
        },
        otherWorkCores: cpu('others') / wall,
        machineBusyCores: cpu('machineBusy') / wall,
        edgeMs: summary(measured.flatMap((m) => m.edges)),
        callsPerTaskRun: { api: sumCalls('api'), worker: sumCalls('worker'), all: sumCalls(undefined) },
        callsPerTaskRunByName: callsByName(measured.flatMap((m) => m.stats), taskRuns),
      });
    } finally {
      await cluster.destroy();
    }
  }
  const base = results.find((r) => r.apis === 1 && r.workers === 1) ?? results[0];
  for (const r of results) {
    r.vsBaseline = { throughput: r.taskRunsPerSecond / base.taskRunsPerSecond, cpuPerTaskRun: r.cpuMsPerTaskRun.total / base.cpuMsPerTaskRun.total };
  }
  return {
    dag: `fan-out DAG: 1 root → ${FAN_OUT} children → 1 join (${tasksPerRun} tasks)`,
    runsPerBurst: runs,
    rounds,
    warmupRuns,
    submitConcurrency,
    workerConcurrency,
    pgPoolMax,
    configurations: results,
  };
}
