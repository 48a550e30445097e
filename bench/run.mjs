// Gofer benchmarks: `npm run bench` (builds first). Prints a report and writes it as JSON to
// bench/results/. These measure, they never fail on a number: a missed target is reported as such.
//
//   node bench/run.mjs [fan-out] [chain] [control-plane] [trigger-event] [scale-out] [nomad-fan-out] [web-ui]   (default: all seven)
//   GOFER_BENCH_CPU_PROFILE=1 node bench/run.mjs ...        (also writes V8 CPU profiles of Gofer)
//
// Everything talks to 127.0.0.1 only (Postgres :5432, Redis :6379, Docker's unix socket), and every
// loop is bounded in count; a whole run takes about 12–18 minutes on a 2-core machine (trigger-event
// alone under 2, scale-out about 3–4, nomad-fan-out about 2). nomad-fan-out's Nomad is the stand-in of
// apps/nomad-dev, started in this process. web-ui drives /usr/bin/chromium (about 4 minutes).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { chainBench } from './chain.bench.mjs';
import { controlPlaneBench } from './control-plane.bench.mjs';
import { fanOutBench } from './fan-out.bench.mjs';
import { nomadEnv, nomadFanOutBench } from './nomad-fan-out.bench.mjs';
import { scaleOutBench } from './scale-out.bench.mjs';
import { TRIGGER, triggerEventBench } from './trigger-event.bench.mjs';
import { webUiBench, webUiReport } from './web-ui.bench.mjs';
import { calibrate } from './support/calibration.mjs';
import { docker, RESULTS_DIR, startCluster } from './support/cluster.mjs';
import { summarizeProfile } from './support/profile-summary.mjs';
import { round } from './support/stats.mjs';

const SETTINGS = {
  fanOut: { tasks: 50, concurrency: 8, rounds: 5 },
  nomadFanOut: { tasks: 50, concurrency: 8, rounds: 5 },
  chain: { length: 20, runs: 5 },
  controlPlane: { runs: 100, rounds: 3, warmupRuns: 100, steadySeconds: 20, isolatedRuns: 10, submitConcurrency: 8, workerConcurrency: 128 },
  triggerEvent: { events: 200, warmup: 5 },
  scaleOut: {
    configurations: [{ apis: 1, workers: 1 }, { apis: 1, workers: 2 }, { apis: 1, workers: 4 }, { apis: 2, workers: 1 }, { apis: 2, workers: 2 }, { apis: 2, workers: 4 },
      { apis: 1, workers: 1 }], // the baseline again: the machine is shared and its speed drifts
    runs: 80, rounds: 2, warmupRuns: 30, submitConcurrency: 8, workerConcurrency: 64, pgPoolMax: 10,
  },
  webUi: {
    // slowLoadMs: a warm-up load slower than this is the one load of that size measured (to end in minutes).
    dag: { layers: 40, width: 50, baselineLayers: 4, baselineWidth: 5, rounds: 3, pans: 20, slowLoadMs: 20_000 },
    logs: { lines: 700_000, baselineLines: 7_000, rounds: 3, jumps: 15, loadEarlierClicks: 3 }, // ~52 MB and ~0.5 MB
    idleSeconds: 5, liveSeconds: 15, loadTimeoutMs: 180_000, workerConcurrency: 8,
  },
};
const ALL = ['fan-out', 'chain', 'control-plane', 'trigger-event', 'scale-out', 'nomad-fan-out', 'web-ui'];

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

if (wanted.some((name) => name !== 'control-plane' && name !== 'scale-out')) {
  const images = await docker.listImages({ filters: { reference: ['busybox:latest'] } });
  if (images.length === 0) {
    process.stderr.write('bench: image busybox:latest is missing; build it with: node scripts/test-images.mjs\n');
    process.exit(1);
  }
}
if (wanted.includes('trigger-event')) {
  const { version } = JSON.parse(readFileSync(join(import.meta.dirname, '../package.json'), 'utf8'));
  const image = `gofer/trigger-${TRIGGER}:${version}`;
  if ((await docker.listImages({ filters: { reference: [image] } })).length === 0) {
    process.stderr.write(`bench: image ${image} is missing; build it with: node scripts/test-images.mjs\n`);
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
  if (cluster.profileFile) results.profiles = { ...results.profiles, docker: { file: cluster.profileFile, ...summarizeProfile(cluster.profileFile) } };
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
  if (cluster.profileFile) results.profiles = { ...results.profiles, noop: { file: cluster.profileFile, ...summarizeProfile(cluster.profileFile) } };
}

if (wanted.includes('trigger-event')) {
  results.calibration.trigger = await calibrate();
  // Only the trigger the pipeline subscribes to: the other built-ins would be containers that do nothing here.
  const cluster = await startCluster({
    name: 'trigger', scheduler: 'docker', env: { GOFER_BUILTIN_TRIGGERS: TRIGGER, GOFER_BUILTIN_NOTIFIERS: 'none' },
  });
  try {
    results.triggerEvent = await triggerEventBench(cluster, { ...SETTINGS.triggerEvent, log });
  } finally {
    await cluster.destroy();
  }
  if (cluster.profileFile) results.profiles = { ...results.profiles, trigger: { file: cluster.profileFile, ...summarizeProfile(cluster.profileFile) } };
}

if (wanted.includes('scale-out')) {
  results.calibration.scale = await calibrate();
  results.scaleOut = await scaleOutBench({ ...SETTINGS.scaleOut, log });
}

if (wanted.includes('nomad-fan-out')) {
  results.calibration.nomad = await calibrate();
  // Loaded only when wanted: the other benchmarks do not need apps/nomad-dev built.
  const { startNomadStandIn } = await import('../apps/nomad-dev/dist/nomad-stand-in.js');
  const standIn = await startNomadStandIn();
  try {
    const concurrency = SETTINGS.nomadFanOut.concurrency;
    const cluster = await startCluster({
      name: 'nomad', scheduler: 'nomad', env: { GOFER_WORKER_CONCURRENCY: String(concurrency), ...nomadEnv(standIn) },
    });
    try {
      results.nomadFanOut = await nomadFanOutBench(cluster, standIn, { ...SETTINGS.nomadFanOut, log });
    } finally {
      await cluster.destroy();
    }
    if (cluster.profileFile) results.profiles = { ...results.profiles, nomad: { file: cluster.profileFile, ...summarizeProfile(cluster.profileFile) } };
  } finally {
    await standIn.close();
  }
}

if (wanted.includes('web-ui')) {
  results.calibration['web-ui'] = await calibrate();
  results.webUi = await webUiBench({ ...SETTINGS.webUi, log });
}

results.totalSeconds = (Date.now() - started) / 1000;
report(results);
mkdirSync(RESULTS_DIR, { recursive: true });
const file = join(RESULTS_DIR, `bench-${environment.date.replace(/[:.]/g, '-')}.json`);
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
writeFileSync(join(RESULTS_DIR, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
process.stdout.write(`\nJSON: ${file}\nGofer process logs: ${join(RESULTS_DIR, 'gofer-{docker,noop,trigger,nomad,web}.log')}, gofer-scale-{api,worker}<n>.log (last configuration)\n`);

function report(r) {
  const out = (text = '') => process.stdout.write(`${text}\n`);
  const ms = (v) => `${round(v, 1)} ms`;
  const verdict = (ok) => (ok ? 'met' : 'MISSED');
  const mib = (b) => `${round(b / 2 ** 20, 0)} MiB`;

  out('\nMachine before each benchmark (it is shared: contention slows everything below)');
  for (const [name, c] of Object.entries(r.calibration)) {
    out(
      `  ${{ docker: 'fan-out/chain', noop: 'control-plane', trigger: 'trigger-event', scale: 'scale-out', nomad: 'nomad-fan-out' }[name] ?? name}: load ${round(c.loadAverage1m, 1)}, ` +
        `${round(c.busyCoresWhileIdle, 2)} of ${r.environment.cpus} cores busy with other work, ` +
        `Postgres SELECT 1 p50/p99 ${round(c.postgresSelect1Ms.p50, 2)}/${round(c.postgresSelect1Ms.p99, 2)} ms, ` +
        `Redis PING p50/p99 ${round(c.redisPingMs.p50, 2)}/${round(c.redisPingMs.p99, 2)} ms`,
    );
  }

  const rows = [];
  if (r.fanOut) {
    const f = r.fanOut;
    rows.push(['fan-out', `Gofer wall, ${f.tasks} containers @ ${f.concurrency}: run created → ended (median of ${f.rounds.length})`, ms(f.goferMedianMs), '', '']);
    rows.push(['fan-out', '  client view: StartRun → GetRun (100 ms polls) sees it complete', ms(f.goferClientMedianMs), '', '']);
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
    const latency = (label, e) => {
      rows.push(['control', `dep done → dependent started p50, ${label} (${e.n} edges)`, ms(e.p50), `≤ ${t.edgeP50Ms} ms`, verdict(e.p50 <= t.edgeP50Ms)]);
      rows.push(['control', `  p99, ${label}`, ms(e.p99), `≤ ${t.edgeP99Ms} ms`, verdict(e.p99 <= t.edgeP99Ms)]);
    };
    latency('runs one at a time', p.isolated.edgeMs);
    latency(`steady ${round(p.steady.taskRunsPerSecondOffered, 0)} task runs/s (half capacity)`, p.steady.edgeMs);
    latency('in the bursts (queue backlog)', p.burstEdgeMs);
    rows.push(['control', 'peak RSS of the Gofer process (API + worker in one)', `${mib(p.memory.vmHwmBytes)} (sampled ${mib(p.memory.peakRssSampledBytes)})`, `≤ ${mib(t.peakRssBytes)}`, verdict(p.memory.vmHwmBytes <= t.peakRssBytes)]);
    const heap = p.bursts[0].goferMemoryAtEnd;
    rows.push(['control', '  RSS; V8 heap used/total: after boot → end of burst 1', `${mib(p.memory.bootRssBytes)}; ${mib(p.memory.bootHeapUsedBytes)}/${mib(p.memory.bootHeapTotalBytes)} → ${mib(heap.rss)}; ${mib(heap.heapUsed)}/${mib(heap.heapTotal)}`, '', '']);
  }
  if (r.triggerEvent) {
    const e = r.triggerEvent;
    rows.push(['trigger', `Gofer: PostTriggerEvent → task container started, p50 / p99 / mean (${e.goferMs.n} events)`, `${ms(e.goferMs.p50)} / ${ms(e.goferMs.p99)} / ${ms(e.goferMs.mean)}`, '', '']);
    rows.push(['trigger', `bare Docker create → container started, p50 / p99 / mean (${e.bareMs.n})`, `${ms(e.bareMs.p50)} / ${ms(e.bareMs.p99)} / ${ms(e.bareMs.mean)}`, '', '']);
    rows.push(['trigger', 'ratio Gofer / bare, p50 / p99 / mean', `${round(e.ratio.p50, 2)} / ${round(e.ratio.p99, 2)} / ${round(e.ratio.mean, 2)}`, '', '']);
  }
  if (r.nomadFanOut) {
    const n = r.nomadFanOut;
    rows.push(['nomad', `Gofer wall, ${n.tasks} tasks @ ${n.concurrency} on the Nomad stand-in: run created → ended (median of ${n.rounds.length})`, ms(n.goferMedianMs), '', '']);
    rows.push(['nomad', '  client view: StartRun → GetRun (100 ms polls) sees it complete', ms(n.goferClientMedianMs), '', '']);
    rows.push(['nomad', `bare Nomad API loop wall (median of ${n.rounds.length})`, ms(n.bareMedianMs), '', '']);
    rows.push(['nomad', 'ratio Gofer / bare (of the medians; client view)', `${round(n.ratioOfMedians, 3)} (${round(n.clientRatioOfMedians, 3)})`, 'none set', '']);
    rows.push(['nomad', '  per-round ratios', n.rounds.map((x) => round(x.ratio, 3)).join(', '), '', '']);
    rows.push(['nomad', `per task, Gofer: claimed → completion recorded, p50 / p99 (${n.goferTaskMs.n} tasks)`, `${ms(n.goferTaskMs.p50)} / ${ms(n.goferTaskMs.p99)}`, '', '']);
    rows.push(['nomad', `per task, bare: register → logs read, p50 / p99 (${n.bareTaskMs.n})`, `${ms(n.bareTaskMs.p50)} / ${ms(n.bareTaskMs.p99)}`, '', '']);
    rows.push(['nomad', '  ratio Gofer / bare, p50 / p99', `${round(n.goferTaskMs.p50 / n.bareTaskMs.p50, 2)} / ${round(n.goferTaskMs.p99 / n.bareTaskMs.p99, 2)}`, '', '']);
  }
  if (rows.length > 0) {
    out('\nResults');
    table(['benchmark', 'metric', 'measured', 'target', 'verdict'], rows);
  }

  if (r.fanOut || r.chain || r.controlPlane || r.triggerEvent || r.nomadFanOut) out('\nWhere the time goes');
  if (r.fanOut) {
    const f = r.fanOut;
    const last = f.rounds.at(-1);
    const stats = f.goferInstruments.at(-1);
    const calls = dockerCallsPerTask(stats, f.tasks);
    out(`  fan-out: Docker API requests per container, Gofer (last round): ${calls.total} — ${calls.detail}`);
    out('           bare loop: 5 (create, start, wait, logs, remove)');
    const t = stats.timings;
    const mean = (name) => (t[name] ? t[name].totalMs / t[name].count : NaN);
    const pairs = [
      ['create', 'docker POST /containers/create'], ['start', 'docker POST /containers/{id}/start'],
      ['wait', 'docker POST /containers/{id}/wait'], ['logs', 'docker GET /containers/{id}/logs'], ['remove', 'docker DELETE /containers/{id}'],
    ];
    out(
      `           mean per call, Gofer/bare (last round): ${pairs.map(([b, g]) => `${b} ${round(mean(g), 0)}/${round(last.bareCallMeanMs?.[b], 0)}`).join(', ')} ms ` +
        '(Gofer follows logs live from the start: its logs time is time to the first byte, not comparable)',
    );
    out(
      `           slots busy on average (of ${f.concurrency}): Gofer ${round(f.goferBusySlotsMedian, 2)} (task claimed → completion recorded), bare ${round(f.bareBusySlotsMedian, 2)}; ` +
        `Gofer run created → first claim ${ms(f.goferFirstClaimMedianMs)}, last completion → run ended ${ms(f.goferLastCompletionToRunEndMedianMs)}`,
    );
    const engineSteps = ['engine.claimAttempt', 'engine.taskConfig', 'engine.recordSchedulerId', 'engine.completeAttempt', 'logs.writer', 'logs.finish']
      .reduce((a, name) => a + (mean(name) || 0), 0);
    out(
      `           worker slot held per container: Gofer ${ms(mean('worker.process (whole attempt)'))} (of which ${ms(engineSteps)} in its own ` +
        `Postgres/Redis/log steps: claim ${ms(mean('engine.claimAttempt'))}, complete ${ms(mean('engine.completeAttempt'))}, archive ${ms(mean('logs.finish'))}), ` +
        `bare loop ${ms(f.bareContainerMedianMs)}`,
    );
    const gap = stats.logStreamEndAfterWaitMs;
    if (gap) out(`           followed log stream ended after the container's wait answered: mean ${ms(gap.mean)}, max ${ms(gap.max)} (the worker awaits both)`);
    const g = f.cpuMsPerContainer.gofer;
    const b = f.cpuMsPerContainer.bare;
    out(
      `           CPU ms per container, Gofer side: gofer ${round(g.goferProcess)}, docker ${round(g.docker)}, postgres ${round(g.postgres)}, ` +
        `other work ${round(g.others)}; bare side: driver ${round(b.driver)}, docker ${round(b.docker)}, other work ${round(b.others)}`,
    );
  }
  if (r.chain) {
    const parts = r.chain.edgePartsMs;
    out(`  chain:   edge p50 split: ${split(parts)}`);
    const timing = r.chain.instruments.timings;
    const mean = (name) => (timing[name] ? ms(timing[name].totalMs / timing[name].count) : 'n/a');
    out(
      `           mean per task: completeAttempt ${mean('engine.completeAttempt')}, enqueue ${mean('queue.enqueue')}, ` +
        `claimAttempt ${mean('engine.claimAttempt')}, whole attempt ${mean('worker.process (whole attempt)')}`,
    );
  }
  if (r.controlPlane) {
    const p = r.controlPlane;
    out(`  control, runs one at a time: edge p50 split: ${split(p.isolated.edgePartsMs)}`);
    out(`  control, steady half load:   edge p50 split: ${split(p.steady.edgePartsMs)}`);
    for (const [label, data] of [['runs one at a time', p.isolated], ['steady half load', p.steady], ['burst 1', p.bursts[0]]]) {
      const t = data.perTaskRun.timings;
      const statements = Object.entries(t).filter(([k]) => k.startsWith('pg ') && k !== 'pg pool wait');
      const nStatements = statements.reduce((a, [, v]) => a + v.perTaskRun, 0);
      const redis = Object.entries(data.perTaskRun.counts).filter(([k]) => k.startsWith('redis ') && k !== 'redis bzpopmin');
      const nRedis = redis.reduce((a, [, v]) => a + v, 0);
      const writes = (peer) => round(data.perTaskRun.counts[`socket writes ${peer}`] ?? 0, 1);
      const step = (name) => (t[name] ? ms(t[name].meanMs) : 'n/a');
      out(
        `  control, ${label}: per task run ${round(nStatements, 1)} SQL statements, ${round(nRedis, 1)} Redis commands; ` +
          `mean statement ${step('pg SELECT')} (SELECT … FOR UPDATE ${step('pg SELECT … FOR UPDATE')}), pool wait ${step('pg pool wait')}; ` +
          `claim ${step('engine.claimAttempt')}, complete ${step('engine.completeAttempt')}, whole attempt ${step('worker.process (whole attempt)')}; ` +
          `socket writes to Postgres ${writes('postgres')}, Redis ${writes('redis')}; event-loop delay p99 ${ms(data.eventLoopDelayMs.p99)}`,
      );
    }
    const cpu = p.bursts.map((b) => b.cpu);
    const taskRuns = p.bursts.reduce((a, b) => a + b.taskRuns, 0);
    const wall = cpu.reduce((a, c) => a + c.wallSeconds, 0);
    const sum = (name) => cpu.reduce((a, c) => a + c.cpuSeconds[name], 0);
    const perTask = (name) => (sum(name) / taskRuns) * 1000;
    out(
      `  control, bursts: CPU ms per task run: gofer ${round(perTask('gofer'), 2)}, postgres ${round(perTask('postgres'), 2)}, ` +
        `redis ${round(perTask('redis'), 2)}; cores busy: gofer ${round(sum('gofer') / wall, 2)}, postgres ${round(sum('postgres') / wall, 2)}, ` +
        `redis ${round(sum('redis') / wall, 2)}, other work ${round(sum('others') / wall, 2)}, whole machine ${round(sum('machineBusy') / wall, 2)} of ${r.environment.cpus}`,
    );
    const sc = p.steady.cpu.cpuSeconds;
    const steadyTaskRuns = p.steady.runs * (p.bursts[0].taskRuns / p.runsPerBurst);
    out(
      `  control, steady half load: CPU ms per task run: gofer ${round((sc.gofer / steadyTaskRuns) * 1000, 2)}, postgres ${round((sc.postgres / steadyTaskRuns) * 1000, 2)}; ` +
        `other work ${round(sc.others / p.steady.cpu.wallSeconds, 2)} cores`,
    );
    // Node runs Gofer's JavaScript on one thread: one process can never use more than one core.
    const processBound = 1000 / perTask('gofer');
    const machineBound = (r.environment.cpus * 1000) / (perTask('gofer') + perTask('postgres') + perTask('redis'));
    out(
      `  control, ceiling on an otherwise idle machine at these CPU costs: ${round(Math.min(processBound, machineBound), 0)} task runs/s ` +
        `(one Gofer process ≤ 1 core: ${round(processBound, 0)}/s; all ${r.environment.cpus} cores for Gofer + Postgres + Redis: ${round(machineBound, 0)}/s)`,
    );
  }
  if (r.triggerEvent) {
    const g = r.triggerEvent.goferPartsMs;
    const b = r.triggerEvent.barePartsMs;
    out(
      `  trigger: Gofer p50s: event posted → run row created ${ms(g.eventToRunCreated.p50)} (PostTriggerEvent answered ${ms(g.postTriggerEventAnswered.p50)}), ` +
        `→ task claimed ${ms(g.runCreatedToClaimed.p50)}, → container created ${ms(g.claimedToContainerCreated.p50)}, → started ${ms(g.containerCreatedToStarted.p50)}`,
    );
    out(
      `           bare p50s: t0 → container created ${ms(b.toContainerCreated.p50)}, → started ${ms(b.containerCreatedToStarted.p50)}; ` +
        `clock check: Docker's create event − t0, minimum ${ms(r.triggerEvent.clockCheckMs.bareCreateEventAfterT0Min)} (negative: the clocks differ)`,
    );
    const calls = dockerCallsPerTask(r.triggerEvent.instruments, r.triggerEvent.events);
    out(`           Docker API requests per event, Gofer (whole run): ${calls.total} — ${calls.detail}`);
  }
  if (r.nomadFanOut) {
    const n = r.nomadFanOut;
    const requests = (perTask) => {
      const total = Object.values(perTask).reduce((a, b) => a + b, 0);
      return `${round(total, 2)} — ${Object.entries(perTask).map(([k, v]) => `${k} ×${round(v, 2)}`).join(', ')}`;
    };
    out(`  nomad:   Nomad API requests per task (last round), Gofer: ${requests(n.requestsPerTask.gofer)}`);
    out(`           bare loop: ${requests(n.requestsPerTask.bare)}`);
    const calls = n.bareCallMedianMs;
    out(
      `           bare loop, mean per task (median of the rounds): register ${ms(calls.register)}, → allocation terminal ${ms(calls.wait)}, ` +
        `logs read ${ms(calls.logs)}, deregister ${ms(calls.deregister)}; whole slot ${ms(n.bareSlotMedianMs)}`,
    );
    out(
      `           slots busy on average (of ${n.concurrency}): Gofer ${round(n.goferBusySlotsMedian, 2)} (task claimed → completion recorded), ` +
        `bare ${round(n.bareBusySlotsMedian, 2)} (register → deregistered); ` +
        `Gofer run created → first claim ${ms(n.goferFirstClaimMedianMs)}, last completion → run ended ${ms(n.goferLastCompletionToRunEndMedianMs)}`,
    );
    const g = n.cpuMsPerTask.gofer;
    const b = n.cpuMsPerTask.bare;
    out(
      `           CPU ms per task, Gofer side: gofer ${round(g.goferProcess)}, stand-in ${round(g.standIn)}, docker ${round(g.docker)}, ` +
        `postgres ${round(g.postgres)}, other work ${round(g.others)}; bare side: stand-in and loop ${round(b.standInAndLoop)}, ` +
        `docker ${round(b.docker)}, other work ${round(b.others)}`,
    );
  }
  if (r.scaleOut) scaleOutReport(r.scaleOut, r.environment.cpus);
  if (r.webUi) webUiReport(r.webUi);
  for (const [name, p] of Object.entries(r.profiles ?? {})) {
    const list = (entries) => entries.map(([k, v]) => `${k} ${v}%`).join(', ');
    out(`\nCPU profile of the Gofer process (${{ docker: 'fan-out/chain', noop: 'control plane', trigger: 'trigger-event', nomad: 'nomad-fan-out' }[name] ?? name}, ${round(p.sampledSeconds, 0)} s sampled): ${p.file}`);
    out(`  by package: ${list(p.byPackage)}`);
    out(`  native I/O by caller: ${list(p.nativeIoByCaller)}`);
  }
  out(`\ntotal ${round(r.totalSeconds, 0)} s`);
}

function scaleOutReport(s, cpus) {
  const out = (text = '') => process.stdout.write(`${text}\n`);
  out(
    `\nScale-out (no-op scheduler; ${s.dag}; ${s.rounds} bursts of ${s.runsPerBurst} runs per configuration after ${s.warmupRuns} not counted, ` +
      `StartRun ${s.submitConcurrency} in flight round-robin over the API processes; GOFER_WORKER_CONCURRENCY=${s.workerConcurrency} per worker; ` +
      `Postgres pool ≤ ${s.pgPoolMax} connections per process; ` +
      `CPU in ms per task run; Postgres: this cluster's backends and Postgres's background processes; ` +
      'round trips and commands per task run, all Gofer processes together; dependency latency inside bursts is mostly queueing)\n',
  );
  const rows = s.configurations.map((c) => {
    const cpu = c.cpuMsPerTaskRun;
    const w = c.callsPerTaskRun.all;
    return [
      c.repeat ? `${c.apis} (again)` : c.apis, c.workers, round(c.taskRunsPerSecond, 0), `${round(c.vsBaseline.throughput, 2)}×`,
      round(cpu.api, 2), round(cpu.worker, 2), round(cpu.postgres, 2), round(cpu.redis, 2), round(cpu.total, 2), `${round(c.vsBaseline.cpuPerTaskRun, 2)}×`,
      `${round(c.edgeMs.p50, 0)} / ${round(c.edgeMs.p99, 0)}`,
      round(w.postgresWrites, 1), `${round(w.redisCommands, 1)} / ${round(w.redisWrites, 1)}`,
      `${round(c.machineBusyCores, 2)} (${round(c.otherWorkCores, 2)})`,
    ];
  });
  markdownTable(
    ['APIs', 'workers', 'task runs/s', 'vs 1/1', 'CPU API', 'CPU workers', 'CPU Postgres', 'CPU Redis', 'CPU total', 'vs 1/1',
      'dep done → started p50 / p99 ms', 'Postgres round trips', 'Redis commands / round trips', `cores busy of ${cpus} (other work)`],
    rows,
  );
  out('\n  per burst, task runs/s: ' + s.configurations.map((c) => `${c.apis}/${c.workers} ${c.perBurstTaskRunsPerSecond.map((v) => round(v, 0)).join(', ')}`).join('; '));
  // Node runs Gofer's JavaScript on one thread: a process never uses more than one core. With a core for
  // every process, these CPU costs would bound each kind at this many task runs/s.
  out(
    '  at these CPU costs, with a core for every Gofer process (task runs/s; Postgres: cores per 1000 task runs/s): ' +
      s.configurations.filter((c) => !c.repeat).map((c) =>
        `${c.apis}/${c.workers} workers ≤ ${round((c.workers * 1000) / c.cpuMsPerTaskRun.worker, 0)}, APIs ≤ ${round((c.apis * 1000) / c.cpuMsPerTaskRun.api, 0)}, ` +
        `Postgres ${round(c.cpuMsPerTaskRun.postgres, 2)}`).join('; '),
  );
}

/** A markdown table with aligned columns (pastes into README.md as is). */
function markdownTable(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => String(row[i]).length)));
  const line = (cells) => `| ${cells.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  process.stdout.write(`${line(header)}\n|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|\n`);
  for (const row of rows) process.stdout.write(`${line(row)}\n`);
}

function split(parts) {
  return (
    `parent ended → child job queued ${round(parts.endedToAdded.p50, 1)} ms, queued → taken by a worker ` +
    `${round(parts.addedToActive.p50, 1)} ms, taken → claim statement ${round(parts.activeToStarted.p50, 1)} ms`
  );
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
