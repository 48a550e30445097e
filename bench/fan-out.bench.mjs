// Fan-out: N independent trivial containers through Gofer vs a bare Docker API loop at the same
// concurrency, in alternating order, round after round. Gofer's wall time is the run's created → ended
// in Postgres; the client's view (StartRun call → the GetRun poll, every 100 ms, that sees it complete)
// is reported beside it. Polling is kept coarse because the Gofer process answers every poll.
import { setTimeout as sleep } from 'node:timers/promises';
import { docker, runAndWait, runTimes, taskTimes, waitNoContainers } from './support/cluster.mjs';
import { cpuDelta, cpuSnapshot } from './support/cpu.mjs';
import { mapLimit, median, round } from './support/stats.mjs';

const PIPELINE_ID = 'bench-fanout';
const IMAGE = 'busybox:latest';
const COMMAND = ['echo', 'x'];

/** The engine work of one task without an orchestrator: create, start, wait, read logs, remove. */
async function bareContainer(index, label, calls) {
  const timed = async (name, promise) => {
    const t0 = performance.now();
    const result = await promise;
    (calls[name] ??= []).push(performance.now() - t0);
    return result;
  };
  const t0 = performance.now();
  const container = await timed('create', docker.createContainer({
    Image: IMAGE,
    Cmd: COMMAND,
    Labels: { 'gofer-bench': label },
    HostConfig: { NetworkMode: 'host' },
  }));
  await timed('start', container.start());
  const { StatusCode } = await timed('wait', container.wait());
  const logs = await timed('logs', container.logs({ stdout: true, stderr: true, follow: false }));
  await timed('remove', container.remove({ force: true, v: true }));
  if (StatusCode !== 0 || !logs.toString().includes('x')) throw new Error(`bare container ${index} exited ${StatusCode}`);
  return performance.now() - t0;
}

async function bareRound(tasks, concurrency, label) {
  const calls = {};
  const t0 = performance.now();
  const durations = await mapLimit(Array.from({ length: tasks }, (_, i) => i), concurrency, (i) => bareContainer(i, label, calls));
  const wallMs = performance.now() - t0;
  return {
    wallMs,
    busySlots: durations.reduce((a, b) => a + b, 0) / wallMs,
    containerMeanMs: durations.reduce((a, b) => a + b, 0) / durations.length,
    callMeanMs: Object.fromEntries(Object.entries(calls).map(([name, v]) => [name, v.reduce((a, b) => a + b, 0) / v.length])),
  };
}

/**
 * @param cluster a Docker-scheduler cluster started with GOFER_WORKER_CONCURRENCY = concurrency
 * @param {{ tasks: number, concurrency: number, rounds: number, log: (line: string) => void }} options
 */
export async function fanOutBench(cluster, { tasks, concurrency, rounds, log }) {
  await cluster.apply({
    id: PIPELINE_ID,
    tasks: Array.from({ length: tasks }, (_, i) => ({ id: `t${String(i).padStart(2, '0')}`, image: IMAGE, command: COMMAND })),
  });
  const clusterLabel = { 'gofer.cluster': await cluster.clusterId() };
  const bareLabel = `fanout-${process.pid}`;
  const settle = async () => {
    await waitNoContainers(clusterLabel);
    await waitNoContainers({ 'gofer-bench': bareLabel });
  };
  const gofer = async () => {
    const { run, wallMs } = await runAndWait(cluster.client, PIPELINE_ID, { pollMs: 100 });
    if (run.status !== 'RUN_STATUS_SUCCESSFUL') throw new Error(`fan-out run ${run.id} ended ${run.status}; see ${cluster.logFile}`);
    const [times] = await runTimes(cluster, PIPELINE_ID, [run.id]);
    const tasks = await taskTimes(cluster, PIPELINE_ID, [run.id]);
    const dbMs = times.ended - times.created;
    return {
      runId: run.id,
      wallMs,
      dbMs,
      // Where the run's time went besides containers: before the first claim, after the last completion,
      // and how many of the worker's slots held a claimed task on average.
      firstClaimMs: Math.min(...tasks.map((t) => t.started)) - times.created,
      lastCompletionToRunEndMs: times.ended - Math.max(...tasks.map((t) => t.ended)),
      busySlots: tasks.reduce((a, t) => a + (t.ended - t.started), 0) / dbMs,
    };
  };

  log(`fan-out: warm-up (1 Gofer run + 1 bare loop of ${tasks} containers, not counted)`);
  await gofer();
  await settle();
  await bareRound(tasks, concurrency, bareLabel);
  await settle();

  const measured = [];
  const goferStats = [];
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first, so a drift of the machine over time does not favour one side.
    const order = r % 2 === 0 ? ['gofer', 'bare'] : ['bare', 'gofer'];
    const result = { round: r + 1, order: order.join(' then ') };
    for (const side of order) {
      await sleep(500); // let dockerd finish its own clean-up before the next measurement
      // CPU is counted until the side's containers are all gone: Gofer removes them after the run ends.
      const cpuBefore = cpuSnapshot(cluster.pid);
      if (side === 'gofer') {
        await cluster.resetStats();
        const g = await gofer();
        result.goferMs = g.dbMs;
        result.goferClientMs = g.wallMs;
        result.goferFirstClaimMs = g.firstClaimMs;
        result.goferLastCompletionToRunEndMs = g.lastCompletionToRunEndMs;
        result.goferBusySlots = g.busySlots;
        await settle();
        result.goferCpu = cpuDelta(cpuBefore, cpuSnapshot(cluster.pid));
        goferStats.push(await cluster.stats());
      } else {
        const bare = await bareRound(tasks, concurrency, bareLabel);
        result.bareMs = bare.wallMs;
        result.bareContainerMeanMs = bare.containerMeanMs;
        result.bareCallMeanMs = bare.callMeanMs;
        result.bareBusySlots = bare.busySlots;
        await settle();
        result.bareCpu = cpuDelta(cpuBefore, cpuSnapshot(cluster.pid));
      }
    }
    result.ratio = result.goferMs / result.bareMs;
    log(`fan-out round ${r + 1} (${result.order}): gofer ${round(result.goferMs, 0)} ms, bare ${round(result.bareMs, 0)} ms, ratio ${round(result.ratio, 3)}`);
    measured.push(result);
  }
  const goferMs = median(measured.map((m) => m.goferMs));
  const bareMs = median(measured.map((m) => m.bareMs));
  const perContainer = (side, group) => median(measured.map((m) => m[`${side}Cpu`].cpuSeconds[group] / tasks)) * 1000;
  return {
    tasks,
    concurrency,
    rounds: measured,
    goferMedianMs: goferMs,
    goferClientMedianMs: median(measured.map((m) => m.goferClientMs)),
    bareContainerMedianMs: median(measured.map((m) => m.bareContainerMeanMs)),
    goferFirstClaimMedianMs: median(measured.map((m) => m.goferFirstClaimMs)),
    goferLastCompletionToRunEndMedianMs: median(measured.map((m) => m.goferLastCompletionToRunEndMs)),
    goferBusySlotsMedian: median(measured.map((m) => m.goferBusySlots)),
    bareBusySlotsMedian: median(measured.map((m) => m.bareBusySlots)),
    bareMedianMs: bareMs,
    ratioOfMedians: goferMs / bareMs,
    medianOfRatios: median(measured.map((m) => m.ratio)),
    /** CPU milliseconds per container, median over rounds: what each side makes the machine spend. */
    cpuMsPerContainer: {
      gofer: { goferProcess: perContainer('gofer', 'gofer'), docker: perContainer('gofer', 'docker'), postgres: perContainer('gofer', 'postgres'), others: perContainer('gofer', 'others') },
      bare: { driver: perContainer('bare', 'driver'), docker: perContainer('bare', 'docker'), others: perContainer('bare', 'others') },
    },
    goferInstruments: goferStats,
    target: 1.15,
  };
}
