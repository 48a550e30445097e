// Fan-out: N independent trivial containers through Gofer vs a bare Docker API loop at the same
// concurrency, in alternating order, round after round. Gofer's wall time runs from the StartRun call
// to the GetRun poll (every 20 ms) that sees the run complete.
import { setTimeout as sleep } from 'node:timers/promises';
import { docker, runAndWait, runTimes, waitNoContainers } from './support/cluster.mjs';
import { cpuDelta, cpuSnapshot } from './support/cpu.mjs';
import { mapLimit, median, round } from './support/stats.mjs';

const PIPELINE_ID = 'bench-fanout';
const IMAGE = 'busybox:latest';
const COMMAND = ['echo', 'x'];

/** The engine work of one task without an orchestrator: create, start, wait, read logs, remove. */
async function bareContainer(index, label) {
  const container = await docker.createContainer({
    Image: IMAGE,
    Cmd: COMMAND,
    Labels: { 'gofer-bench': label },
    HostConfig: { NetworkMode: 'host' },
  });
  await container.start();
  const { StatusCode } = await container.wait();
  const logs = await container.logs({ stdout: true, stderr: true, follow: false });
  await container.remove({ force: true, v: true });
  if (StatusCode !== 0 || !logs.toString().includes('x')) throw new Error(`bare container ${index} exited ${StatusCode}`);
}

async function bareRound(tasks, concurrency, label) {
  const t0 = performance.now();
  await mapLimit(Array.from({ length: tasks }, (_, i) => i), concurrency, (i) => bareContainer(i, label));
  return performance.now() - t0;
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
    const { run, wallMs } = await runAndWait(cluster.client, PIPELINE_ID, { pollMs: 20 });
    if (run.status !== 'RUN_STATUS_SUCCESSFUL') throw new Error(`fan-out run ${run.id} ended ${run.status}; see ${cluster.logFile}`);
    const [times] = await runTimes(cluster, PIPELINE_ID, [run.id]);
    return { runId: run.id, wallMs, dbMs: times.ended - times.created };
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
        result.goferMs = g.wallMs;
        result.goferDbMs = g.dbMs;
        await settle();
        result.goferCpu = cpuDelta(cpuBefore, cpuSnapshot(cluster.pid));
        goferStats.push(await cluster.stats());
      } else {
        result.bareMs = await bareRound(tasks, concurrency, bareLabel);
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
    goferDbMedianMs: median(measured.map((m) => m.goferDbMs)),
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
