// Web UI (issue 12): a 2,000-task DAG and a ~50 MB task log in real Chromium, each beside a small
// baseline (20 tasks, ~500 KB) measured in the same run and the same way, so the report can give ratios.
// Every time is taken inside the page (performance.now(), from the navigation's start), by a probe
// injected before the app's own script: "painted" is when a message posted from the frame's
// requestAnimationFrame callback runs, i.e. after that frame's style, layout and paint on the main thread.
//
// The DAG's run is kept pending (the pipeline's parallelism is 1 and an earlier run holds the slot), so
// every task is drawn and nothing changes while it is measured; cancelling the earlier run then lets
// the tasks really run (busybox `true`/`false`) while the page updates live.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';
import { RESULTS_DIR, ROOT, startCluster, waitNoContainers } from './support/cluster.mjs';
import { median, round, summary } from './support/stats.mjs';

const IMAGE = 'busybox:latest';
const NAMESPACE = 'default';
// The flags this machine's closed network needs: the same list as test/support/browser.ts (a .mjs bench
// cannot import that TypeScript file).
const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/**
 * @param {{ dag: { layers: number, width: number, baselineLayers: number, baselineWidth: number, rounds: number, pans: number, slowLoadMs: number },
 *   logs: { lines: number, baselineLines: number, rounds: number, jumps: number, loadEarlierClicks: number },
 *   liveSeconds: number, idleSeconds: number, loadTimeoutMs: number, workerConcurrency: number, log: (line: string) => void }} options
 */
export async function webUiBench({ dag, logs, liveSeconds, idleSeconds, loadTimeoutMs, workerConcurrency, log }) {
  const cluster = await startCluster({ name: 'web', scheduler: 'docker', env: { GOFER_WORKER_CONCURRENCY: String(workerConcurrency) } });
  // startCluster does not hand out the HTTP address (UI and browser API): Gofer logs it when it has started.
  const started = readFileSync(cluster.logFile, 'utf8').split('\n').find((line) => line.includes('"gofer service started"'));
  const origin = `http://${JSON.parse(started).http}`;
  let browser;
  try {
    const { secret: token } = await cluster.client.createToken({ kind: 'TOKEN_KIND_MANAGEMENT', namespaces: [], metadata: { purpose: 'web-ui bench' }, expiresInSeconds: 0 });

    // The logs first: writing 50 MB through Docker and Gofer takes a while, and nothing is measured meanwhile.
    log(`web-ui: a task writing ${logs.lines} lines (~${round((logs.lines * LOG_LINE_BYTES) / 1e6, 0)} MB) and one writing ${logs.baselineLines}`);
    const logsRun = await makeLogsRun(cluster, logs);
    const sizes = [
      { key: 'large', layers: dag.layers, width: dag.width },
      { key: 'baseline', layers: dag.baselineLayers, width: dag.baselineWidth },
    ];
    for (const size of sizes) Object.assign(size, await makePendingDagRun(cluster, size));
    log(`web-ui: DAG runs pending: ${sizes.map((s) => `${s.tasks} tasks, ${s.edges} edges`).join('; ')}`);

    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS });
    const version = browser.version();
    const dagResults = await dagBench({ browser, origin, token, cluster, sizes, dag, idleSeconds, liveSeconds, loadTimeoutMs, log });
    const logResults = await logsBench({ browser, origin, token, logsRun, logs, loadTimeoutMs, log });
    return { chromium: version, workerConcurrency, dag: dagResults, logs: logResults };
  } finally {
    await browser?.close();
    await cluster.destroy();
  }
}

// ---- the pipelines ----

const taskName = (layer, index) => `l${String(layer).padStart(2, '0')}-t${String(index).padStart(2, '0')}`;
// Mostly "on success", a tenth each "on failure" and "always"; a few tasks fail so that both kinds run.
const NEEDS = ['success', 'success', 'success', 'success', 'success', 'success', 'success', 'success', 'failure', 'any'];

/** `layers` × `width` tasks, each depending on its column's task in the layer before and half of them on a second one. */
function layeredDag(id, layers, width) {
  const tasks = [];
  let edges = 0;
  for (let layer = 0; layer < layers; layer++) {
    for (let index = 0; index < width; index++) {
      const n = layer * width + index;
      const depends_on = {};
      if (layer > 0) {
        depends_on[taskName(layer - 1, index)] = NEEDS[n % NEEDS.length];
        const other = (index * 7 + layer) % width;
        if (index % 2 === 0 && other !== index) depends_on[taskName(layer - 1, other)] = n % 4 === 0 ? 'any' : 'success';
      }
      edges += Object.keys(depends_on).length;
      tasks.push({ id: taskName(layer, index), image: IMAGE, command: [n % 13 === 5 ? 'false' : 'true'], depends_on });
    }
  }
  return { config: { id, parallelism: 1, tasks }, edges };
}

/**
 * Run 1 (config version 1: one task that waits until it is cancelled) holds the pipeline's only slot;
 * run 2 (version 2: the DAG) stays pending behind it, with every task drawn and none started.
 */
async function makePendingDagRun(cluster, { layers, width }) {
  const pipelineId = `web-dag-${layers * width}`;
  await cluster.apply({ id: pipelineId, parallelism: 1, tasks: [{ id: 'hold', image: IMAGE, script: 'trap "exit 0" TERM; sleep 600 & wait' }] });
  const { run: holder } = await cluster.client.startRun({ namespaceId: NAMESPACE, pipelineId, variables: {} });
  const { config, edges } = layeredDag(pipelineId, layers, width);
  await cluster.apply(config);
  const { run } = await cluster.client.startRun({ namespaceId: NAMESPACE, pipelineId, variables: {} });
  const { run: current } = await cluster.client.getRun({ namespaceId: NAMESPACE, pipelineId, runId: run.id });
  if (current.state !== 'RUN_STATE_PENDING') throw new Error(`run ${run.id} of ${pipelineId} is ${current.state}, not pending`);
  return { pipelineId, holderRunId: holder.id, runId: run.id, tasks: layers * width, edges, url: `/ui/namespaces/${NAMESPACE}/pipelines/${pipelineId}/runs/${run.id}` };
}

// Fixed-width lines (73 bytes, 82 with colour): `%08d` numbers them, every fifth is coloured.
const LOG_LINE_BYTES = 74.8;
const logScript = (lines) =>
  `awk 'BEGIN { for (i = 1; i <= ${lines}; i++) { if (i % 5 == 0) printf "\\033[3%dm%08d\\033[0m build step %02d: compiling module %04d of the workspace, all good\\n", i % 7 + 1, i, i % 97, i % 1013; ` +
  `else printf "%08d build step %02d: compiling module %04d of the workspace, all good\\n", i, i % 97, i % 1013 } }'`;

async function makeLogsRun(cluster, { lines, baselineLines }) {
  const pipelineId = 'web-logs';
  await cluster.apply({ id: pipelineId, tasks: [{ id: 'large', image: IMAGE, script: logScript(lines) }, { id: 'baseline', image: IMAGE, script: logScript(baselineLines) }] });
  const t0 = performance.now();
  const { run } = await cluster.client.startRun({ namespaceId: NAMESPACE, pipelineId, variables: {} });
  for (;;) {
    const { run: current } = await cluster.client.getRun({ namespaceId: NAMESPACE, pipelineId, runId: run.id });
    if (current.state === 'RUN_STATE_COMPLETE') {
      if (current.status !== 'RUN_STATUS_SUCCESSFUL') throw new Error(`the logs run ended ${current.status}; see ${cluster.logFile}`);
      break;
    }
    if (performance.now() - t0 > 600_000) throw new Error('the logs run did not complete within 10 minutes');
    await sleep(500);
  }
  const rows = await cluster.query('SELECT task_id, log_bytes, logs_truncated FROM task_runs WHERE pipeline_id = $1 AND run_id = $2', [pipelineId, run.id]);
  const bytes = Object.fromEntries(rows.map((r) => [r.task_id, Number(r.log_bytes)]));
  if (rows.some((r) => r.logs_truncated)) throw new Error('a log was truncated (GOFER_LOG_CAP_BYTES)');
  return {
    pipelineId, runId: run.id, writtenInMs: performance.now() - t0,
    large: { taskId: 'large', lines, bytes: bytes.large, url: `/ui/namespaces/${NAMESPACE}/pipelines/${pipelineId}/runs/${run.id}/tasks/large` },
    baseline: { taskId: 'baseline', lines: baselineLines, bytes: bytes.baseline, url: `/ui/namespaces/${NAMESPACE}/pipelines/${pipelineId}/runs/${run.id}/tasks/baseline` },
  };
}

// ---- in the page ----

/**
 * Injected before the app's script in every document. Watches, once per frame, for the moment the page
 * shows what it is being measured for, and offers `measure` (an action, then the first frame in which a
 * condition holds) and `sample` (frame gaps and long tasks over a time window).
 */
function probe({ kind, nodes, lastPrefix }) {
  const p = { marks: {}, longTasks: [], lcp: undefined, states: [] };
  window.__probe = p;
  try {
    new PerformanceObserver((list) => { for (const e of list.getEntries()) p.longTasks.push([e.startTime, e.duration]); }).observe({ type: 'longtask', buffered: true });
    new PerformanceObserver((list) => { for (const e of list.getEntries()) p.lcp = e.startTime; }).observe({ type: 'largest-contentful-paint', buffered: true });
  } catch {
    // an entry type this Chromium lacks: reported as missing
  }
  const afterFrame = (done) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => done(performance.now());
    channel.port2.postMessage(0);
  };
  const inView = (element, box) => {
    const r = element.getBoundingClientRect();
    return r.height > 0 && r.bottom > box.top && r.top < box.bottom;
  };
  const scroller = () => document.querySelector('[data-testid="log"]');
  const checks = kind === 'dag'
    ? { drawn: () => document.querySelector('[data-testid="dag"]')?.querySelectorAll('g.node').length === nodes }
    : {
        firstLine: () => {
          const s = scroller();
          return !!s && [...s.querySelectorAll('.log-line')].some((l) => inView(l, s.getBoundingClientRect()));
        },
        lastLine: () => {
          const s = scroller();
          return !!s && [...s.querySelectorAll('.log-line')].some((l) => l.textContent.startsWith(lastPrefix) && inView(l, s.getBoundingClientRect()));
        },
      };
  const watch = () => {
    const now = performance.now();
    for (const [name, check] of Object.entries(checks)) {
      if (p.marks[name] === undefined && check()) {
        p.marks[name] = now;
        afterFrame((t) => (p.marks[`${name}Painted`] = t));
      }
    }
    if (kind === 'logs') {
      const text = document.querySelector('[data-testid="log-state"]')?.textContent;
      if (text !== undefined && text !== p.states.at(-1)?.[1]) p.states.push([now, text]);
    }
    if (!p.stopWatching) requestAnimationFrame(watch);
  };
  requestAnimationFrame(watch);

  /**
   * Runs `action` at the start of a frame, then checks `check()` after each frame's paint: ms from the
   * action to the end of the paint of the first frame that shows it.
   */
  p.measure = (action, check = () => true, timeoutMs = 30_000) =>
    new Promise((resolve) => {
      requestAnimationFrame(() => {
        const t0 = performance.now();
        action();
        const next = () => afterFrame((t) => {
          if (check()) resolve({ painted: t - t0 });
          else if (t - t0 > timeoutMs) resolve({ painted: null, timedOut: true });
          else requestAnimationFrame(next);
        });
        next();
      });
    });
  /** Every frame's time and every long task over `ms` (the last gap ends at the first frame after the window). */
  p.sample = (ms) =>
    new Promise((resolve) => {
      const t0 = performance.now();
      const frames = [t0];
      const tick = () => {
        frames.push(performance.now());
        if (performance.now() - t0 < ms) requestAnimationFrame(tick);
        else resolve({ t0, frames, longTasks: p.longTasks.filter(([start]) => start >= t0) });
      };
      requestAnimationFrame(tick);
    });
}

/** What one page load showed, read from the probe once it is done; times in ms from the navigation's start. */
function readLoad() {
  const p = window.__probe;
  p.stopWatching = true;
  const rpc = performance.getEntriesByType('resource').filter((r) => r.name.includes('/rpc/'));
  const script = performance.getEntriesByType('resource').find((r) => r.initiatorType === 'script' || r.name.endsWith('.js'));
  return {
    marks: p.marks,
    states: p.states,
    fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null,
    lcp: p.lcp ?? null,
    longTasks: p.longTasks,
    scriptLoaded: script?.responseEnd ?? null,
    rpc: rpc.map((r) => ({ call: r.name.split('/').pop(), start: r.startTime, end: r.responseEnd, bytes: r.encodedBodySize })),
    domElements: document.getElementsByTagName('*').length,
    logLines: document.querySelectorAll('.log-line').length,
  };
}

// ---- driving Chromium ----

/** A browser context with the probe, signed in on its one tab (the UI keeps the token for the tab). */
async function openSignedIn(browser, origin, token, probeArg) {
  const context = await browser.newContext();
  await context.addInitScript(probe, probeArg);
  const page = await context.newPage();
  const requests = [];
  page.on('request', (request) => requests.push([performance.now(), request.url()]));
  // Gofer indexes apps/web/dist when it starts: a rebuild meanwhile leaves index.html naming assets it
  // does not serve, and the page would never draw. Stop at once instead of waiting out every timeout.
  let fail;
  const broken = new Promise((_, reject) => (fail = reject));
  broken.catch(() => undefined);
  page.on('response', (response) => {
    if (response.url().includes('/ui/assets/') && response.status() >= 400) {
      fail(new Error(`${new URL(response.url()).pathname} answered ${response.status()}: apps/web/dist changed while the benchmark ran; run it again`));
    }
  });
  await Promise.race([broken, (async () => {
    await page.goto(`${origin}/ui/`);
    await page.getByLabel('API token').fill(token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByTestId('namespaces').waitFor();
  })()]);
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  return { context, page, cdp, requests, broken };
}

/** The main thread's busy time (ms) in script, style, layout and all tasks; Chromium counts from each new document. */
async function rendererMetrics(cdp) {
  const { metrics } = await cdp.send('Performance.getMetrics');
  const m = Object.fromEntries(metrics.map((x) => [x.name, x.value]));
  return { script: m.ScriptDuration * 1000, style: m.RecalcStyleDuration * 1000, layout: m.LayoutDuration * 1000, task: m.TaskDuration * 1000 };
}

async function heap(cdp) {
  const used = (await cdp.send('Runtime.getHeapUsage')).usedSize;
  await cdp.send('HeapProfiler.collectGarbage');
  return { usedBytes: used, afterGcBytes: (await cdp.send('Runtime.getHeapUsage')).usedSize };
}

/** Navigates to `url` and waits until the probe marked `mark` painted; `null` when it did not within the timeout. */
async function load(tab, url, mark, timeoutMs) {
  const t0 = performance.now();
  await tab.page.goto(url, { waitUntil: 'commit' });
  try {
    await Promise.race([tab.broken, tab.page.waitForFunction((name) => window.__probe?.marks[name] !== undefined, `${mark}Painted`, { timeout: timeoutMs, polling: 100 })]);
  } catch (error) {
    if (error.name !== 'TimeoutError') throw error;
    return { timedOut: true, waitedMs: performance.now() - t0 };
  }
  const shown = await tab.page.evaluate(readLoad);
  return { ...shown, renderer: await rendererMetrics(tab.cdp) };
}

/** The promise's value, or null if it takes longer than `ms` (it is left to settle, or fail, on its own). */
const within = (promise, ms) => {
  let timer;
  return Promise.race([promise.catch(() => null), new Promise((resolve) => (timer = setTimeout(resolve, ms, null)))]).finally(() => clearTimeout(timer));
};

const blocking = (longTasks, from = 0, to = Infinity) => {
  const inside = longTasks.filter(([start]) => start >= from && start < to);
  return {
    count: inside.length,
    totalMs: inside.reduce((a, [, d]) => a + d, 0),
    // Total blocking time: what each long task held the thread beyond 50 ms.
    blockingMs: inside.reduce((a, [, d]) => a + Math.max(0, d - 50), 0),
    longestMs: inside.reduce((a, [, d]) => Math.max(a, d), 0),
  };
};

function frameStats({ t0, frames, longTasks }) {
  const gaps = frames.slice(1).map((t, i) => t - frames[i]);
  const windowMs = frames.at(-1) - t0;
  return {
    windowMs,
    frames: gaps.length,
    framesPerSecond: (gaps.length / windowMs) * 1000,
    gapMs: summary(gaps),
    // Time the page could not show a new frame: each gap beyond two frames at 60 Hz.
    frozenMs: gaps.filter((g) => g > 33.4).reduce((a, g) => a + g, 0),
    longTasks: blocking(longTasks),
  };
}

/** Seeded, so every run jumps to the same places. */
function random(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---- the DAG ----

async function dagBench({ browser, origin, token, cluster, sizes, dag, idleSeconds, liveSeconds, loadTimeoutMs, log }) {
  const tabs = {};
  const results = {};
  for (const size of sizes) {
    tabs[size.key] = await openSignedIn(browser, origin, token, { kind: 'dag', nodes: size.tasks });
    results[size.key] = { tasks: size.tasks, edges: size.edges, layers: size.layers, width: size.width, loads: [], pans: [], clicks: [] };
  }

  const rand = random(12);
  /** After a load: the heap, then pans of the graph's scroll box, then a task's link clicked. */
  const interact = async (size, loaded, label) => {
    const r = results[size.key];
    const { page, cdp } = tabs[size.key];
    const entry = summarizeLoad(loaded);
    entry.heap = await heap(cdp);
    r.loads.push(entry);
    const box = await page.evaluate(() => {
      const f = document.querySelector('figure.dag');
      return { width: f.scrollWidth - f.clientWidth, height: f.scrollHeight - f.clientHeight };
    });
    const pans = [];
    for (let i = 0; i < dag.pans; i++) {
      const to = { x: Math.floor(rand() * box.width), y: Math.floor(rand() * box.height) };
      pans.push(await page.evaluate(({ x, y }) => window.__probe.measure(() => document.querySelector('figure.dag').scrollTo(x, y)), to));
    }
    r.pans.push(...pans);
    // The graph's nodes are not links; the task table's names are: one → that task's logs page.
    const task = taskName(Math.floor(size.layers / 2), Math.floor(size.width / 2));
    const click = await page.evaluate((id) => window.__probe.measure(
      () => document.querySelector(`tr[data-task="${id}"] a`).click(),
      () => document.querySelector('h1')?.textContent.startsWith('Logs of'),
      120_000,
    ), task);
    r.clicks.push(click);
    log(`web-ui: DAG ${size.tasks} tasks, ${label}: painted at ${round(entry.drawnPaintedMs, 0)} ms, ` +
      `pans p50 ${round(median(pans.map((x) => x.painted)), 1)} ms, click → logs page ${round(click.painted, 0)} ms`);
  };

  // Warm-up: the first load compiles the app's code and fills the asset cache; the large one is
  // CPU-profiled. A page that idles (a pending run re-renders every second) is sampled too. A warm-up
  // slower than slowLoadMs is the one load measured of that size: the benchmark must end in minutes.
  for (const size of sizes) {
    const tab = tabs[size.key];
    const r = results[size.key];
    const profiling = size.key === 'large';
    if (profiling) {
      await tab.cdp.send('Profiler.enable');
      await tab.cdp.send('Profiler.setSamplingInterval', { interval: 500 });
      await tab.cdp.send('Profiler.start');
    }
    const warm = await load(tab, `${origin}${size.url}`, 'drawn', loadTimeoutMs);
    if (profiling) {
      const { profile } = await tab.cdp.send('Profiler.stop');
      r.profile = saveProfile(profile);
    }
    r.warmUp = summarizeLoad(warm);
    if (warm.timedOut) {
      r.skipped = `the warm-up load did not draw all ${size.tasks} tasks within ${loadTimeoutMs} ms`;
      log(`web-ui: DAG ${size.tasks} tasks: ${r.skipped}`);
      continue;
    }
    r.idle = frameStats(await tab.page.evaluate((ms) => window.__probe.sample(ms), idleSeconds * 1000));
    r.rounds = dag.rounds;
    if (r.warmUp.drawnPaintedMs > dag.slowLoadMs) {
      r.rounds = 0;
      r.warmUpCounted = true;
      await interact(size, warm, 'warm-up load, counted (slow)');
    } else log(`web-ui: DAG ${size.tasks} tasks, warm-up load: painted at ${round(r.warmUp.drawnPaintedMs, 0)} ms`);
  }

  const maxRounds = Math.max(...sizes.map((s) => results[s.key].rounds ?? 0));
  for (let round_ = 0; round_ < maxRounds; round_++) {
    const order = round_ % 2 === 0 ? sizes : [...sizes].reverse();
    for (const size of order) {
      const r = results[size.key];
      if (r.skipped || round_ >= r.rounds) continue;
      const loaded = await load(tabs[size.key], `${origin}${size.url}`, 'drawn', loadTimeoutMs);
      if (loaded.timedOut) {
        r.loads.push({ timedOut: true });
        log(`web-ui: DAG ${size.tasks} tasks, round ${round_ + 1}: not drawn within ${loadTimeoutMs} ms`);
        continue;
      }
      await interact(size, loaded, `round ${round_ + 1}`);
    }
  }

  // Back from the logs page to the run (in-app, history): the graph is laid out and drawn again.
  for (const size of sizes) {
    const r = results[size.key];
    if (r.skipped || r.clicks.length === 0) continue;
    const { page } = tabs[size.key];
    r.back = await page.evaluate(({ nodes, timeoutMs }) => window.__probe.measure(
      () => history.back(),
      () => document.querySelector('[data-testid="dag"]')?.querySelectorAll('g.node').length === nodes,
      timeoutMs,
    ), { nodes: size.tasks, timeoutMs: loadTimeoutMs });
  }

  // Live: the run holding the slot is cancelled, the DAG's run starts, and the open page follows it.
  for (const size of [...sizes].reverse()) {
    const r = results[size.key];
    if (r.skipped) continue;
    const tab = tabs[size.key];
    const requestsBefore = tab.requests.length;
    const sampling = within(tab.page.evaluate((ms) => window.__probe.sample(ms), liveSeconds * 1000), liveSeconds * 1000 + loadTimeoutMs);
    const t0 = performance.now();
    await cluster.client.cancelRun({ namespaceId: NAMESPACE, pipelineId: size.pipelineId, runId: size.holderRunId });
    const sampled = await sampling;
    const waitedMs = performance.now() - t0;
    const ENDED = ['successful', 'failed', 'cancelled', 'skipped'];
    // A page busy laying the graph out again would hold this answer for as long: read it only if it comes soon.
    const shown = await within(tab.page.evaluate((ended) => [...document.querySelectorAll('[data-testid="dag"] g.node')].filter((n) => ended.includes(n.dataset.status)).length, ENDED), 5000);
    const [{ ended }] = await cluster.query(
      'SELECT count(*) FILTER (WHERE ended IS NOT NULL) AS ended FROM task_runs WHERE pipeline_id = $1 AND run_id = $2', [size.pipelineId, size.runId],
    );
    const calls = tab.requests.slice(requestsBefore).map(([, url]) => url.split('/').pop());
    r.live = {
      ...(sampled ? frameStats(sampled) : { noFrameWithinMs: waitedMs }),
      // The sample ends at the first frame after the window: a thread frozen past it makes this longer.
      sampleAnsweredAfterMs: waitedMs,
      taskRunsEndedInDb: Number(ended),
      taskRunsEndedOnPage: shown,
      listTaskRunsCalls: calls.filter((c) => c === 'ListTaskRuns').length,
      listPipelineConfigsCalls: calls.filter((c) => c === 'ListPipelineConfigs').length,
    };
    log(`web-ui: DAG ${size.tasks} tasks live for ${liveSeconds} s: ${r.live.frames} frames, longest gap ${round(r.live.gapMs?.max, 0)} ms, ` +
      `${r.live.listTaskRunsCalls} reloads, ${r.live.taskRunsEndedInDb} task runs ended (${shown} shown ended)`);
    await cluster.client.cancelRun({ namespaceId: NAMESPACE, pipelineId: size.pipelineId, runId: size.runId }).catch(() => undefined);
    await tab.context.close();
  }
  // The cancelled run's containers must be gone before the logs are measured.
  await waitNoContainers({ 'gofer.cluster': await cluster.clusterId() }, 120_000);

  for (const size of sizes) {
    const r = results[size.key];
    if (r.skipped) continue;
    const painted = r.loads.filter((l) => !l.timedOut);
    r.summary = {
      loadsMeasured: painted.length,
      drawnPaintedMs: summary(painted.map((l) => l.drawnPaintedMs)),
      dataInMs: median(painted.map((l) => l.dataInMs)),
      drawnMs: median(painted.map((l) => l.drawnMs)),
      fcpMs: median(painted.map((l) => l.fcpMs)),
      lcpMs: median(painted.map((l) => l.lcpMs)),
      blockingMs: median(painted.map((l) => l.blocking.blockingMs)),
      longestTaskMs: Math.max(...painted.map((l) => l.blocking.longestMs)),
      heapUsedBytes: median(painted.map((l) => l.heap.usedBytes)),
      heapAfterGcBytes: median(painted.map((l) => l.heap.afterGcBytes)),
      domElements: median(painted.map((l) => l.domElements)),
      renderer: Object.fromEntries(['script', 'style', 'layout'].map((k) => [k, median(painted.map((l) => l.renderer[k]))])),
      panMs: summary(r.pans.filter((x) => !x.timedOut).map((x) => x.painted)),
      clickMs: summary(r.clicks.filter((x) => !x.timedOut).map((x) => x.painted)),
    };
  }
  results.slowLoadMs = dag.slowLoadMs;
  return results;
}

function summarizeLoad(l) {
  if (l.timedOut) return { timedOut: true, waitedMs: l.waitedMs };
  const data = l.rpc.filter((c) => ['GetRun', 'ListTaskRuns', 'ListPipelineConfigs'].includes(c.call));
  return {
    scriptLoadedMs: l.scriptLoaded,
    // When the last answer the run page needs arrived: what follows is the browser's own work.
    dataInMs: data.length > 0 ? Math.max(...data.map((c) => c.end)) : null,
    rpc: l.rpc,
    drawnMs: l.marks.drawn,
    drawnPaintedMs: l.marks.drawnPainted,
    fcpMs: l.fcp,
    lcpMs: l.lcp,
    blocking: blocking(l.longTasks, 0, l.marks.drawnPainted),
    domElements: l.domElements,
    renderer: l.renderer,
  };
}

// ---- the logs ----

async function logsBench({ browser, origin, token, logsRun, logs, loadTimeoutMs, log }) {
  const sizes = [logsRun.large, logsRun.baseline];
  const results = {};
  const tabs = {};
  for (const [key, size] of [['large', logsRun.large], ['baseline', logsRun.baseline]]) {
    size.key = key;
    tabs[key] = await openSignedIn(browser, origin, token, { kind: 'logs', lastPrefix: String(size.lines).padStart(8, '0') });
    results[key] = { lines: size.lines, bytes: size.bytes, loads: [], jumps: [], loadEarlier: [] };
  }
  results.writtenInMs = logsRun.writtenInMs;
  for (const size of sizes) {
    const warm = await load(tabs[size.key], `${origin}${size.url}`, 'lastLine', loadTimeoutMs);
    results[size.key].warmUp = warm.timedOut ? { timedOut: true } : { lastLinePaintedMs: warm.marks.lastLinePainted };
  }
  const rand = random(34);
  for (let round_ = 0; round_ < logs.rounds; round_++) {
    const order = round_ % 2 === 0 ? sizes : [...sizes].reverse();
    for (const size of order) {
      const r = results[size.key];
      const { page, cdp } = tabs[size.key];
      const loaded = await load(tabs[size.key], `${origin}${size.url}`, 'lastLine', loadTimeoutMs);
      if (loaded.timedOut) {
        r.loads.push({ timedOut: true, waitedMs: loaded.waitedMs });
        log(`web-ui: log of ${size.lines} lines, round ${round_ + 1}: last line not shown within ${loadTimeoutMs} ms`);
        continue;
      }
      // The page has the end in view; let it finish reading (its state says how many lines) before the heap is taken.
      await page.waitForFunction(() => /\d+ lines/.test(document.querySelector('[data-testid="log-state"]')?.textContent ?? ''), null, { timeout: 30_000, polling: 100 }).catch(() => undefined);
      const stream = loaded.rpc.find((c) => c.call === 'GetTaskRunLogs');
      const entry = {
        firstLineMs: loaded.marks.firstLine,
        firstLinePaintedMs: loaded.marks.firstLinePainted,
        lastLineMs: loaded.marks.lastLine,
        lastLinePaintedMs: loaded.marks.lastLinePainted,
        fcpMs: loaded.fcp,
        lcpMs: loaded.lcp,
        logStreams: loaded.rpc.filter((c) => c.call === 'GetTaskRunLogs').length,
        firstStreamEndedMs: stream?.end ?? null,
        states: loaded.states,
        blocking: blocking(loaded.longTasks, 0, loaded.marks.lastLinePainted),
        renderer: loaded.renderer,
        ...(await page.evaluate(() => ({
          domElements: document.getElementsByTagName('*').length,
          logLines: document.querySelectorAll('.log-line').length,
          state: document.querySelector('[data-testid="log-state"]')?.textContent ?? null,
          scrollHeight: document.querySelector('[data-testid="log"]')?.scrollHeight ?? null,
        }))),
        heap: await heap(cdp),
      };
      r.loads.push(entry);
      // Jumps: the scroll box to a random place, then the first frame with a line in the middle of the view.
      const jumps = [];
      for (let i = 0; i < logs.jumps; i++) {
        jumps.push(await page.evaluate((fraction) => {
          const s = document.querySelector('[data-testid="log"]');
          const box = s.getBoundingClientRect();
          const middle = (box.top + box.bottom) / 2;
          return window.__probe.measure(
            () => { s.scrollTop = Math.floor(fraction * (s.scrollHeight - s.clientHeight)); },
            () => [...s.querySelectorAll('.log-line')].some((l) => {
              const r = l.getBoundingClientRect();
              return r.top <= middle && r.bottom >= middle;
            }),
            10_000,
          );
        }, rand()));
      }
      r.jumps.push(...jumps);
      // "Load earlier", if the page reads the tail first: each click until the page has grown.
      const clicks = [];
      for (let i = 0; i < logs.loadEarlierClicks; i++) {
        const clicked = await page.evaluate(() => {
          const button = [...document.querySelectorAll('button')].find((b) => /Load earlier/.test(b.textContent) && !b.disabled);
          if (!button) return null;
          const s = document.querySelector('[data-testid="log"]');
          const height = s.scrollHeight;
          return window.__probe.measure(() => button.click(), () => s.scrollHeight !== height, 60_000);
        });
        if (!clicked) break;
        clicks.push(clicked);
      }
      r.loadEarlier.push(...clicks);
      if (clicks.length > 0) r.afterLoadEarlier = { ...(await page.evaluate(() => ({ domElements: document.getElementsByTagName('*').length, logLines: document.querySelectorAll('.log-line').length, state: document.querySelector('[data-testid="log-state"]')?.textContent ?? null }))), heap: await heap(cdp) };
      log(`web-ui: log of ${size.lines} lines, round ${round_ + 1}: first line ${round(entry.firstLinePaintedMs, 0)} ms, last line ${round(entry.lastLinePaintedMs, 0)} ms, ` +
        `heap ${round(entry.heap.usedBytes / 2 ** 20, 0)} MiB, ${entry.logLines} .log-line, jumps p50 ${round(median(jumps.map((j) => j.painted)), 0)} ms` +
        (clicks.length > 0 ? `, Load earlier ×${clicks.length} p50 ${round(median(clicks.map((c) => c.painted)), 0)} ms` : ''));
    }
  }
  for (const size of sizes) {
    const r = results[size.key];
    const loads = r.loads.filter((l) => !l.timedOut);
    r.summary = {
      loadsMeasured: loads.length,
      firstLinePaintedMs: summary(loads.map((l) => l.firstLinePaintedMs)),
      lastLinePaintedMs: summary(loads.map((l) => l.lastLinePaintedMs)),
      fcpMs: median(loads.map((l) => l.fcpMs)),
      blockingMs: median(loads.map((l) => l.blocking.blockingMs)),
      longestTaskMs: Math.max(...loads.map((l) => l.blocking.longestMs)),
      heapUsedBytes: median(loads.map((l) => l.heap.usedBytes)),
      heapAfterGcBytes: median(loads.map((l) => l.heap.afterGcBytes)),
      domElements: median(loads.map((l) => l.domElements)),
      logLines: median(loads.map((l) => l.logLines)),
      renderer: Object.fromEntries(['script', 'style', 'layout'].map((k) => [k, median(loads.map((l) => l.renderer[k]))])),
      jumpMs: summary(r.jumps.filter((j) => !j.timedOut).map((j) => j.painted)),
      jumpsTimedOut: r.jumps.filter((j) => j.timedOut).length,
      loadEarlierMs: r.loadEarlier.length > 0 ? summary(r.loadEarlier.filter((c) => !c.timedOut).map((c) => c.painted)) : null,
    };
    await tabs[size.key].context.close();
  }
  return results;
}

// ---- the CPU profile ----

/** Writes the profile for Chrome DevTools and sums its samples by where the code came from (the bundle's source map). */
function saveProfile(profile) {
  const dir = join(RESULTS_DIR, 'profiles');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'web-ui-dag-large.cpuprofile');
  writeFileSync(file, JSON.stringify(profile));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
  const maps = new Map();
  const origin = (frame) => {
    if (!frame.url) return `(${frame.functionName.replace(/[()]/g, '') || 'native'})`;
    if (!frame.url.includes('/ui/assets/')) return 'other scripts';
    const name = basename(new URL(frame.url).pathname);
    if (!maps.has(name)) {
      const path = join(ROOT, 'apps/web/dist/assets', `${name}.map`);
      maps.set(name, existsSync(path) ? sourceMapLookup(JSON.parse(readFileSync(path, 'utf8'))) : null);
    }
    const source = maps.get(name)?.(frame.lineNumber, frame.columnNumber);
    if (!source) return 'app bundle (no source map)';
    const pkg = /node_modules\/(@[^/]+\/[^/]+|[^/]+)/.exec(source);
    return pkg ? pkg[1] : source.replace(/^(\.\.\/)+/, '');
  };
  const by = new Map();
  let total = 0;
  for (const [id, time] of self) {
    const key = origin(nodes.get(id).callFrame);
    by.set(key, (by.get(key) ?? 0) + time);
    total += time;
  }
  return {
    file,
    sampledMs: total / 1000,
    bySource: [...by].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([k, v]) => [k, round((100 * v) / total, 1)]),
  };
}

/** (generated line, column) → source path, from a source map's VLQ mappings (0-based, as V8 reports them). */
function sourceMapLookup(map) {
  const digits = Object.fromEntries([...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'].map((c, i) => [c, i]));
  const lines = [];
  let source = 0;
  for (const line of map.mappings.split(';')) {
    const segments = [];
    let column = 0;
    for (const segment of line.split(',')) {
      if (!segment) continue;
      const values = [];
      let value = 0;
      let shift = 0;
      for (const c of segment) {
        const d = digits[c];
        value += (d & 31) * 2 ** shift;
        if (d & 32) shift += 5;
        else {
          values.push(value % 2 ? -Math.floor(value / 2) : value / 2);
          value = 0;
          shift = 0;
        }
      }
      column += values[0];
      if (values.length > 1) {
        source += values[1];
        segments.push([column, source]);
      }
    }
    lines.push(segments);
  }
  return (lineNumber, columnNumber) => {
    const segments = lines[lineNumber] ?? [];
    let lo = 0;
    let hi = segments.length - 1;
    let found;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (segments[mid][0] <= columnNumber) {
        found = segments[mid];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found ? map.sources[found[1]] : undefined;
  };
}

// ---- the report ----

/** Prints the web-ui part of the report (bench/run.mjs calls it). */
export function webUiReport(w) {
  const out = (text = '') => process.stdout.write(`${text}\n`);
  const ms = (v) => (Number.isFinite(v) ? `${round(v, v < 100 ? 1 : 0)} ms` : 'n/a');
  const num = (v) => (v === undefined || v === null || Number.isNaN(v) ? 'n/a' : String(v));
  const mib = (b) => (Number.isFinite(b) ? `${round(b / 2 ** 20, 1)} MiB` : 'n/a');
  const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? `${round(a / b, a / b < 10 ? 2 : 0)}×` : '');
  const d = w.dag;
  const l = w.logs;
  out(`\nWeb UI in Chromium ${w.chromium} (issue 12; times from the navigation's start, measured in the page; "painted" = after that frame's paint)`);
  const rows = [];
  const row = (metric, large, baseline, fmt = ms) => rows.push([metric, fmt(large), fmt(baseline), ratio(large, baseline)]);
  const dl = d.large;
  const db = d.baseline;
  if (dl.skipped) out(`  DAG ${dl.tasks} tasks: ${dl.skipped}`);
  if (dl.warmUpCounted) out(`  The ${dl.tasks}-task DAG's warm-up load was slower than ${d.slowLoadMs} ms: it is the one load of that size measured (first in its tab, CPU-profiled).`);
  if (dl.summary && db.summary) {
    const a = dl.summary;
    const b = db.summary;
    rows.push([`DAG: ${dl.tasks} tasks (${dl.layers} layers × ${dl.width}, ${dl.edges} edges) vs ${db.tasks}`, '', '', '']);
    row(`  navigation → all nodes painted, median of ${a.loadsMeasured} / ${b.loadsMeasured}`, a.drawnPaintedMs.p50, b.drawnPaintedMs.p50);
    row('  … max', a.drawnPaintedMs.max, b.drawnPaintedMs.max);
    row('  … warm-up load (first in its tab; CPU-profiled for the large one)', dl.warmUp.drawnPaintedMs, db.warmUp.drawnPaintedMs);
    row('  last API answer in (GetRun, ListTaskRuns, ListPipelineConfigs)', a.dataInMs, b.dataInMs);
    row('  nodes in the DOM (frame start)', a.drawnMs, b.drawnMs);
    row('  first-contentful-paint', a.fcpMs, b.fcpMs);
    row('  largest-contentful-paint', a.lcpMs, b.lcpMs);
    row('  main thread busy by the end of the load: script', a.renderer.script, b.renderer.script);
    row('    style', a.renderer.style, b.renderer.style);
    row('    layout', a.renderer.layout, b.renderer.layout);
    row('  total blocking time during the load', a.blockingMs, b.blockingMs);
    row('    longest task', a.longestTaskMs, b.longestTaskMs);
    row('  JS heap used / after GC', a.heapUsedBytes, b.heapUsedBytes, mib);
    row('    after GC', a.heapAfterGcBytes, b.heapAfterGcBytes, mib);
    row('  DOM elements', a.domElements, b.domElements, num);
    row(`  idle page (${round(dl.idle.windowMs / 1000, 0)} s, run pending): time frozen (gaps > 2 frames)`, dl.idle.frozenMs, db.idle.frozenMs);
    row('    longest frame gap', dl.idle.gapMs.max, db.idle.gapMs.max);
    row(`  pan (graph's scroll box to a random place) → that frame painted, p50 (${a.panMs.n} / ${b.panMs.n})`, a.panMs.p50, b.panMs.p50);
    row('    p99', a.panMs.p99, b.panMs.p99);
    row(`  click a task link → logs page painted, p50 (${a.clickMs.n} / ${b.clickMs.n})`, a.clickMs.p50, b.clickMs.p50);
    row('    max', a.clickMs.max, b.clickMs.max);
    row('  back (history) → all nodes painted again', dl.back?.painted, db.back?.painted);
    if (dl.live && db.live) {
      row(`  live run, ${round((dl.live.windowMs ?? dl.live.noFrameWithinMs) / 1000, 0)} / ${round((db.live.windowMs ?? db.live.noFrameWithinMs) / 1000, 0)} s sampled: frames per second`, dl.live.framesPerSecond, db.live.framesPerSecond, (v) => num(round(v, 1)));
      row('    frame gap p50', dl.live.gapMs?.p50, db.live.gapMs?.p50);
      row('    frame gap p99', dl.live.gapMs?.p99, db.live.gapMs?.p99);
      row('    longest frame gap', dl.live.gapMs?.max, db.live.gapMs?.max);
      row('    time frozen (gaps > 2 frames)', dl.live.frozenMs, db.live.frozenMs);
      row('    long tasks: count', dl.live.longTasks?.count, db.live.longTasks?.count, num);
      row('    page reloads (ListTaskRuns calls)', dl.live.listTaskRunsCalls, db.live.listTaskRunsCalls, num);
      row('    task runs ended at the end: in Postgres', dl.live.taskRunsEndedInDb, db.live.taskRunsEndedInDb, num);
      row('      shown ended on the page', dl.live.taskRunsEndedOnPage, db.live.taskRunsEndedOnPage, num);
    }
  }
  const ll = l.large;
  const lb = l.baseline;
  if (ll.summary && lb.summary) {
    const a = ll.summary;
    const b = lb.summary;
    rows.push([`Logs: ${ll.lines} lines (${round(ll.bytes / 1e6, 1)} MB) vs ${lb.lines} (${round(lb.bytes / 1e6, 2)} MB)`, '', '', '']);
    row(`  navigation → first line painted, median of ${a.loadsMeasured} / ${b.loadsMeasured}`, a.firstLinePaintedMs.p50, b.firstLinePaintedMs.p50);
    row('  navigation → last line painted (in view), median', a.lastLinePaintedMs.p50, b.lastLinePaintedMs.p50);
    row('    max', a.lastLinePaintedMs.max, b.lastLinePaintedMs.max);
    row('  main thread busy by the end of the load: script', a.renderer.script, b.renderer.script);
    row('  total blocking time during the load', a.blockingMs, b.blockingMs);
    row('    longest task', a.longestTaskMs, b.longestTaskMs);
    row('  JS heap used', a.heapUsedBytes, b.heapUsedBytes, mib);
    row('    after GC', a.heapAfterGcBytes, b.heapAfterGcBytes, mib);
    row('  DOM elements / .log-line elements', a.domElements, b.domElements, num);
    row('    .log-line', a.logLines, b.logLines, num);
    row(`  jump to a random place → line painted, p50 (${a.jumpMs.n} / ${b.jumpMs.n})`, a.jumpMs.p50, b.jumpMs.p50);
    row('    p99', a.jumpMs.p99, b.jumpMs.p99);
    if (a.loadEarlierMs || b.loadEarlierMs) {
      row(`  "Load earlier" → page grown, p50 (${a.loadEarlierMs?.n ?? 0} / ${b.loadEarlierMs?.n ?? 0})`, a.loadEarlierMs?.p50, b.loadEarlierMs?.p50);
      row('    p99', a.loadEarlierMs?.p99, b.loadEarlierMs?.p99);
    } else rows.push(['  "Load earlier"', 'no such button', '', '']);
  }
  const widths = [0, 1, 2, 3].map((i) => Math.max(...[['metric', 'large', 'baseline', 'ratio'], ...rows].map((r) => String(r[i]).length)));
  const line = (cells) => cells.map((c, i) => (i === 0 ? String(c).padEnd(widths[i]) : String(c).padStart(widths[i]))).join('  ');
  out(line(['metric', 'large', 'baseline', 'ratio']));
  out(widths.map((x) => '-'.repeat(x)).join('  '));
  for (const r of rows) out(line(r));
  if (dl.profile) out(`\n  CPU profile of the large DAG's warm-up load (${round(dl.profile.sampledMs / 1000, 1)} s sampled, ${dl.profile.file}): ${dl.profile.bySource.map(([k, v]) => `${k} ${v}%`).join(', ')}`);
  if (l.large.loads[0]?.states) out(`  large log's state text over the first load: ${l.large.loads[0].states.map(([t, s]) => `${round(t, 0)} ms "${s}"`).join(' → ')}`);
}
