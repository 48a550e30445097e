// Gofer benchmarks: `npm run bench` (builds first). Prints a report and writes it as JSON to
// bench/results/. These measure, they never fail on a number: a missed target is reported as such.
//
//   node bench/run.mjs [fan-out] [chain] [control-plane]     (default: all three)
//   GOFER_BENCH_CPU_PROFILE=1 node bench/run.mjs ...        (also writes V8 CPU profiles of Gofer)
//
// Everything talks to 127.0.0.1 only (Postgres :5432, Redis :6379, Docker's unix socket), and every
// loop is bounded in count; a whole run takes about 6–10 minutes on a 2-core machine.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { chainBench } from './chain.bench.mjs';
import { controlPlaneBench } from './control-plane.bench.mjs';
import { fanOutBench } from './fan-out.bench.mjs';
import { calibrate } from './support/calibration.mjs';
import { docker, RESULTS_DIR, startCluster } from './support/cluster.mjs';
import { round } from './support/stats.mjs';

const SETTINGS = {
  fanOut: { tasks: 50, concurrency: 8, rounds: 3 },
  chain: { length: 20, runs: 5 },
  controlPlane: { runs: 100, rounds: 3, warmupRuns: 20, isolatedRuns: 10, submitConcurrency: 8, workerConcurrency: 64 },
};
const ALL = ['fan-out', 'chain', 'control-plane'];

const selected = process.argv.slice(2);
for (const name of selected) {
  if (!ALL.includes(name)) {
    process.stderr.write(`bench: unknown benchmark "${name}"; choose from ${ALL.join(', ')}\n`);
    process.exit(2);
  }
}
const wanted = selected.length > 0 ? selected : ALL;
const started = Date.now();
const log = (line) => process.stdout.write(`[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s] ${line}\n`);

const environment = {
  date: new Date().toISOString(),
  node: process.version,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model ?? 'unknown',
  memoryGiB: round(totalmem() / 2 ** 30, 1),
  docker: await docker.version().then((v) => `${v.Version} (API ${v.ApiVersion})`, () => 'unreachable'),
};
process.stdout.write(
  `Gofer benchmarks — node ${environment.node}, ${environment.cpus} CPUs (${environment.cpuModel}), ` +
    `${environment.memoryGiB} GiB, Docker ${environment.docker}\n\n`,
);

if (wanted.some((name) => name !== 'control-plane')) {
  const images = await docker.listImages({ filters: { reference: ['busybox:latest'] } });
  if (images.length === 0) {
    process.stderr.write('bench: image busybox:latest is missing; build it with: node scripts/test-images.mjs\n');
    process.exit(1);
  }
}

const results = { environment, settings: SETTINGS, calibration: {} };

if (wanted.includes('fan-out') || wanted.includes('chain')) {
  results.calibration.docker = await calibrate();
  const concurrency = SETTINGS.fanOut.concurrency;
  const cluster = await startCluster({ name: 'docker', scheduler: 'docker', env: { GOFER_WORKER_CONCURRENCY: String(concurrency) } });
  try {
    if (wanted.includes('fan-out')) results.fanOut = await fanOutBench(cluster, { ...SETTINGS.fanOut, log });
    if (wanted.includes('chain')) results.chain = await chainBench(cluster, { ...SETTINGS.chain, log });
  } finally {
    await cluster.destroy();
  }
}

if (wanted.includes('control-plane')) {
  results.calibration.noop = await calibrate();
  const { workerConcurrency, ...options } = SETTINGS.controlPlane;
  const cluster = await startCluster({ name: 'noop', scheduler: 'noop', env: { GOFER_WORKER_CONCURRENCY: String(workerConcurrency) } });
  try {
    results.controlPlane = await controlPlaneBench(cluster, { ...options, log });
  } finally {
    await cluster.destroy();
  }
}

results.totalSeconds = (Date.now() - started) / 1000;
report(results);
mkdirSync(RESULTS_DIR, { recursive: true });
const file = join(RESULTS_DIR, `bench-${environment.date.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(join(RESULTS_DIR, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
process.stdout.write(`\nJSON: ${file}\nGofer process logs: ${join(RESULTS_DIR, 'gofer-{docker,noop}.log')}\n`);

function report(r) {
  const out = (text = '') => process.stdout.write(`${text}\n`);
  const ms = (v) => `${round(v, 1)} ms`;
  const verdict = (ok) => (ok ? 'met' : 'MISSED');

  out('\nMachine before each benchmark (it is shared: contention slows everything below)');
  for (const [name, c] of Object.entries(r.calibration)) {
    out(
      `  ${name === 'docker' ? 'fan-out/chain' : 'control-plane'}: load ${round(c.loadAverage1m, 1)}, ` +
        `${round(c.busyCoresWhileIdle, 2)} of ${r.environment.cpus} cores busy with other work, ` +
        `Postgres SELECT 1 p50/p99 ${round(c.postgresSelect1Ms.p50, 2)}/${round(c.postgresSelect1Ms.p99, 2)} ms, ` +
        `Redis PING p50/p99 ${round(c.redisPingMs.p50, 2)}/${round(c.redisPingMs.p99, 2)} ms`,
    );
  }

  const rows = [];
  if (r.fanOut) {
    const f = r.fanOut;
    rows.push(['fan-out', `Gofer wall, ${f.tasks} containers @ ${f.concurrency} (median of ${f.rounds.length})`, ms(f.goferMedianMs), '', '']);
    rows.push(['fan-out', '  same, run created → ended in Postgres', ms(f.goferDbMedianMs), '', '']);
    rows.push(['fan-out', `bare Docker loop wall (median of ${f.rounds.length})`, ms(f.bareMedianMs), '', '']);
    rows.push(['fan-out', 'ratio Gofer / bare (of the medians)', round(f.ratioOfMedians, 3), `≤ ${f.target}`, verdict(f.ratioOfMedians <= f.target)]);
    rows.push(['fan-out', '  per-round ratios', f.rounds.map((x) => round(x.ratio, 3)).join(', '), '', '']);
  }
  if (r.chain) {
    const c = r.chain;
    rows.push(['chain', `edge overhead p50 (${c.edgesMeasured} edges, ${c.runs} runs)`, ms(c.edgeMs.p50), `≤ ${c.target.edgeP50Ms} ms`, verdict(c.edgeMs.p50 <= c.target.edgeP50Ms)]);
    rows.push(['chain', 'edge overhead p99 / max', `${ms(c.edgeMs.p99)} / ${ms(c.edgeMs.max)}`, '', '']);
    rows.push(['chain', 'task claimed → completion recorded, p50', ms(c.taskClaimToEndMs.p50), '', '']);
    rows.push(['chain', `run of ${c.length} tasks, median wall`, ms(c.runWallMedianMs), '', '']);
  }
  if (r.controlPlane) {
    const p = r.controlPlane;
    const t = p.targets;
    rows.push(['control', `task runs/s (median of ${p.bursts.length} bursts of ${p.runsPerBurst} runs)`, round(p.taskRunsPerSecondMedian, 0), `≥ ${t.taskRunsPerSecond}/s`, verdict(p.taskRunsPerSecondMedian >= t.taskRunsPerSecond)]);
    rows.push(['control', '  per burst', p.bursts.map((b) => round(b.taskRunsPerSecond, 0)).join(', '), '', '']);
    rows.push(['control', `dep done → dependent started p50, runs one at a time (${p.isolated.edgeMs.n} edges)`, ms(p.isolated.edgeMs.p50), `≤ ${t.edgeP50Ms} ms`, verdict(p.isolated.edgeMs.p50 <= t.edgeP50Ms)]);
    rows.push(['control', '  p99, runs one at a time', ms(p.isolated.edgeMs.p99), `≤ ${t.edgeP99Ms} ms`, verdict(p.isolated.edgeMs.p99 <= t.edgeP99Ms)]);
    rows.push(['control', `dep done → dependent started p50, in the bursts (${p.burstEdgeMs.n} edges)`, ms(p.burstEdgeMs.p50), `≤ ${t.edgeP50Ms} ms`, verdict(p.burstEdgeMs.p50 <= t.edgeP50Ms)]);
    rows.push(['control', '  p99, in the bursts', ms(p.burstEdgeMs.p99), `≤ ${t.edgeP99Ms} ms`, verdict(p.burstEdgeMs.p99 <= t.edgeP99Ms)]);
    const mib = (b) => `${round(b / 2 ** 20, 0)} MiB`;
    rows.push(['control', 'peak RSS of the Gofer process (API + worker in one)', `${mib(p.memory.vmHwmBytes)} (sampled ${mib(p.memory.peakRssSampledBytes)})`, `≤ ${mib(t.peakRssBytes)}`, verdict(p.memory.vmHwmBytes <= t.peakRssBytes)]);
  }
  out('\nResults');
  table(['benchmark', 'metric', 'measured', 'target', 'verdict'], rows);

  out('\nWhere the time goes');
  if (r.fanOut) {
    const f = r.fanOut;
    const calls = dockerCallsPerTask(f.goferInstruments.at(-1), f.tasks);
    out(`  fan-out: Docker API requests per container, Gofer (last round): ${calls.total} — ${calls.detail}`);
    out('           bare loop: 5 (create, start, wait, logs, remove)');
    const g = f.cpuMsPerContainer.gofer;
    const b = f.cpuMsPerContainer.bare;
    out(
      `           CPU ms per container, Gofer side: gofer ${round(g.goferProcess)}, docker ${round(g.docker)}, postgres ${round(g.postgres)}, ` +
        `other work ${round(g.others)}; bare side: driver ${round(b.driver)}, docker ${round(b.docker)}, other work ${round(b.others)}`,
    );
  }
  if (r.chain) {
    const parts = r.chain.edgePartsMs;
    out(
      `  chain:   edge p50 split: parent ended → child job queued ${ms(parts.endedToAdded.p50)}, queued → taken by a worker ` +
        `${ms(parts.addedToActive.p50)}, taken → claim statement ${ms(parts.activeToStarted.p50)}`,
    );
    const timing = r.chain.instruments.timings;
    const mean = (name) => (timing[name] ? ms(timing[name].totalMs / timing[name].count) : 'n/a');
    out(
      `           mean per task: completeAttempt ${mean('engine.completeAttempt')}, enqueue ${mean('queue.enqueue')}, ` +
        `claimAttempt ${mean('engine.claimAttempt')}, whole attempt ${mean('worker.process (whole attempt)')}`,
    );
  }
  if (r.controlPlane) {
    const p = r.controlPlane;
    const parts = p.isolated.edgePartsMs;
    out(
      `  control, runs one at a time: edge p50 split: parent ended → child job queued ${ms(parts.endedToAdded.p50)}, ` +
        `queued → taken ${ms(parts.addedToActive.p50)}, taken → claim statement ${ms(parts.activeToStarted.p50)}`,
    );
    for (const [label, data] of [['runs one at a time', p.isolated], ['burst 1', p.bursts[0]]]) {
      const t = data.perTaskRun.timings;
      const statements = Object.entries(t).filter(([k]) => k.startsWith('pg ') && k !== 'pg pool wait');
      const nStatements = statements.reduce((a, [, v]) => a + v.perTaskRun, 0);
      const statementMs = statements.reduce((a, [, v]) => a + v.msPerTaskRun, 0);
      const redis = Object.entries(data.perTaskRun.counts).filter(([k]) => k.startsWith('redis ') && k !== 'redis bzpopmin');
      const nRedis = redis.reduce((a, [, v]) => a + v, 0);
      const step = (name) => (t[name] ? ms(t[name].meanMs) : 'n/a');
      out(
        `  control, ${label}: per task run ${round(nStatements, 1)} SQL statements (${ms(statementMs)} waiting on them), ` +
          `${round(nRedis, 1)} Redis commands, pool wait ${ms(t['pg pool wait']?.msPerTaskRun ?? 0)}; ` +
          `claim ${step('engine.claimAttempt')}, complete ${step('engine.completeAttempt')}, whole attempt ${step('worker.process (whole attempt)')}; ` +
          `event-loop delay p99 ${ms(data.eventLoopDelayMs.p99)}`,
      );
    }
    const cpu = p.bursts.map((b) => b.cpu);
    const taskRuns = p.bursts.reduce((a, b) => a + b.taskRuns, 0);
    const wall = cpu.reduce((a, c) => a + c.wallSeconds, 0);
    const sum = (name) => cpu.reduce((a, c) => a + c.cpuSeconds[name], 0);
    out(
      `  control, bursts: CPU ms per task run: gofer ${round((sum('gofer') / taskRuns) * 1000, 2)}, postgres ${round((sum('postgres') / taskRuns) * 1000, 2)}, ` +
        `redis ${round((sum('redis') / taskRuns) * 1000, 2)}; cores busy: gofer ${round(sum('gofer') / wall, 2)}, postgres ${round(sum('postgres') / wall, 2)}, ` +
        `other work ${round(sum('others') / wall, 2)}, whole machine ${round(sum('machineBusy') / wall, 2)} of ${r.environment.cpus}`,
    );
  }
  out(`\ntotal ${round(r.totalSeconds, 0)} s`);
}

function dockerCallsPerTask(stats, tasks) {
  const calls = Object.entries(stats.timings).filter(([k]) => k.startsWith('docker '));
  const total = calls.reduce((a, [, v]) => a + v.count, 0) / tasks;
  const detail = calls.map(([k, v]) => `${k.slice('docker '.length)} ×${round(v.count / tasks, 2)} (${round(v.totalMs / v.count, 1)} ms)`).join(', ');
  return { total: round(total, 2), detail };
}

function table(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => String(row[i]).length)));
  const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ').trimEnd();
  process.stdout.write(`${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  for (const row of rows) process.stdout.write(`${line(row)}\n`);
}
