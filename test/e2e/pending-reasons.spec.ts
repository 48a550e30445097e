import { execFile } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GoferClient } from '@gofer/proto';
import { GOFER_BIN, TestCluster, waitFor } from '../support/gofer-process.js';
import { apply, startRun, waitForRun } from '../support/runs.js';

// "Why is my run pending" (issue 10): GetRun, ListRuns, ListTaskRuns and `gofer run get` say why a
// pending run, or a task run that is not running yet, waits.
describe('pending and waiting reasons', () => {
  let cluster: TestCluster;
  let client: GoferClient;

  /** Runs the built `gofer` CLI against the cluster with its management token. */
  const cli = (args: string[]): Promise<{ code: number; out: string; err: string }> =>
    new Promise((resolve) => {
      execFile(process.execPath, [GOFER_BIN, ...args], {
        env: { PATH: process.env.PATH ?? '', HOME: '/root', GOFER_HOST: cluster.processes[0]!.grpcAddr, GOFER_TOKEN: cluster.token },
      }, (error, out, err) => resolve({ code: error ? Number(error.code ?? 1) : 0, out, err }));
    });

  const getRun = async (pipelineId: string, runId: number) =>
    (await client.getRun({ namespaceId: 'default', pipelineId, runId })).run!;
  const taskRuns = async (pipelineId: string, runId: number) =>
    Object.fromEntries((await client.listTaskRuns({ namespaceId: 'default', pipelineId, runId })).taskRuns.map((t) => [t.taskId, t]));

  beforeAll(async () => {
    cluster = await TestCluster.create('pendingreasons');
    await cluster.start();
    client = cluster.client();
  });
  afterAll(async () => {
    await cluster?.destroy();
  });

  it('says a run waits behind the parallelism limit, then for a disabled pipeline; task runs say what they wait for', async () => {
    await apply(client, `
id: pr-limit
parallelism: 1
tasks:
  - { id: work, image: "busybox:latest", script: "sleep 600" }
  - { id: after, image: "busybox:latest", script: "true", depends_on: { work: any } }
`);
    const first = await startRun(client, 'pr-limit');
    await waitFor('the first run to run its container', async () =>
      (await taskRuns('pr-limit', first.id)).work?.state === 'TASK_RUN_STATE_RUNNING' ? true : undefined);
    const second = await startRun(client, 'pr-limit');

    expect((await getRun('pr-limit', first.id)).waitingReason).toBeNull();
    const pending = await getRun('pr-limit', second.id);
    expect(pending.state).toBe('RUN_STATE_PENDING');
    expect(pending.waitingReason).toEqual({
      kind: 'WAITING_REASON_KIND_PARALLELISM',
      description: "behind 1 running run(s) of the pipeline's parallelism limit of 1",
    });
    const listed = (await client.listRuns({ namespaceId: 'default', pipelineId: 'pr-limit', limit: 10, offset: 0, states: [], statuses: [], startedBy: '' })).runs;
    expect(listed.find((r) => r.id === second.id)?.waitingReason?.kind).toBe('WAITING_REASON_KIND_PARALLELISM');
    expect(listed.find((r) => r.id === first.id)?.waitingReason).toBeNull();
    expect((await cli(['run', 'list', 'pr-limit'])).out).toMatch(new RegExp(`^${second.id} +pending .*parallelism: behind 1 running run`, 'm'));

    // The running run's dependent task waits for its parent; the pending run's tasks wait for their run.
    const firstTasks = await taskRuns('pr-limit', first.id);
    expect(firstTasks.work!.waitingReason).toBeNull();
    expect(firstTasks.after!.waitingReason).toEqual({ kind: 'WAITING_REASON_KIND_DEPENDENCIES', description: 'waiting for work to complete' });
    const single = (await client.getTaskRun({ namespaceId: 'default', pipelineId: 'pr-limit', runId: first.id, taskId: 'after', attempt: 0 })).taskRun!;
    expect(single.waitingReason?.description).toBe('waiting for work to complete');
    expect((await taskRuns('pr-limit', second.id)).work!.waitingReason?.kind).toBe('WAITING_REASON_KIND_RUN_PENDING');

    const plain = await cli(['run', 'get', 'pr-limit', String(second.id)]);
    expect(plain.code).toBe(0);
    expect(plain.out).toMatch(/^ +waiting +parallelism: behind 1 running run\(s\) of the pipeline's parallelism limit of 1$/m);
    const json = await cli(['run', 'get', 'pr-limit', String(second.id), '--output', 'json']);
    expect(JSON.parse(json.out).waiting_reason).toEqual({
      reason: 'parallelism',
      description: "behind 1 running run(s) of the pipeline's parallelism limit of 1",
    });
    const firstPlain = await cli(['run', 'get', 'pr-limit', String(first.id)]);
    expect(firstPlain.out).toMatch(/^after +processing .*dependencies: waiting for work to complete$/m);
    expect(JSON.parse((await cli(['run', 'get', 'pr-limit', String(first.id), '--output', 'json'])).out).waiting_reason).toBeNull();

    await client.disablePipeline({ namespaceId: 'default', id: 'pr-limit' });
    expect((await getRun('pr-limit', second.id)).waitingReason).toEqual({
      kind: 'WAITING_REASON_KIND_PIPELINE_DISABLED',
      description: 'the pipeline is disabled: gofer pipeline enable pr-limit',
    });
    const disabled = JSON.parse((await cli(['run', 'get', 'pr-limit', String(second.id), '--output', 'json'])).out);
    expect(disabled.waiting_reason).toEqual({ reason: 'pipeline_disabled', description: 'the pipeline is disabled: gofer pipeline enable pr-limit' });
    expect((await cli(['run', 'get', 'pr-limit', String(second.id)])).out)
      .toMatch(/^ +waiting +pipeline_disabled: the pipeline is disabled: gofer pipeline enable pr-limit$/m);

    await client.enablePipeline({ namespaceId: 'default', id: 'pr-limit' });
    await client.cancelAllRuns({ namespaceId: 'default', pipelineId: 'pr-limit' });
    expect((await waitForRun(client, 'pr-limit', second.id)).run.waitingReason).toBeNull();
  });

  it('says a failed attempt waits for its retry backoff, until when', async () => {
    await apply(client, `
id: pr-retry
tasks:
  - { id: flaky, image: "busybox:latest", script: "exit 3", retries: { attempts: 2, backoff: 10m } }
`);
    const run = await startRun(client, 'pr-retry');
    const flaky = await waitFor('the first attempt to fail and the second to wait', async () => {
      const task = (await taskRuns('pr-retry', run.id)).flaky;
      return task?.attempt === 2 && task.state === 'TASK_RUN_STATE_WAITING' ? task : undefined;
    });
    const [row] = await cluster.query<{ ready_at: Date }>(
      `SELECT ready_at FROM task_runs WHERE pipeline_id = 'pr-retry' AND run_id = $1 AND task_id = 'flaky'`, [run.id],
    );
    const until = row!.ready_at.toISOString();
    expect(flaky.waitingReason).toEqual({ kind: 'WAITING_REASON_KIND_RETRY_BACKOFF', description: `retry backoff until ${until}` });

    const plain = await cli(['run', 'get', 'pr-retry', String(run.id)]);
    expect(plain.out).toMatch(new RegExp(`^flaky +waiting +- +2 .*retry_backoff: retry backoff until ${until.replace(/\./g, '\\.')}$`, 'm'));
    const task = JSON.parse((await cli(['taskrun', 'get', 'pr-retry', String(run.id), 'flaky', '--output', 'json'])).out);
    expect(task.waiting_reason).toEqual({ reason: 'retry_backoff', description: `retry backoff until ${until}` });

    await client.cancelRun({ namespaceId: 'default', pipelineId: 'pr-retry', runId: run.id });
    expect((await waitForRun(client, 'pr-retry', run.id)).run.status).toBe('RUN_STATUS_CANCELLED');
  });
});
