// The crash-safety guarantees of test/e2e/crash-safety.spec.ts with GOFER_SCHEDULER=nomad, against the
// Nomad API stand-in: every task attempt is one batch job, registered create-only, so a worker that
// adopts an attempt (or a second delivery of it) finds the job instead of placing it again. "Ran once"
// is shown three ways: the stand-in counts the registrations that placed each job, Nomad lists each
// job's allocations (terminal ones too), and Docker's event stream counts the containers the stand-in
// created for them (named `task-<allocation id>`).
import { taskContainerName, type TaskAttemptKey } from '@gofer/queue';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ContainerCreations } from '../support/docker-events.js';
import { TestCluster, waitFor } from '../support/gofer-process.js';
import { startTestNomad, type TestNomad } from '../support/nomad.js';
import { apply, readLogs, startRun, waitForRun } from '../support/runs.js';

/** The stand-in names each task container after its allocation. */
const ALLOC_CONTAINER = /^\/?task-(.+)$/;

describe('crash safety on Nomad', () => {
  let nomad: TestNomad;
  const clusters: TestCluster[] = [];
  const watchers: ContainerCreations[] = [];
  beforeAll(async () => {
    nomad = await startTestNomad();
  });
  afterEach(() => watchers.splice(0).forEach((w) => w.stop()));
  afterAll(async () => {
    await Promise.all(clusters.map((c) => c.destroy()));
    await nomad?.standIn.close();
  });

  async function newCluster(name: string) {
    const cluster = await TestCluster.create(name, nomad.env);
    clusters.push(cluster);
    return cluster;
  }

  /** Every container the stand-in creates for this cluster's jobs, from Docker's event stream. */
  async function watchContainers(clusterId: string): Promise<ContainerCreations> {
    const creations = await ContainerCreations.watch({ 'gofer.cluster': clusterId, 'gofer.nomad-dev.instance': nomad.standIn.instanceId });
    watchers.push(creations);
    return creations;
  }

  /** The allocation ids of the containers created so far (a container name is `task-<allocation id>`). */
  function allocationsOf(creations: ContainerCreations): string[] {
    return creations.names.map((name) => ALLOC_CONTAINER.exec(name)?.[1] ?? `unexpected container ${name}`);
  }

  it('SIGKILL of the worker following an allocation: another worker adopts the job, which was placed and ran once', async () => {
    const cluster = await newCluster('nomadsigkill');
    const api = await cluster.start('api');
    const workerA = await cluster.start('worker');
    const workerB = await cluster.start('worker');
    const client = cluster.client(api);
    const clusterId = await cluster.clusterId();
    const creations = await watchContainers(clusterId);
    // The first line names the allocation the output came from: the log ties itself to one placement.
    await apply(client, `
id: survive
tasks:
  - id: long
    image: busybox:latest
    script: 'echo "before $NOMAD_ALLOC_ID"; sleep 5; echo after'
  - id: next
    image: busybox:latest
    script: echo next
    depends_on: { long: success }
`);
    const run = await startRun(client, 'survive');
    const jobId = taskContainerName(clusterId, { namespaceId: 'default', pipelineId: 'survive', runId: run.id, taskId: 'long', attempt: 1 });
    const owner = await waitFor('the task to run', async () => {
      const rows = await cluster.query<{ worker_id: string; scheduler_id: string | null }>(
        `SELECT worker_id, scheduler_id FROM task_runs WHERE run_id = $1 AND task_id = 'long' AND state = 'running'`, [run.id],
      );
      return rows[0]?.scheduler_id ? rows[0] : undefined;
    });
    // The attempt's job is the one the worker follows, and its task is running (not merely placed).
    expect(owner.scheduler_id).toBe(jobId);
    const [allocation] = (await nomad.client.jobAllocations(jobId)).value;
    expect(allocation?.TaskStates?.task?.State).toBe('running');
    const victim = [workerA, workerB].find((w) => w.workerId === owner.worker_id)!;
    expect(await victim.kill('SIGKILL')).toBe(null);

    const { run: done, tasks } = await waitForRun(client, 'survive', run.id);
    expect(done.status).toBe('RUN_STATUS_SUCCESSFUL');
    expect(tasks.long.workerId).not.toBe(owner.worker_id);
    expect(tasks.long.attempt).toBe(1);
    expect(tasks.long.exitCode).toBe(0);
    expect(tasks.long.schedulerId).toBe(jobId);
    // Registered once (the adopter's create-only register found the job), one allocation, one container.
    expect(nomad.standIn.registrations(jobId)).toBe(1);
    const allocations = (await nomad.client.jobAllocations(jobId)).value;
    expect(allocations.map((a) => a.ID)).toEqual([allocation!.ID]);
    expect(allocations[0]!.ClientStatus).toBe('complete');
    await waitFor('docker events to arrive', async () => (creations.names.length >= 2 ? true : undefined), 10_000);
    expect(allocationsOf(creations).filter((id) => id === allocation!.ID)).toHaveLength(1);
    // The log is the one allocation's output, complete, with nothing repeated by the adopter's read.
    expect(await readLogs(client, 'survive', run.id, 'long')).toBe(`before ${allocation!.ID}\nafter\n`);
    expect(await readLogs(client, 'survive', run.id, 'next')).toBe('next\n');
    // The adopter counted it (reconciler actions on the dashboard).
    const adopter = [workerA, workerB].find((w) => w !== victim)!;
    const metrics = await (await fetch(`http://${adopter.httpAddr}/metrics`)).text();
    expect(metrics).toMatch(/^gofer_adopted_attempts_total 1$/m);
  });

  it('two workers run 120 tasks and every attempt\'s job is registered, placed and run exactly once', async () => {
    const cluster = await newCluster('nomadfanout');
    const api = await cluster.start('api,worker', { GOFER_WORKER_CONCURRENCY: '10' });
    await cluster.start('worker', { GOFER_WORKER_CONCURRENCY: '10' });
    const client = cluster.client(api);
    const clusterId = await cluster.clusterId();
    const creations = await watchContainers(clusterId);
    const tasks = Array.from({ length: 30 }, (_, i) => `  - { id: t${i}, image: "busybox:latest", script: "echo task ${i}" }`);
    await apply(client, `id: fanout\ntasks:\n${tasks.join('\n')}\n`);
    const runs = await Promise.all([1, 2, 3, 4].map(() => startRun(client, 'fanout')));
    for (const run of runs) {
      const { run: done, tasks: taskRuns } = await waitForRun(client, 'fanout', run.id, 300_000);
      expect(done.status).toBe('RUN_STATUS_SUCCESSFUL');
      expect(Object.values(taskRuns).every((t) => t.attempt === 1 && t.exitCode === 0)).toBe(true);
    }

    // Every attempt Postgres recorded, both workers having taken part.
    const attempts = await cluster.query<{
      namespace_id: string; pipeline_id: string; run_id: number; task_id: string; attempt: number;
      status: string; scheduler_id: string | null; worker_id: string; past: number;
    }>(
      `SELECT namespace_id, pipeline_id, run_id, task_id, attempt, status, scheduler_id, worker_id,
              jsonb_array_length(past_attempts) AS past
         FROM task_runs`,
    );
    expect(attempts).toHaveLength(120);
    expect(new Set(attempts.map((a) => a.worker_id)).size).toBe(2);
    expect(attempts.every((a) => a.status === 'successful' && a.attempt === 1 && a.past === 0)).toBe(true);
    const jobIds = attempts.map((a) => {
      const key: TaskAttemptKey = { namespaceId: a.namespace_id, pipelineId: a.pipeline_id, runId: a.run_id, taskId: a.task_id, attempt: a.attempt };
      return taskContainerName(clusterId, key);
    });
    expect(attempts.map((a) => a.scheduler_id)).toEqual(jobIds);

    // Each job: placed by exactly one registration, with exactly one allocation, which completed.
    const registrations = new Map(jobIds.map((id) => [id, nomad.standIn.registrations(id)]));
    expect([...registrations].filter(([, n]) => n !== 1)).toEqual([]);
    const allocations = new Map<string, string[]>();
    for (const id of jobIds) {
      const { value } = await nomad.client.jobAllocations(id);
      expect(value.map((a) => a.ClientStatus)).toEqual(['complete']);
      allocations.set(id, value.map((a) => a.ID));
    }
    // Docker saw one container per allocation and no other: nothing ran that Nomad does not list.
    await waitFor('docker events to arrive', async () => (creations.names.length >= 120 ? true : undefined), 10_000);
    const created = allocationsOf(creations);
    expect(created).toHaveLength(120);
    expect(new Set(created)).toEqual(new Set([...allocations.values()].flat()));
    expect(await readLogs(client, 'fanout', runs[2]!.id, 't17')).toBe('task 17\n');
  });
});
