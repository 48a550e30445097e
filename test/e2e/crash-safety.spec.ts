import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { freePort, TestCluster, waitFor } from '../support/gofer-process.js';
import { ContainerCreations } from '../support/docker-events.js';
import { apply, readLogs, startRun, waitForRun } from '../support/runs.js';

describe('crash safety', () => {
  const clusters: TestCluster[] = [];
  const watchers: ContainerCreations[] = [];
  afterEach(() => watchers.splice(0).forEach((w) => w.stop()));
  afterAll(async () => Promise.all(clusters.map((c) => c.destroy())));

  async function newCluster(name: string, env: Record<string, string> = {}) {
    const cluster = await TestCluster.create(name, env);
    clusters.push(cluster);
    return cluster;
  }

  it('two workers run 120 tasks and no attempt runs twice', async () => {
    const cluster = await newCluster('fanout');
    const api = await cluster.start('api');
    await cluster.start('worker', { GOFER_WORKER_CONCURRENCY: '6' });
    await cluster.start('worker', { GOFER_WORKER_CONCURRENCY: '6' });
    const client = cluster.client(api);
    const creations = await ContainerCreations.watch({ 'gofer.cluster': await cluster.clusterId() });
    watchers.push(creations);
    const tasks = Array.from({ length: 30 }, (_, i) => `  - { id: t${i}, image: "busybox:latest", script: "echo task ${i}" }`);
    await apply(client, `id: fanout\ntasks:\n${tasks.join('\n')}\n`);
    const runs = await Promise.all([1, 2, 3, 4].map(() => startRun(client, 'fanout')));
    for (const run of runs) {
      const { run: done, tasks: taskRuns } = await waitForRun(client, 'fanout', run.id, 300_000);
      expect(done.status).toBe('RUN_STATUS_SUCCESSFUL');
      expect(Object.values(taskRuns).every((t) => t.attempt === 1 && t.exitCode === 0)).toBe(true);
    }
    // Both workers took part, and every attempt's container was created exactly once.
    const workers = await cluster.query<{ worker_id: string; n: number }>(
      'SELECT worker_id, count(*)::int AS n FROM task_runs GROUP BY worker_id',
    );
    expect(workers).toHaveLength(2);
    await waitFor('docker events to arrive', async () => (creations.names.length >= 120 ? true : undefined), 10_000);
    const counts = creations.counts();
    expect(counts.size).toBe(120);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
    expect(await readLogs(client, 'fanout', 3, 't17')).toBe('task 17\n');
  });

  it('SIGKILL of the worker running a task: another worker adopts the container, which ran once', async () => {
    const cluster = await newCluster('sigkill');
    const api = await cluster.start('api');
    const workerA = await cluster.start('worker');
    const workerB = await cluster.start('worker');
    const client = cluster.client(api);
    const creations = await ContainerCreations.watch({ 'gofer.cluster': await cluster.clusterId() });
    watchers.push(creations);
    await apply(client, `
id: survive
tasks:
  - id: long
    image: busybox:latest
    script: 'echo before; sleep 5; echo after'
  - id: next
    image: busybox:latest
    script: echo next
    depends_on: { long: success }
`);
    const run = await startRun(client, 'survive');
    const owner = await waitFor('the task to run', async () => {
      const rows = await cluster.query<{ worker_id: string; scheduler_id: string | null }>(
        `SELECT worker_id, scheduler_id FROM task_runs WHERE run_id = $1 AND task_id = 'long' AND state = 'running'`, [run.id],
      );
      return rows[0]?.scheduler_id ? rows[0].worker_id : undefined;
    });
    const victim = [workerA, workerB].find((w) => w.workerId === owner)!;
    expect(await victim.kill('SIGKILL')).toBe(null);

    const { run: done, tasks } = await waitForRun(client, 'survive', run.id);
    expect(done.status).toBe('RUN_STATUS_SUCCESSFUL');
    expect(tasks.long.workerId).not.toBe(owner);
    expect(tasks.long.attempt).toBe(1);
    const longContainers = creations.names.filter((name) => name.includes('.survive.1.long.'));
    expect(longContainers).toHaveLength(1);
    expect(await readLogs(client, 'survive', run.id, 'long')).toBe('before\nafter\n');
    // The adopter counted it (reconciler actions on the dashboard).
    const adopter = [workerA, workerB].find((w) => w !== victim)!;
    const metrics = await (await fetch(`http://${adopter.httpAddr}/metrics`)).text();
    expect(metrics).toMatch(/^gofer_adopted_attempts_total 1$/m);
  });

  it('an adopting worker masks the secrets and token the container was really given', async () => {
    const cluster = await newCluster('adoptmask');
    const api = await cluster.start('api');
    const workerA = await cluster.start('worker');
    const workerB = await cluster.start('worker');
    const client = cluster.client(api);
    await apply(client, `
id: masked-adoption
tasks:
  - id: talk
    image: busybox:latest
    inject_api_token: true
    variables: { PASSWORD: "pipeline_secret{{PASSWORD}}" }
    script: 'sleep 4; echo "password $PASSWORD"; echo "token $GOFER_TOKEN"'
`);
    const original = `first-${Math.random().toString(36).slice(2)}`;
    await client.putPipelineSecret({ namespaceId: 'default', pipelineId: 'masked-adoption', key: 'PASSWORD', value: original });
    const run = await startRun(client, 'masked-adoption');
    const owner = await waitFor('the task to run', async () => {
      const rows = await cluster.query<{ worker_id: string; scheduler_id: string | null }>(
        `SELECT worker_id, scheduler_id FROM task_runs WHERE run_id = $1 AND task_id = 'talk' AND state = 'running'`, [run.id],
      );
      return rows[0]?.scheduler_id ? rows[0].worker_id : undefined;
    });
    const [{ id: containerId }] = await cluster.query<{ id: string }>(`SELECT scheduler_id AS id FROM task_runs WHERE run_id = $1`, [run.id]);
    const victim = [workerA, workerB].find((w) => w.workerId === owner)!;
    expect(await victim.kill('SIGKILL')).toBe(null);
    // While no worker watches, the secret changes: the adopter looks up the new value, the container has the old.
    await client.putPipelineSecret({ namespaceId: 'default', pipelineId: 'masked-adoption', key: 'PASSWORD', value: `second-${original}` });

    const { run: done, tasks } = await waitForRun(client, 'masked-adoption', run.id);
    expect(done.status).toBe('RUN_STATUS_SUCCESSFUL');
    expect(tasks.talk.workerId).not.toBe(owner);
    expect(tasks.talk.schedulerId).toBe(containerId);
    const logs = await readLogs(client, 'masked-adoption', run.id, 'talk');
    expect(logs).toBe('password [masked]\ntoken [masked]\n');
  });

  it('FLUSHALL on Redis in the middle of a run: the run still completes', async () => {
    const port = await freePort();
    const redis: ChildProcess = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const { Redis } = await import('ioredis');
    const admin = new Redis(`redis://127.0.0.1:${port}`, { retryStrategy: () => 100 });
    try {
      await waitFor('private redis', async () => ((await admin.ping()) === 'PONG' ? true : undefined));
      const cluster = await newCluster('flush', { GOFER_REDIS_URL: `redis://127.0.0.1:${port}` });
      await cluster.start();
      const client = cluster.client();
      await apply(client, `
id: flushed
tasks:
  - { id: a, image: "busybox:latest", script: "sleep 2; echo a" }
  - { id: b, image: "busybox:latest", script: "sleep 2; echo b", depends_on: { a: success } }
  - { id: c, image: "busybox:latest", script: "echo c", depends_on: { b: success } }
  - { id: d, image: "busybox:latest", script: "echo d", depends_on: { b: success } }
`);
      const run = await startRun(client, 'flushed');
      await waitFor('task a to run', async () => {
        const rows = await cluster.query(`SELECT 1 FROM task_runs WHERE run_id = $1 AND task_id = 'a' AND state = 'running'`, [run.id]);
        return rows.length ? true : undefined;
      });
      await admin.flushall();
      await waitFor('task b to be running', async () => {
        const rows = await cluster.query(`SELECT 1 FROM task_runs WHERE run_id = $1 AND task_id = 'b' AND state = 'running'`, [run.id]);
        return rows.length ? true : undefined;
      });
      await admin.flushall();
      const { run: done, tasks } = await waitForRun(client, 'flushed', run.id);
      expect(done.status).toBe('RUN_STATUS_SUCCESSFUL');
      expect(Object.values(tasks).map((t) => t.attempt)).toEqual([1, 1, 1, 1]);
      // A second run after the flush works as usual.
      const again = await startRun(client, 'flushed');
      expect((await waitForRun(client, 'flushed', again.id)).run.status).toBe('RUN_STATUS_SUCCESSFUL');
    } finally {
      admin.disconnect();
      redis.kill('SIGKILL');
    }
  });

  it('an adopted attempt whose container vanished ends orphaned instead of running twice', async () => {
    const cluster = await newCluster('orphan');
    const api = await cluster.start('api');
    const workers = [await cluster.start('worker'), await cluster.start('worker')];
    const client = cluster.client(api);
    const creations = await ContainerCreations.watch({ 'gofer.cluster': await cluster.clusterId() });
    watchers.push(creations);
    await apply(client, 'id: orphan\ntasks:\n  - { id: long, image: "busybox:latest", script: "sleep 60" }\n');
    const run = await startRun(client, 'orphan');
    const row = await waitFor('the task to run', async () => {
      const rows = await cluster.query<{ worker_id: string; scheduler_id: string | null }>(
        `SELECT worker_id, scheduler_id FROM task_runs WHERE run_id = $1 AND state = 'running'`, [run.id],
      );
      return rows[0]?.scheduler_id ? rows[0] : undefined;
    });
    await workers.find((w) => w.workerId === row.worker_id)!.kill('SIGKILL');
    const Docker = (await import('dockerode')).default;
    await new Docker({ socketPath: '/var/run/docker.sock' }).getContainer(row.scheduler_id!).remove({ force: true });

    const { run: done, tasks } = await waitForRun(client, 'orphan', run.id);
    expect(done.status).toBe('RUN_STATUS_FAILED');
    expect(tasks.long.statusReason?.reason).toBe('STATUS_REASON_KIND_ORPHANED');
    expect(tasks.long.statusReason?.description).toContain('disappeared');
    expect(creations.names.filter((n) => n.includes('.orphan.1.long.'))).toHaveLength(1);
  });
});
