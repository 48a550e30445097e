import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Docker from 'dockerode';
import type { GoferClient } from '@gofer/proto';
import { TestCluster, waitFor } from '../support/gofer-process.js';
import { apply, readLogs, startRun, waitForRun } from '../support/runs.js';

describe('cancellation, parallelism and scheduler failures', () => {
  let cluster: TestCluster;
  let client: GoferClient;
  const docker = new Docker({ socketPath: '/var/run/docker.sock' });

  beforeAll(async () => {
    cluster = await TestCluster.create('cancel');
    await cluster.start();
    client = cluster.client();
  });
  afterAll(async () => cluster?.destroy());

  async function runningContainer(pipelineId: string, runId: number, taskId: string): Promise<string> {
    return waitFor(`${taskId} to be running`, async () => {
      const rows = await cluster.query<{ scheduler_id: string | null }>(
        `SELECT scheduler_id FROM task_runs WHERE pipeline_id = $1 AND run_id = $2 AND task_id = $3 AND state = 'running'`,
        [pipelineId, runId, taskId],
      );
      return rows[0]?.scheduler_id ?? undefined;
    });
  }

  it('cancelling a run stops its containers (SIGTERM, then SIGKILL after the grace) and cancels the rest', async () => {
    await apply(client, `
id: cancel-me
tasks:
  - id: polite
    image: busybox:latest
    script: 'trap "echo got TERM; exit 143" TERM; echo started; sleep 300 & wait'
  - id: stubborn
    image: busybox:latest
    script: 'trap "" TERM; echo started; sleep 300'
  - id: later
    image: busybox:latest
    script: echo never
    depends_on: { polite: any }
`);
    const run = await startRun(client, 'cancel-me');
    const polite = await runningContainer('cancel-me', run.id, 'polite');
    const stubborn = await runningContainer('cancel-me', run.id, 'stubborn');
    await waitFor('both tasks to print', async () =>
      (await readLogs(client, 'cancel-me', run.id, 'stubborn', { follow: false })).includes('started') ? true : undefined);
    await client.cancelRun({ namespaceId: 'default', pipelineId: 'cancel-me', runId: run.id });

    const { run: done, tasks } = await waitForRun(client, 'cancel-me', run.id);
    expect(done.status).toBe('RUN_STATUS_CANCELLED');
    expect(done.statusReason?.reason).toBe('STATUS_REASON_KIND_USER_CANCELLED');
    // The polite container exited from SIGTERM (143) within the grace; the stubborn one needed SIGKILL (137).
    expect(tasks.polite).toMatchObject({ status: 'TASK_RUN_STATUS_CANCELLED', exitCode: 143 });
    expect(tasks.stubborn).toMatchObject({ status: 'TASK_RUN_STATUS_CANCELLED', exitCode: 137 });
    expect(tasks.later.status).toBe('TASK_RUN_STATUS_CANCELLED');
    expect(tasks.later.statusReason?.description).toBe('the run was cancelled before this task started');
    expect(await readLogs(client, 'cancel-me', run.id, 'polite')).toBe('started\ngot TERM\n');
    // Containers are removed once the result is recorded.
    for (const id of [polite, stubborn]) {
      await waitFor('container removal', async () => ((await docker.getContainer(id).inspect().catch(() => null)) ? undefined : true));
    }
    // Cancelling a complete run is refused with a clear status.
    await expect(client.cancelRun({ namespaceId: 'default', pipelineId: 'cancel-me', runId: run.id })).rejects.toMatchObject({
      code: 9, details: expect.stringContaining('already complete'),
    });
  });

  it('an image that cannot be pulled fails the task with scheduler_error and the run completes', async () => {
    await apply(client, `
id: bad-image
tasks:
  - { id: pull, image: "127.0.0.1:1/nope:latest", command: [true] }
  - { id: fine, image: "busybox:latest", script: "echo fine" }
  - { id: after, image: "busybox:latest", script: "echo after", depends_on: { pull: failure } }
`);
    const run = await startRun(client, 'bad-image');
    const { run: done, tasks } = await waitForRun(client, 'bad-image', run.id);
    expect(done.status).toBe('RUN_STATUS_FAILED');
    expect(done.statusReason?.reason).toBe('STATUS_REASON_KIND_SCHEDULER_ERROR');
    expect(tasks.pull.status).toBe('TASK_RUN_STATUS_FAILED');
    expect(tasks.pull.statusReason?.reason).toBe('STATUS_REASON_KIND_SCHEDULER_ERROR');
    expect(tasks.pull.statusReason?.description).toContain('image "127.0.0.1:1/nope:latest"');
    expect(tasks.fine.status).toBe('TASK_RUN_STATUS_SUCCESSFUL');
    expect(tasks.after.status).toBe('TASK_RUN_STATUS_SUCCESSFUL');
    expect((await fetch(`http://${cluster.processes[0].httpAddr}/healthz`)).status).toBe(200);
  });

  it('parallelism 1 keeps extra runs pending and starts them in order', async () => {
    await apply(client, `
id: one-at-a-time
parallelism: 1
tasks:
  - { id: work, image: "busybox:latest", script: "sleep 1; echo done" }
`);
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await startRun(client, 'one-at-a-time'));
    expect(runs.map((r) => r.state)).toEqual(['RUN_STATE_RUNNING', 'RUN_STATE_PENDING', 'RUN_STATE_PENDING']);
    const done = [];
    for (const run of runs) done.push((await waitForRun(client, 'one-at-a-time', run.id)).run);
    expect(done.every((r) => r.status === 'RUN_STATUS_SUCCESSFUL')).toBe(true);
    // Never two at once: each run started after the previous one ended.
    expect(done[1].started).toBeGreaterThanOrEqual(done[0].ended);
    expect(done[2].started).toBeGreaterThanOrEqual(done[1].ended);
  });

  it('raising the parallelism limit starts waiting runs at once', async () => {
    const config = (limit: number) => `
id: raised-limit
parallelism: ${limit}
tasks:
  - { id: work, image: "busybox:latest", script: "sleep 4" }
`;
    await apply(client, config(1));
    const runs = [];
    for (let i = 0; i < 3; i++) runs.push(await startRun(client, 'raised-limit'));
    expect(runs.map((r) => r.state)).toEqual(['RUN_STATE_RUNNING', 'RUN_STATE_PENDING', 'RUN_STATE_PENDING']);
    await apply(client, config(3));
    // Admitted by the apply itself: the first run is still sleeping, so no completion did it.
    const states = await cluster.query<{ id: number; state: string }>(
      `SELECT id, state FROM runs WHERE pipeline_id = 'raised-limit' ORDER BY id`,
    );
    expect(states.map((r) => r.state)).toEqual(['running', 'running', 'running']);
    for (const run of runs) expect((await waitForRun(client, 'raised-limit', run.id)).run.status).toBe('RUN_STATUS_SUCCESSFUL');
  });

  it('a disabled pipeline refuses new runs with FAILED_PRECONDITION', async () => {
    await client.disablePipeline({ namespaceId: 'default', id: 'one-at-a-time' });
    await expect(startRun(client, 'one-at-a-time')).rejects.toMatchObject({ code: 9, details: expect.stringContaining('disabled') });
    await client.enablePipeline({ namespaceId: 'default', id: 'one-at-a-time' });
  });

  it('follows live logs until the task ends', async () => {
    await apply(client, `
id: live-logs
tasks:
  - { id: talk, image: "busybox:latest", script: "for i in 1 2 3 4 5; do echo line $i; sleep 0.3; done" }
`);
    const run = await startRun(client, 'live-logs');
    const text = await readLogs(client, 'live-logs', run.id, 'talk', { follow: true });
    expect(text).toBe('line 1\nline 2\nline 3\nline 4\nline 5\n');
    expect((await waitForRun(client, 'live-logs', run.id)).run.status).toBe('RUN_STATUS_SUCCESSFUL');
  });

  it('a reader that pauses mid-stream still gets the whole 40 MB log, exactly', async () => {
    const size = 40_000_000;
    await apply(client, `
id: big-log
tasks:
  - { id: flood, image: "busybox:latest", script: "head -c ${size} /dev/zero | tr '\\\\0' x" }
`);
    const run = await startRun(client, 'big-log');
    expect((await waitForRun(client, 'big-log', run.id)).tasks.flood.status).toBe('TASK_RUN_STATUS_SUCCESSFUL');
    const stream = client.getTaskRunLogs({ namespaceId: 'default', pipelineId: 'big-log', runId: run.id, taskId: 'flood', attempt: 0, follow: false, offset: 0, tail: 0, limit: 0 });
    const iterator = stream[Symbol.asyncIterator]();
    let received = (await iterator.next()).value!.chunk.length;
    await new Promise((resolve) => setTimeout(resolve, 2000)); // the reader stalls (the server paces itself: grpc-stream.spec.ts)
    let xs = true;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      received += next.value.chunk.length;
      xs &&= Buffer.from(next.value.chunk).every((byte) => byte === 0x78);
    }
    expect(received).toBe(size);
    expect(xs).toBe(true);
  });

  it('exports Prometheus metrics that promtool accepts, counting what ran', async () => {
    const response = await fetch(`http://${cluster.processes[0].httpAddr}/metrics`);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(lint.error, 'promtool must be installed (apt-get install prometheus)').toBeUndefined();
    expect(lint.stdout + lint.stderr).not.toMatch(/error/i);
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? NaN);
    // By now this process completed runs of every kind earlier in this file.
    expect(value(/^gofer_runs_completed_total\{status="cancelled"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^gofer_runs_completed_total\{status="failed"\} (\d+)/m)).toBeGreaterThanOrEqual(1);
    expect(value(/^gofer_runs_completed_total\{status="successful"\} (\d+)/m)).toBeGreaterThanOrEqual(4);
    expect(value(/^gofer_task_runs_completed_total\{status="successful"\} (\d+)/m)).toBeGreaterThanOrEqual(6);
    expect(value(/^gofer_task_start_latency_seconds_count (\d+)/m)).toBeGreaterThanOrEqual(6);
    expect(value(/^gofer_grpc_request_duration_seconds_count\{method="startRun",code="OK"\} (\d+)/m)).toBeGreaterThanOrEqual(5);
    expect(value(/^gofer_grpc_request_duration_seconds_count\{method="startRun",code="FAILED_PRECONDITION"\} (\d+)/m)).toBe(1);
    expect(text).toMatch(/^gofer_queue_jobs\{state="waiting"\} \d+/m);
    expect(value(/^gofer_active_containers (\d+)/m)).toBe(0);
  });
});
