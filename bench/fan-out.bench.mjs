// Fan-out: N independent trivial containers through Gofer vs a bare Docker API loop at the same
// concurrency, in alternating order, round after round. Gofer's wall time runs from the StartRun call
// to the GetRun poll that sees the run complete.
import { setTimeout as sleep } from 'node:timers/promises';
import { docker, runAndWait, runTimes, waitNoContainers } from './support/cluster.mjs';
import { mapLimit, median, round } from './support/stats.mjs';

const PIPELINE_ID = 'bench-fanout';
const IMAGE = 'busybox:latest';
const COMMAND = ['echo', 'x'];

/** The same work Gofer's Docker scheduler does for one task, without the orchestrator. */
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
    await sleep(500); // let dockerd finish its own clean-up before the next measurement
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
  for (let r = 0; r < rounds; r++) {
    // Alternate which goes first, so a drift of the machine over time does not favour one side.
    const order = r % 2 === 0 ? ['gofer', 'bare'] : ['bare', 'gofer'];
    const round_ = { round: r + 1, order: order.join(' then ') };
    for (const side of order) {
      if (side === 'gofer') {
        const g = await gofer();
        round_.goferMs = g.wallMs;
        round_.goferDbMs = g.dbMs;
      } else {
        round_.bareMs = await bareRound(tasks, concurrency, bareLabel);
      }
      await settle();
    }
    round_.ratio = round_.goferMs / round_.bareMs;
    log(`fan-out round ${r + 1} (${round_.order}): gofer ${round(round_.goferMs, 0)} ms, bare ${round(round_.bareMs, 0)} ms, ratio ${round(round_.ratio, 3)}`);
    measured.push(round_);
  }
  const goferMs = median(measured.map((m) => m.goferMs));
  const bareMs = median(measured.map((m) => m.bareMs));
  return {
    tasks,
    concurrency,
    rounds: measured,
    goferMedianMs: goferMs,
    goferDbMedianMs: median(measured.map((m) => m.goferDbMs)),
    bareMedianMs: bareMs,
    ratioOfMedians: goferMs / bareMs,
    medianOfRatios: median(measured.map((m) => m.ratio)),
    target: 1.15,
  };
}
