import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Docker from 'dockerode';
import { parseTaskAttemptLabels } from '@gofer/queue';
import { TestCluster, waitFor } from '../support/gofer-process.js';
import { ContainerCreations } from '../support/docker-events.js';
import { apply, readLogs, startRun, waitForRun } from '../support/runs.js';

describe('process lifecycle', () => {
  let cluster: TestCluster;
  beforeAll(async () => {
    cluster = await TestCluster.create('lifecycle', { GOFER_LOG_CAP_BYTES: '4096', GOFER_MAX_LOG_FOLLOWERS: '1' });
  });
  afterAll(async () => cluster?.destroy());

  async function running(pipelineId: string, runId: number, taskId: string) {
    return waitFor(`${taskId} to run`, async () => {
      const rows = await cluster.query<{ worker_id: string; scheduler_id: string | null }>(
        `SELECT worker_id, scheduler_id FROM task_runs WHERE pipeline_id = $1 AND run_id = $2 AND task_id = $3 AND state = 'running'`,
        [pipelineId, runId, taskId],
      );
      return rows[0]?.scheduler_id ? rows[0] : undefined;
    });
  }

  it('SIGTERM on a worker hands its running task to another worker without restarting the container', async () => {
    const api = await cluster.start('api');
    const workers = [await cluster.start('worker'), await cluster.start('worker')];
    const client = cluster.client(api);
    const creations = await ContainerCreations.watch({ 'gofer.cluster': await cluster.clusterId() });
    await apply(client, `
id: handover
tasks:
  - { id: long, image: "busybox:latest", script: "echo one; sleep 6; echo two" }
`);
    const run = await startRun(client, 'handover');
    const owner = (await running('handover', run.id, 'long')).worker_id;
    const [first, second] = workers[0].workerId === owner ? workers : [workers[1], workers[0]];
    expect(await first.kill('SIGTERM')).toBe(0); // graceful: exits 0 without waiting for the task
    const [afterStop] = await cluster.query<{ state: string }>(`SELECT state FROM task_runs WHERE pipeline_id = 'handover'`);
    expect(afterStop.state).toBe('running'); // the container outlived the worker
    const { run: done, tasks } = await waitForRun(client, 'handover', run.id);
    expect(done.status).toBe('RUN_STATUS_SUCCESSFUL');
    expect(tasks.long.workerId).toBe(second.workerId);
    expect(creations.names.filter((n) => n.includes('.handover.'))).toHaveLength(1);
    expect(await readLogs(client, 'handover', run.id, 'long')).toBe('one\ntwo\n');
    creations.stop();
  });

  it('restarting the API mid-run loses nothing', async () => {
    const api = cluster.processes.find((p) => p.child.exitCode === null && p.output().includes('"roles":["api"]'))!;
    const client = cluster.client(api);
    await apply(client, `
id: api-restart
tasks:
  - { id: a, image: "busybox:latest", script: "sleep 2; echo a" }
  - { id: b, image: "busybox:latest", script: "echo b", depends_on: { a: success } }
`);
    const run = await startRun(client, 'api-restart');
    await api.kill('SIGKILL');
    const restarted = await cluster.start('api');
    const { run: done } = await waitForRun(cluster.client(restarted), 'api-restart', run.id);
    expect(done.status).toBe('RUN_STATUS_SUCCESSFUL');
  });

  it('caps a task log with a marker instead of keeping it all', async () => {
    const client = cluster.client(cluster.processes.at(-1)); // the restarted API
    await apply(client, `
id: chatty
tasks:
  - { id: spam, image: "busybox:latest", script: "head -c 100000 /dev/zero | tr '\\\\0' x; echo; echo done" }
`);
    const run = await startRun(client, 'chatty');
    const { tasks } = await waitForRun(client, 'chatty', run.id);
    expect(tasks.spam.status).toBe('TASK_RUN_STATUS_SUCCESSFUL');
    const logs = await readLogs(client, 'chatty', run.id, 'spam');
    expect(logs.startsWith('x'.repeat(4096))).toBe(true);
    expect(logs.slice(4096)).toBe('\n[gofer] log truncated: output exceeded the 4096-byte cap\n');
    const [row] = await cluster.query<{ logs_truncated: boolean }>(`SELECT logs_truncated FROM task_runs WHERE pipeline_id = 'chatty'`);
    expect(row.logs_truncated).toBe(true);
  });

  it('the reaper removes containers of finished or unknown attempts', async () => {
    const docker = new Docker({ socketPath: '/var/run/docker.sock' });
    const clusterId = await cluster.clusterId();
    const sleeper = async (labels: Record<string, string>, name?: string) => {
      const container = await docker.createContainer({ Image: 'busybox:latest', Cmd: ['sleep', '300'], name, Labels: labels, HostConfig: { NetworkMode: 'host' } });
      await container.start();
      return container;
    };
    // The labels of an attempt Postgres knows nothing about: a task container with them is reaped.
    const unknownAttempt = { 'gofer.cluster': clusterId, 'gofer.namespace': 'default', 'gofer.pipeline': 'gone', 'gofer.run': '1', 'gofer.task': 'x', 'gofer.attempt': '1' };
    // The containers to leave alone are made first: the reaper pass that removes the leftover (made
    // last) listed them too.
    // A container of another cluster must be left alone.
    const foreign = await sleeper({ 'gofer.cluster': 'someone-else' });
    // A container of this cluster whose labels name no attempt (a trigger's service, say) is not a task's.
    const unnamed = await sleeper({ 'gofer.cluster': clusterId });
    // Nor is one whose gofer.* labels are an attempt's and more (a trigger's service, say), or one whose
    // attempt label is malformed: the reaper never acts on labels parseTaskAttemptLabels rejects.
    const trigger = await sleeper({ ...unknownAttempt, 'gofer.kind': 'trigger' });
    const malformed = await sleeper({ ...unknownAttempt, 'gofer.attempt': '-1' });
    // A leftover from an attempt Postgres knows nothing about (e.g. a crash before the row existed).
    const leftover = await sleeper(unknownAttempt, `gofer-test-leftover-${Date.now()}`);
    try {
      expect(parseTaskAttemptLabels(unknownAttempt)).toBeDefined();
      expect(parseTaskAttemptLabels((await trigger.inspect()).Config.Labels)).toBeUndefined();
      expect(parseTaskAttemptLabels((await malformed.inspect()).Config.Labels)).toBeUndefined();
      await waitFor('the reaper', async () => ((await leftover.inspect().catch(() => null)) ? undefined : true), 60_000);
      expect((await foreign.inspect()).State.Running).toBe(true);
      expect((await unnamed.inspect()).State.Running).toBe(true);
      expect((await trigger.inspect()).State.Running).toBe(true);
      expect((await malformed.inspect()).State.Running).toBe(true);
    } finally {
      for (const container of [foreign, unnamed, trigger, malformed, leftover]) await container.remove({ force: true }).catch(() => undefined);
    }
  });

  it('refuses a log follower past GOFER_MAX_LOG_FOLLOWERS with RESOURCE_EXHAUSTED, and frees the slot after', async () => {
    const client = cluster.client(cluster.processes.at(-1)); // the restarted API (api role, no worker)
    await apply(client, 'id: followed\ntasks:\n  - { id: talk, image: "busybox:latest", script: "echo hi; sleep 3; echo bye" }\n');
    const run = await startRun(client, 'followed');
    await running('followed', run.id, 'talk');
    const first = readLogs(client, 'followed', run.id, 'talk', { follow: true });
    await new Promise((resolve) => setTimeout(resolve, 500)); // let the first follower subscribe
    await expect(readLogs(client, 'followed', run.id, 'talk', { follow: true })).rejects.toMatchObject({
      code: 8, details: expect.stringContaining('GOFER_MAX_LOG_FOLLOWERS'),
    });
    expect(await first).toBe('hi\nbye\n');
    // The finished follower gave its slot back.
    expect(await readLogs(client, 'followed', run.id, 'talk', { follow: true })).toBe('hi\nbye\n');
  });

  it('a log that could not be archived (object store down) is archived later by the reconciler', async () => {
    const client = cluster.client(cluster.processes.at(-1));
    const root = cluster.objectStore.replace(/^fs:\/\//, '');
    rmSync(join(root, 'logs'), { recursive: true, force: true });
    writeFileSync(join(root, 'logs'), 'not a directory'); // every archive write now fails
    try {
      await apply(client, 'id: unarchived\ntasks:\n  - { id: say, image: "busybox:latest", script: "echo kept in redis" }\n');
      const run = await startRun(client, 'unarchived');
      await waitForRun(client, 'unarchived', run.id);
      const [row] = await cluster.query<{ logs_archived: boolean }>(`SELECT logs_archived FROM task_runs WHERE pipeline_id = 'unarchived'`);
      expect(row.logs_archived).toBe(false);
      expect(await readLogs(client, 'unarchived', run.id, 'say')).toBe('kept in redis\n'); // served from Redis meanwhile
    } finally {
      rmSync(join(root, 'logs'), { force: true }); // the store is back
    }
    await waitFor('the reconciler to archive the log', async () => {
      const [row] = await cluster.query<{ logs_archived: boolean }>(`SELECT logs_archived FROM task_runs WHERE pipeline_id = 'unarchived'`);
      return row.logs_archived ? true : undefined;
    }, 60_000);
    expect(existsSync(join(root, 'logs/default/unarchived/1/say.1.log'))).toBe(true);
    expect(await readLogs(cluster.client(cluster.processes.at(-1)), 'unarchived', 1, 'say')).toBe('kept in redis\n');
  });
});
