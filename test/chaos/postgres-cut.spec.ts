import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Run } from '@gofer/proto';
import { ContainerCreations } from '../support/docker-events.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { TestCluster, waitFor } from '../support/gofer-process.js';
import { apply, startRun, waitForRun } from '../support/runs.js';

/** Fan-out with a retry and short sleeps: every run ends successful, `flaky` on its second attempt. */
const PIPELINE = `
id: chaos
tasks:
  - { id: root, image: "busybox:latest", script: "echo root" }
  - { id: left, image: "busybox:latest", script: "sleep 1; echo left", depends_on: { root: success } }
  - { id: right, image: "busybox:latest", script: "sleep 1; echo right", depends_on: { root: success } }
  - id: flaky
    image: busybox:latest
    script: 'if [ "$GOFER_TASK_ATTEMPT" = 1 ]; then exit 7; fi; sleep 1; echo flaky'
    retries: { attempts: 3, backoff: 200ms }
    depends_on: { root: success }
  - { id: join, image: "busybox:latest", script: "echo join", depends_on: { left: success, right: success, flaky: success } }
`;
/** The attempts each run's tasks end on; one container per attempt. */
const ATTEMPTS: Record<string, number> = { root: 1, left: 1, right: 1, flaky: 2, join: 1 };
const CONTAINERS_PER_RUN = Object.values(ATTEMPTS).reduce((a, b) => a + b, 0);
/** How long the worker is cut off from Postgres (issue 10's scenario). */
const CUT_MS = 20_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('chaos: a worker cut off from Postgres', () => {
  const clusters: TestCluster[] = [];
  const watchers: ContainerCreations[] = [];
  const proxies: FaultProxy[] = [];
  afterEach(async () => {
    watchers.splice(0).forEach((w) => w.stop());
    await Promise.all(proxies.splice(0).map((p) => p.close()));
  });
  afterAll(async () => Promise.all(clusters.map((c) => c.destroy())));

  // drop: connections reset and refused (Postgres down or firewalled); stall: connections held with
  // nothing moving (a black-holed route), the nastier case, since nothing errors until TCP gives up.
  it.each(['drop', 'stall'] as const)('%s for 20 s: no run lost, no attempt started twice, the worker survives and serves again', async (fault) => {
    const cluster = await TestCluster.create(`pgcut_${fault}`);
    clusters.push(cluster);
    const proxy = await FaultProxy.start({ port: Number(new URL(cluster.databaseUrl).port) });
    proxies.push(proxy);
    const api = await cluster.start('api');
    const steady = await cluster.start('worker', { GOFER_WORKER_CONCURRENCY: '4' });
    const victim = await cluster.start('worker', { GOFER_WORKER_CONCURRENCY: '4', GOFER_DATABASE_URL: proxy.rewrite(cluster.databaseUrl) });
    const client = cluster.client(api);
    const creations = await ContainerCreations.watch({ 'gofer.cluster': await cluster.clusterId() });
    watchers.push(creations);
    await apply(client, PIPELINE);

    // A steady stream of runs, one a second, from before the cut until after it ends.
    const runs: Run[] = [];
    let streaming = true;
    const stream = (async () => {
      while (streaming) {
        runs.push(await startRun(client, 'chaos'));
        await sleep(1_000);
      }
    })();

    let cutAt = 0;
    let restoredAt = 0;
    let strandedBefore: { run_id: number; task_id: string }[] = [];
    try {
      // Cut the victim off once it is running a task of its own, so the cut strands real work.
      await waitFor('the victim to run a task', async () => {
        if (runs.length < 3) return undefined;
        const rows = await cluster.query(`SELECT 1 FROM task_runs WHERE worker_id = $1 AND state = 'running'`, [victim.workerId]);
        return rows.length ? true : undefined;
      });
      strandedBefore = await runningOn(cluster, victim.workerId);
      proxy[fault]();
      cutAt = Date.now();
      await sleep(CUT_MS);
      expect(victim.child.exitCode, `the victim exited during the cut:\n${victim.output().slice(-4000)}`).toBe(null);
      proxy.restore();
      restoredAt = Date.now();
      await sleep(3_000);
    } finally {
      streaming = false;
      await stream;
    }

    for (const run of runs) {
      const { run: done, tasks } = await waitForRun(client, 'chaos', run.id, 90_000);
      expect(done.status, `run ${run.id}`).toBe('RUN_STATUS_SUCCESSFUL');
      expect(Object.fromEntries(Object.values(tasks).map((t) => [t.taskId, t.attempt])), `run ${run.id}`).toEqual(ATTEMPTS);
    }
    const allDoneAt = Date.now();

    // Every attempt's container was created exactly once: no duplicate, none lost.
    const expected = runs.length * CONTAINERS_PER_RUN;
    await waitFor('docker events to arrive', async () => (creations.names.length >= expected ? true : undefined), 10_000);
    const counts = creations.counts();
    expect([...counts.entries()].filter(([, n]) => n !== 1)).toEqual([]);
    expect(counts.size).toBe(expected);
    // task_runs holds one row per task run, its current attempt numbering the attempts before it.
    const attempts = await cluster.query<{ n: number }>(`SELECT sum(attempt)::int AS n FROM task_runs`);
    expect(attempts[0].n).toBe(expected);

    // The victim is alive, serves /healthz again and reconnected through the proxy.
    expect(victim.child.exitCode, victim.output().slice(-4000)).toBe(null);
    expect(victim.child.signalCode).toBe(null);
    await waitFor('the victim to be healthy', async () => ((await fetch(`http://${victim.httpAddr}/healthz`)).ok ? true : undefined), 30_000);
    await waitFor('the victim to reconnect through the proxy', async () => (proxy.stats().active > 0 ? true : undefined), 30_000);
    // It stopped taking jobs while it could not heartbeat (they went to the other worker), and took them again after.
    const paused = victim.output().indexOf('taking no new work until it answers');
    expect(paused, 'the victim paused its intake').toBeGreaterThan(-1);
    expect(victim.output().indexOf('heartbeat landed again: taking new work', paused)).toBeGreaterThan(paused);
    expect(steady.child.exitCode).toBe(null);

    // Who finished the attempts the cut stranded, and when the victim worked again (reported, not asserted).
    const stranded = await cluster.query<{ run_id: number; task_id: string; worker_id: string }>(
      `SELECT run_id, task_id, worker_id FROM task_runs WHERE (run_id, task_id) IN (SELECT * FROM unnest($1::int[], $2::text[]))`,
      [strandedBefore.map((s) => s.run_id), strandedBefore.map((s) => s.task_id)],
    );
    const [{ first }] = await cluster.query<{ first: Date | null }>(
      `SELECT min(started) AS first FROM task_runs WHERE worker_id = $1 AND started > to_timestamp($2 / 1000.0)`,
      [victim.workerId, restoredAt],
    );
    const warnings = victim.output().split('\n').filter((line) => /"level":(40|50|60)/.test(line)).length;
    console.log([
      `chaos postgres-cut (${fault}): ${runs.length} runs, ${expected} attempts, ${creations.names.length} container creations, 0 duplicates, 0 losses`,
      `  cut for ${restoredAt - cutAt} ms; stranded on the victim: ${stranded.map((s) => `${s.run_id}/${s.task_id} finished by ${s.worker_id === victim.workerId ? 'the victim' : 'the other worker'}`).join(', ') || 'none'}`,
      `  victim started a task again ${first ? `${new Date(first).getTime() - restoredAt} ms` : 'never'} after restore; all runs complete ${allDoneAt - restoredAt} ms after restore`,
      `  victim logged ${warnings} warnings and errors; proxy: ${JSON.stringify(proxy.stats())}`,
    ].join('\n'));
  }, 180_000);
});

async function runningOn(cluster: TestCluster, workerId: string) {
  return cluster.query<{ run_id: number; task_id: string }>(
    `SELECT run_id, task_id FROM task_runs WHERE worker_id = $1 AND state = 'running'`, [workerId],
  );
}
