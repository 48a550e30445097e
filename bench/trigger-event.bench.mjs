// Trigger event → first task's container started (issue 9's benchmark). A trigger's event is posted
// exactly as a trigger posts it, `PostTriggerEvent` over gRPC with the trigger's key, for a pipeline
// subscribed to the built-in `interval` trigger (at every 24h it never fires during the benchmark, so
// every run is one of ours). Each event has its own idempotency key and starts one run of one
// `busybox sh -c true` task. The bare side is a dockerode create + start of the same image and command.
//
// Both sides are timed on the same clock: t0 is this process's wall clock just before the call, t1 the
// `timeNano` of the container's `start` event from Docker's event stream. Events go one at a time (the
// next only after the previous run's container is removed, so it measures latency, not throughput),
// alternating Gofer and bare, and which goes first, so a drift of the machine favours neither side.
import { docker } from './support/cluster.mjs';
import { ContainerEvents, wallClock } from './support/docker-events.mjs';
import { round, summary } from './support/stats.mjs';

const PIPELINE_ID = 'bench-trigger';
const LABEL = 'bench';
/** The built-in trigger the pipeline subscribes to; its image must exist (scripts/test-images.mjs builds it). */
export const TRIGGER = 'interval';
const IMAGE = 'busybox:latest';
/** What a task's `script: "true"` becomes (libs/pipeline/src/pipeline-config.validator.ts). */
const ENTRYPOINT = ['/bin/sh', '-c'];
const COMMAND = ['true'];

/**
 * @param cluster a Docker-scheduler cluster started with GOFER_BUILTIN_TRIGGERS=interval
 * @param {{ events: number, warmup: number, log: (line: string) => void }} options
 */
export async function triggerEventBench(cluster, { events, warmup, log }) {
  const now = wallClock();
  const clusterId = await cluster.clusterId();
  await waitForTrigger(cluster);
  await cluster.apply({
    id: PIPELINE_ID,
    tasks: [{ id: 't', image: IMAGE, script: COMMAND[0] }],
    triggers: [{ trigger: TRIGGER, label: LABEL, settings: { every: '24h' } }],
  });
  const [{ key }] = await cluster.query('SELECT key FROM triggers WHERE name = $1', [TRIGGER]);
  const { createGoferClient } = await import('@gofer/proto');
  const trigger = createGoferClient({ address: cluster.grpcAddr, timeoutMs: 30_000, token: key });

  const bareLabel = `trigger-${process.pid}`;
  const goferEvents = await ContainerEvents.watch(
    { 'gofer.cluster': clusterId, 'gofer.pipeline': PIPELINE_ID },
    (e) => `run ${e.Actor.Attributes['gofer.run']}`,
    ['create', 'start', 'destroy'],
  );
  const bareEvents = await ContainerEvents.watch({ 'gofer-bench': bareLabel }, (e) => e.Actor.ID, ['create', 'start']);

  let sequence = 0;
  const gofer = async () => {
    const idempotencyKey = `bench-${process.pid}-${++sequence}`;
    const t0 = now();
    const answer = await trigger.postTriggerEvent({
      trigger: TRIGGER, ref: { namespaceId: 'default', pipelineId: PIPELINE_ID, label: LABEL }, idempotencyKey, variables: {}, checkpoint: '',
    });
    const answered = now();
    if (answer.outcome !== 'TRIGGER_EVENT_OUTCOME_STARTED') throw new Error(`event ${idempotencyKey}: outcome ${answer.outcome}; see ${cluster.logFile}`);
    const { times } = await goferEvents.until(`run ${answer.runId}`, 'start');
    // The next event waits until Gofer is done with this one: it removes the container after recording the run's end.
    await goferEvents.until(`run ${answer.runId}`, 'destroy');
    return { runId: answer.runId, t0, answeredMs: answered - t0, createdMs: times.create - t0, startedMs: times.start - t0 };
  };
  const bare = async () => {
    const t0 = now();
    const container = await docker.createContainer({
      Image: IMAGE, Entrypoint: ENTRYPOINT, Cmd: COMMAND, Labels: { 'gofer-bench': bareLabel }, HostConfig: { NetworkMode: 'host' },
    });
    const created = now();
    try {
      await container.start();
      const { times } = await bareEvents.until(container.id, 'start');
      const { StatusCode } = await container.wait();
      if (StatusCode !== 0) throw new Error(`bare container ${container.id} exited ${StatusCode}`);
      return { createdMs: times.create - t0, startedMs: times.start - t0, createCallMs: created - t0 };
    } finally {
      await container.remove({ force: true, v: true });
    }
  };

  const measured = { gofer: [], bare: [] };
  try {
    log(`trigger-event: warm-up (${warmup} events and ${warmup} bare containers, not counted)`);
    for (let i = 0; i < warmup; i++) {
      await gofer();
      await bare();
    }
    await cluster.resetStats();
    for (let i = 0; i < events; i++) {
      for (const side of i % 2 === 0 ? ['gofer', 'bare'] : ['bare', 'gofer']) {
        measured[side].push(side === 'gofer' ? await gofer() : await bare());
      }
      if ((i + 1) % 50 === 0) {
        const p50 = (side) => round(summary(measured[side].map((m) => m.startedMs)).p50, 1);
        log(`trigger-event: ${i + 1}/${events} events; p50 so far gofer ${p50('gofer')} ms, bare ${p50('bare')} ms`);
      }
    }
  } finally {
    trigger.close();
    goferEvents.stop();
    bareEvents.stop();
  }
  const stats = await cluster.stats();

  // Where Gofer's time goes, from Postgres (same machine, same clock): the run row is written by the
  // transaction that accepts the event; a task run's `started` when a worker claims its attempt.
  const runIds = measured.gofer.map((m) => m.runId);
  const rows = await cluster.query(
    `SELECT r.id, r.status, r.started_by, extract(epoch FROM r.created) * 1000 AS created, extract(epoch FROM t.started) * 1000 AS claimed
     FROM runs r JOIN task_runs t ON t.namespace_id = r.namespace_id AND t.pipeline_id = r.pipeline_id AND t.run_id = r.id
     WHERE r.namespace_id = 'default' AND r.pipeline_id = $1 AND r.id = ANY($2::int[])`,
    [PIPELINE_ID, runIds],
  );
  const byRun = new Map(rows.map((r) => [Number(r.id), r]));
  const failed = rows.filter((r) => r.status !== 'successful' || r.started_by !== `trigger/${TRIGGER}/${LABEL}`);
  if (rows.length !== events || failed.length > 0) {
    throw new Error(`expected ${events} successful runs started by trigger/${TRIGGER}/${LABEL}; found ${rows.length}, of which ${failed.length} not (${JSON.stringify(failed[0])})`);
  }
  const gap = (from, to) => measured.gofer.map((m) => {
    const row = byRun.get(m.runId);
    const at = { t0: m.t0, runCreated: Number(row.created), claimed: Number(row.claimed), containerCreated: m.t0 + m.createdMs, containerStarted: m.t0 + m.startedMs };
    return at[to] - at[from];
  });

  const goferMs = summary(measured.gofer.map((m) => m.startedMs));
  const bareMs = summary(measured.bare.map((m) => m.startedMs));
  return {
    events,
    warmup,
    image: IMAGE,
    command: [...ENTRYPOINT, ...COMMAND],
    trigger: TRIGGER,
    /** t0 (just before PostTriggerEvent, or before create) → the container's `start` event. */
    goferMs,
    bareMs,
    ratio: { p50: goferMs.p50 / bareMs.p50, p99: goferMs.p99 / bareMs.p99, mean: goferMs.mean / bareMs.mean },
    goferPartsMs: {
      postTriggerEventAnswered: summary(measured.gofer.map((m) => m.answeredMs)),
      eventToRunCreated: summary(gap('t0', 'runCreated')),
      runCreatedToClaimed: summary(gap('runCreated', 'claimed')),
      claimedToContainerCreated: summary(gap('claimed', 'containerCreated')),
      containerCreatedToStarted: summary(gap('containerCreated', 'containerStarted')),
    },
    barePartsMs: {
      toContainerCreated: summary(measured.bare.map((m) => m.createdMs)),
      createCallAnswered: summary(measured.bare.map((m) => m.createCallMs)),
      containerCreatedToStarted: summary(measured.bare.map((m) => m.startedMs - m.createdMs)),
    },
    /**
     * Sanity of the shared clock: Docker's create event must fall between t0 and the create call's
     * answer on the bare side; a negative minimum would mean Docker's clock and this process's differ.
     */
    clockCheckMs: { bareCreateEventAfterT0Min: Math.min(...measured.bare.map((m) => m.createdMs)) },
    instruments: stats,
  };
}

/** Waits until the leader has started the trigger's container and it answers (bounded). */
async function waitForTrigger(cluster) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { trigger } = await cluster.client.getTrigger({ name: TRIGGER }).catch(() => ({ trigger: undefined }));
    if (trigger?.state === 'TRIGGER_STATE_RUNNING') return;
    if (Date.now() > deadline) {
      throw new Error(`trigger ${TRIGGER} is not running after 60 s (state ${trigger?.state}, last error: ${trigger?.lastError || '-'}); see ${cluster.logFile}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
