// Gofer benchmarks: `npm run bench` (builds first). Prints a report and writes it as JSON to
// bench/results/. These measure, they never fail on a number: a missed target is reported as such.
//
//   node bench/run.mjs [fan-out] [chain] [control-plane]     (default: all three)
//
// Everything talks to 127.0.0.1 only (Postgres :5432, Redis :6379, Docker's unix socket), and every
// loop is bounded in count; a whole run takes a few minutes on a 2-core machine.
import { writeFileSync, mkdirSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { chainBench } from './chain.bench.mjs';
import { controlPlaneBench } from './control-plane.bench.mjs';
import { fanOutBench } from './fan-out.bench.mjs';
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

const results = { environment, settings: SETTINGS };

if (wanted.includes('fan-out') || wanted.includes('chain')) {
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
process.stdout.write(`\nJSON: ${file}\nGofer process logs: ${join(RESULTS_DIR, 'gofer-*.log')}\n`);

function report(r) {
  const rows = [];
  const ms = (v) => `${round(v, 1)} ms`;
  const verdict = (ok) => (ok ? 'met' : 'MISSED');
  if (r.fanOut) {
    const f = r.fanOut;
    rows.push(['fan-out', `Gofer wall, ${f.tasks} containers @ ${f.concurrency} (median of ${f.rounds.length})`, ms(f.goferMedianMs), '', '']);
    rows.push(['fan-out', '  same, run created → ended in Postgres', ms(f.goferDbMedianMs), '', '']);
    rows.push(['fan-out', `bare Docker loop wall (median of ${f.rounds.length})`, ms(f.bareMedianMs), '', '']);
    rows.push(['fan-out', 'ratio Gofer / bare (of medians)', round(f.ratioOfMedians, 3), `≤ ${f.target}`, verdict(f.ratioOfMedians <= f.target)]);
    rows.push(['fan-out', '  per-round ratios', f.rounds.map((x) => round(x.ratio, 3)).join(', '), '', '']);
  }
  if (r.chain) {
    const c = r.chain;
    rows.push(['chain', `edge overhead p50 (${c.edgesMeasured} edges, ${c.runs} runs)`, ms(c.edgeMs.p50), `≤ ${c.target.edgeP50Ms} ms`, verdict(c.edgeMs.p50 <= c.target.edgeP50Ms)]);
    rows.push(['chain', 'edge overhead p99 / max', `${ms(c.edgeMs.p99)} / ${ms(c.edgeMs.max)}`, '', '']);
    rows.push(['chain', 'task claim → completion recorded, p50', ms(c.taskClaimToEndMs.p50), '', '']);
    rows.push(['chain', `run of ${c.length} tasks, median wall`, ms(c.runWallMedianMs), '', '']);
  }
  if (r.controlPlane) {
    const p = r.controlPlane;
    const t = p.targets;
    rows.push(['control', `task runs/s (median of ${p.bursts.length} bursts of ${p.runsPerBurst} runs)`, round(p.taskRunsPerSecondMedian, 0), `≥ ${t.taskRunsPerSecond}/s`, verdict(p.taskRunsPerSecondMedian >= t.taskRunsPerSecond)]);
    rows.push(['control', '  per burst', p.bursts.map((b) => round(b.taskRunsPerSecond, 0)).join(', '), '', '']);
    rows.push(['control', `dep → dependent started p50, isolated runs (${p.isolated.edgeMs.n} edges)`, ms(p.isolated.edgeMs.p50), `≤ ${t.edgeP50Ms} ms`, verdict(p.isolated.edgeMs.p50 <= t.edgeP50Ms)]);
    rows.push(['control', '  p99, isolated runs', ms(p.isolated.edgeMs.p99), `≤ ${t.edgeP99Ms} ms`, verdict(p.isolated.edgeMs.p99 <= t.edgeP99Ms)]);
    rows.push(['control', `dep → dependent started p50, under burst (${p.burstEdgeMs.n} edges)`, ms(p.burstEdgeMs.p50), `≤ ${t.edgeP50Ms} ms`, verdict(p.burstEdgeMs.p50 <= t.edgeP50Ms)]);
    rows.push(['control', '  p99, under burst', ms(p.burstEdgeMs.p99), `≤ ${t.edgeP99Ms} ms`, verdict(p.burstEdgeMs.p99 <= t.edgeP99Ms)]);
    rows.push(['control', 'task claim → completion, p50 isolated / burst', `${ms(p.isolated.taskClaimToEndMs.p50)} / ${ms(p.bursts[0].taskClaimToEndMs.p50)}`, '', '']);
    const mib = (b) => `${round(b / 2 ** 20, 0)} MiB`;
    rows.push(['control', 'peak RSS of the Gofer process (API + worker)', `${mib(p.memory.vmHwmBytes)} (sampled ${mib(p.memory.peakRssSampledBytes)})`, `≤ ${mib(t.peakRssBytes)}`, verdict(p.memory.vmHwmBytes <= t.peakRssBytes)]);
    const cpu = p.bursts.map((b) => b.cpu);
    const share = (name) => round(cpu.reduce((a, c) => a + c.cpuSeconds[name], 0) / cpu.reduce((a, c) => a + c.wallSeconds, 0), 2);
    rows.push(['control', 'CPU cores busy during bursts: gofer/postgres/redis/driver/machine', ['gofer', 'postgres', 'redis', 'driver', 'machineBusy'].map(share).join(' / '), `of ${r.environment.cpus}`, '']);
  }
  const header = ['benchmark', 'metric', 'measured', 'target', 'verdict'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => String(row[i]).length)));
  const line = (cells) => cells.map((c, i) => String(c).padEnd(widths[i])).join('  ').trimEnd();
  process.stdout.write(`\n${line(header)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n`);
  for (const row of rows) process.stdout.write(`${line(row)}\n`);
  process.stdout.write(`\ntotal ${round(r.totalSeconds, 0)} s\n`);
}
