// Nomad fan-out (issue 11): N independent trivial tasks through Gofer in Nomad mode vs a bare loop over
// Nomad's HTTP API at the same concurrency, both against one Nomad stand-in (apps/nomad-dev) started in
// this process, in alternating order, round after round: Gofer's own overhead on the Nomad path.
//
// The bare loop does per task what any Nomad client must: register a batch job (one group, one docker
// task, the same job Gofer registers), block on the job's allocations until the allocation is
// terminal, read the task's stdout (non-follow) and deregister the job with purge. Gofer's wall time is
// the run's created (StartRun) → ended in Postgres, as in the Docker fan-out; the client's view
// (StartRun → the GetRun poll, every 100 ms, that sees it complete) is reported beside it.
// Per task: Gofer's task claimed → completion recorded (Postgres), the bare loop's register → logs read;
// neither counts the wait for a free slot nor the job's removal after it.
import dc from 'node:diagnostics_channel';
import { setTimeout as sleep } from 'node:timers/promises';
import { runAndWait, runTimes, taskTimes, waitNoContainers } from './support/cluster.mjs';
import { cpuDelta, cpuSnapshot } from './support/cpu.mjs';
import { mapLimit, median, round, summary } from './support/stats.mjs';

const PIPELINE_ID = 'bench-nomad-fanout';
const IMAGE = 'busybox:latest';
const COMMAND = ['echo', 'x'];
/** The label the stand-in puts on every container it starts (apps/nomad-dev/src/docker-task.runner.ts). */
const STAND_IN_LABEL = 'gofer.nomad-dev.instance';
/** The task group and task names Gofer's Nomad scheduler uses; the bare job is the same job. */
const GROUP = 'gofer';
const TASK = 'task';
const TERMINAL = new Set(['complete', 'failed', 'lost']);

/** What a Gofer cluster needs to schedule on the stand-in (containers on the host network, as in Docker mode). */
export function nomadEnv(standIn) {
  return { GOFER_SCHEDULER: 'nomad', GOFER_NOMAD_ADDR: standIn.address, GOFER_NOMAD_NETWORK_MODE: 'host' };
}

/**
 * Marks the requests of this process: `bare` the loop's, `settle` the reads between rounds (not
 * counted). Unmarked requests are Gofer's; those it makes while the bare loop runs (its reconciler)
 * are counted on neither side.
 */
const SIDE_HEADER = 'x-gofer-bench-side';
const BARE = { [SIDE_HEADER]: 'bare' };

/** One Nomad HTTP API call with Node's fetch: the body as text and the `X-Nomad-Index` header. */
async function nomad(address, method, path, body, headers = {}) {
  const response = await fetch(`${address}${path}`, {
    method,
    headers: { ...headers, ...(body !== undefined && { 'Content-Type': 'application/json' }) },
    ...(body !== undefined && { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`Nomad ${method} ${path}: HTTP ${response.status}: ${text}`);
  return { index: Number(response.headers.get('x-nomad-index') ?? 0), text };
}

/** The batch job Gofer registers for a task attempt (libs/scheduler/src/nomad/nomad.scheduler.ts), minus Gofer's labels and env. */
function batchJob(id, label) {
  const [command, ...args] = COMMAND;
  return {
    ID: id, Name: id, Type: 'batch', Datacenters: ['*'], Meta: { 'gofer-bench': label },
    TaskGroups: [{
      Name: GROUP, Count: 1,
      RestartPolicy: { Attempts: 0, Mode: 'fail', Interval: 24 * 3600e9, Delay: 0 },
      ReschedulePolicy: { Attempts: 0, Unlimited: false },
      Tasks: [{
        Name: TASK, Driver: 'docker',
        Config: { image: IMAGE, command, args, network_mode: 'host', labels: { 'gofer-bench': label } },
        Env: {}, KillTimeout: 10e9, Meta: { 'gofer-bench': label },
      }],
    }],
  };
}

/** One task without an orchestrator: register, wait for the allocation to end, read stdout, deregister. */
async function bareTask(address, id, label, calls) {
  const timed = async (name, promise) => {
    const t0 = performance.now();
    const result = await promise;
    (calls[name] ??= []).push(performance.now() - t0);
    return result;
  };
  const t0 = performance.now();
  await timed('register', nomad(address, 'PUT', '/v1/jobs', { Job: batchJob(id, label) }, BARE));
  const alloc = await timed('wait', (async () => {
    let index = 0;
    for (;;) {
      const answer = await nomad(address, 'GET', `/v1/job/${encodeURIComponent(id)}/allocations?index=${index}&wait=30s`, undefined, BARE);
      const current = JSON.parse(answer.text).find((a) => a.TaskGroup === GROUP);
      if (current && TERMINAL.has(current.ClientStatus)) return current;
      index = answer.index < index ? 0 : Math.max(answer.index, 1);
    }
  })());
  const { text: logs } = await timed('logs', nomad(address, 'GET', `/v1/client/fs/logs/${alloc.ID}?task=${TASK}&type=stdout&plain=true`, undefined, BARE));
  const latencyMs = performance.now() - t0;
  await timed('deregister', nomad(address, 'DELETE', `/v1/job/${encodeURIComponent(id)}?purge=true`, undefined, BARE));
  const exitCode = alloc.TaskStates?.[TASK]?.Events?.findLast((e) => e.Type === 'Terminated')?.ExitCode;
  if (alloc.ClientStatus !== 'complete' || exitCode !== 0 || !logs.includes('x')) {
    throw new Error(`bare Nomad job ${id} ended ${alloc.ClientStatus} (exit code ${exitCode}), stdout ${JSON.stringify(logs)}`);
  }
  return { latencyMs, slotMs: performance.now() - t0 };
}

async function bareRound(address, tasks, concurrency, label, roundName) {
  const calls = {};
  const t0 = performance.now();
  const results = await mapLimit(Array.from({ length: tasks }, (_, i) => i), concurrency,
    (i) => bareTask(address, `bench-nomad-${label}-${roundName}-${String(i).padStart(2, '0')}`, label, calls));
  const wallMs = performance.now() - t0;
  const slotMs = results.map((r) => r.slotMs);
  return {
    wallMs,
    latenciesMs: results.map((r) => r.latencyMs),
    busySlots: slotMs.reduce((a, b) => a + b, 0) / wallMs,
    slotMeanMs: slotMs.reduce((a, b) => a + b, 0) / slotMs.length,
    callMeanMs: Object.fromEntries(Object.entries(calls).map(([name, v]) => [name, v.reduce((a, b) => a + b, 0) / v.length])),
  };
}

/**
 * Counts the requests the stand-in serves to one side (`gofer` or `bare`, by {@link SIDE_HEADER}), by
 * method and route (ids replaced by `:id`; a blocking query and a followed log are told apart), from
 * Node's `http.server.request.start` diagnostics channel.
 */
function requestCounter(port) {
  let counts = {};
  let counting;
  const onStart = ({ request }) => {
    if (request.socket.localPort !== port || (request.headers[SIDE_HEADER] ?? 'gofer') !== counting) return;
    const url = new URL(request.url, 'http://stand-in');
    const path = url.pathname.replace(/^\/v1\/(job|allocation|evaluation|client\/fs\/logs|client\/allocation)\/[^/]+/, '/v1/$1/:id');
    const flags = [Number(url.searchParams.get('index') ?? 0) > 0 && 'blocking', url.searchParams.get('follow') === 'true' && 'follow'].filter(Boolean);
    const key = `${request.method} ${path}${flags.length > 0 ? ` (${flags.join(', ')})` : ''}`;
    counts[key] = (counts[key] ?? 0) + 1;
  };
  dc.subscribe('http.server.request.start', onStart);
  return {
    /** Counts `side`'s requests from now on. */
    start(side) {
      counts = {};
      counting = side;
    },
    /** The counts since {@link start}. */
    take() {
      counting = undefined;
      return counts;
    },
    close: () => dc.unsubscribe('http.server.request.start', onStart),
  };
}

/**
 * @param cluster a cluster in Nomad mode on `standIn` ({@link nomadEnv}), started with GOFER_WORKER_CONCURRENCY = concurrency
 * @param standIn the running Nomad stand-in (`startNomadStandIn()` from apps/nomad-dev/dist)
 * @param {{ tasks: number, concurrency: number, rounds: number, log: (line: string) => void }} options
 */
export async function nomadFanOutBench(cluster, standIn, { tasks, concurrency, rounds, log }) {
  await cluster.apply({
    id: PIPELINE_ID,
    tasks: Array.from({ length: tasks }, (_, i) => ({ id: `t${String(i).padStart(2, '0')}`, image: IMAGE, command: COMMAND })),
  });
  const { address } = standIn;
  const bareLabel = `nomad-fanout-${process.pid}`;
  const requests = requestCounter(Number(new URL(address).port));
  // Both sides are done once the stand-in holds no job and no container (Gofer purges each job after
  // recording its task's end, so the last ones may trail the run's end).
  const settle = async () => {
    const deadline = Date.now() + 60_000;
    while (JSON.parse((await nomad(address, 'GET', '/v1/jobs', undefined, { [SIDE_HEADER]: 'settle' })).text).length > 0) {
      if (Date.now() > deadline) throw new Error(`jobs left on the Nomad stand-in after 60 s; see ${cluster.logFile}`);
      await sleep(100);
    }
    await waitNoContainers({ [STAND_IN_LABEL]: standIn.instanceId });
  };
  const gofer = async () => {
    const { run, wallMs } = await runAndWait(cluster.client, PIPELINE_ID, { pollMs: 100 });
    if (run.status !== 'RUN_STATUS_SUCCESSFUL') throw new Error(`Nomad fan-out run ${run.id} ended ${run.status}; see ${cluster.logFile}`);
    const [times] = await runTimes(cluster, PIPELINE_ID, [run.id]);
    const taskRows = await taskTimes(cluster, PIPELINE_ID, [run.id]);
    const dbMs = times.ended - times.created;
    return {
      runId: run.id,
      wallMs,
      dbMs,
      latenciesMs: taskRows.map((t) => t.ended - t.started),
      firstClaimMs: Math.min(...taskRows.map((t) => t.started)) - times.created,
      lastCompletionToRunEndMs: times.ended - Math.max(...taskRows.map((t) => t.ended)),
      busySlots: taskRows.reduce((a, t) => a + (t.ended - t.started), 0) / dbMs,
    };
  };

  try {
    log(`nomad-fan-out: warm-up (1 Gofer run + 1 bare Nomad API loop of ${tasks} tasks, not counted)`);
    await gofer();
    await settle();
    await bareRound(address, tasks, concurrency, bareLabel, 'warmup');
    await settle();

    const measured = [];
    const goferLatencies = [];
    const bareLatencies = [];
    for (let r = 0; r < rounds; r++) {
      // Alternate which goes first, so a drift of the machine over time does not favour one side.
      const order = r % 2 === 0 ? ['gofer', 'bare'] : ['bare', 'gofer'];
      const result = { round: r + 1, order: order.join(' then ') };
      for (const side of order) {
        await sleep(500); // let dockerd finish its own clean-up before the next measurement
        // CPU and requests are counted until the side's jobs and containers are all gone.
        const cpuBefore = cpuSnapshot(cluster.pid);
        requests.start(side);
        if (side === 'gofer') {
          const g = await gofer();
          result.goferMs = g.dbMs;
          result.goferClientMs = g.wallMs;
          result.goferFirstClaimMs = g.firstClaimMs;
          result.goferLastCompletionToRunEndMs = g.lastCompletionToRunEndMs;
          result.goferBusySlots = g.busySlots;
          goferLatencies.push(...g.latenciesMs);
          await settle();
          result.goferCpu = cpuDelta(cpuBefore, cpuSnapshot(cluster.pid));
          result.goferRequests = requests.take();
        } else {
          const bare = await bareRound(address, tasks, concurrency, bareLabel, r + 1);
          result.bareMs = bare.wallMs;
          result.bareSlotMeanMs = bare.slotMeanMs;
          result.bareCallMeanMs = bare.callMeanMs;
          result.bareBusySlots = bare.busySlots;
          bareLatencies.push(...bare.latenciesMs);
          await settle();
          result.bareCpu = cpuDelta(cpuBefore, cpuSnapshot(cluster.pid));
          result.bareRequests = requests.take();
        }
      }
      result.ratio = result.goferMs / result.bareMs;
      log(`nomad-fan-out round ${r + 1} (${result.order}): gofer ${round(result.goferMs, 0)} ms, bare ${round(result.bareMs, 0)} ms, ratio ${round(result.ratio, 3)}`);
      measured.push(result);
    }
    const goferMs = median(measured.map((m) => m.goferMs));
    const goferClientMs = median(measured.map((m) => m.goferClientMs));
    const bareMs = median(measured.map((m) => m.bareMs));
    const perTask = (side, group) => median(measured.map((m) => m[`${side}Cpu`].cpuSeconds[group] / tasks)) * 1000;
    const requestsPerTask = (side) => {
      const last = measured.at(-1)[`${side}Requests`];
      return Object.fromEntries(Object.entries(last).sort(([, a], [, b]) => b - a).map(([k, v]) => [k, v / tasks]));
    };
    return {
      tasks,
      concurrency,
      rounds: measured,
      goferMedianMs: goferMs,
      goferClientMedianMs: goferClientMs,
      bareMedianMs: bareMs,
      ratioOfMedians: goferMs / bareMs,
      clientRatioOfMedians: goferClientMs / bareMs,
      medianOfRatios: median(measured.map((m) => m.ratio)),
      /** Per task, pooled over the measured rounds: Gofer claimed → completion recorded; bare register → logs read. */
      goferTaskMs: summary(goferLatencies),
      bareTaskMs: summary(bareLatencies),
      goferFirstClaimMedianMs: median(measured.map((m) => m.goferFirstClaimMs)),
      goferLastCompletionToRunEndMedianMs: median(measured.map((m) => m.goferLastCompletionToRunEndMs)),
      goferBusySlotsMedian: median(measured.map((m) => m.goferBusySlots)),
      bareBusySlotsMedian: median(measured.map((m) => m.bareBusySlots)),
      bareSlotMedianMs: median(measured.map((m) => m.bareSlotMeanMs)),
      /** The bare loop's mean time per task in each call (`wait`: the blocking queries until terminal), median over rounds. */
      bareCallMedianMs: Object.fromEntries(Object.keys(measured[0].bareCallMeanMs).map((name) => [name, median(measured.map((m) => m.bareCallMeanMs[name]))])),
      /** Nomad API requests per task the stand-in served, last round. */
      requestsPerTask: { gofer: requestsPerTask('gofer'), bare: requestsPerTask('bare') },
      /** CPU milliseconds per task, median over rounds; `driver` is this process: the stand-in, and on the bare side the loop. */
      cpuMsPerTask: {
        gofer: { goferProcess: perTask('gofer', 'gofer'), standIn: perTask('gofer', 'driver'), docker: perTask('gofer', 'docker'), postgres: perTask('gofer', 'postgres'), others: perTask('gofer', 'others') },
        bare: { standInAndLoop: perTask('bare', 'driver'), docker: perTask('bare', 'docker'), others: perTask('bare', 'others') },
      },
    };
  } finally {
    requests.close();
  }
}
