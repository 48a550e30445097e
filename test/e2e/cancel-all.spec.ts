import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GoferClient } from '@gofer/proto';
import { ContainerCreations } from '../support/docker-events.js';
import { TestCluster, waitFor } from '../support/gofer-process.js';
import { apply, startRun, waitForRun } from '../support/runs.js';

const PENDING_RUNS = 300;

describe('cancel-all', () => {
  let cluster: TestCluster;
  let client: GoferClient;
  // The running task waits for this server to say "go", so the test decides when it may succeed.
  let gate: Server;
  let open = false;
  let gateUrl = '';

  beforeAll(async () => {
    gate = createServer((_request, response) => response.end(open ? 'go' : 'wait'));
    await new Promise<void>((resolve) => gate.listen(0, '127.0.0.1', resolve));
    gateUrl = `http://127.0.0.1:${(gate.address() as { port: number }).port}/`;
    cluster = await TestCluster.create('cancelall');
    await cluster.start();
    client = cluster.client();
  });
  afterAll(async () => {
    await cluster?.destroy();
    gate?.close();
  });

  it('cancels the running run and every pending one at once, starts none of them, and says which it cancelled', async () => {
    const creations = await ContainerCreations.watch({ 'gofer.pipeline': 'cancel-all-p1' });
    await apply(client, `
id: cancel-all-p1
parallelism: 1
tasks:
  - id: work
    image: "busybox:latest"
    script: 'echo started; until [ "$(wget -q -O- ${gateUrl})" = go ]; do sleep 0.1; done'
`);
    const first = await startRun(client, 'cancel-all-p1');
    await waitFor('the first run to be running its container', async () => {
      const rows = await cluster.query<{ scheduler_id: string | null }>(
        `SELECT scheduler_id FROM task_runs WHERE pipeline_id = 'cancel-all-p1' AND run_id = $1 AND state = 'running'`, [first.id],
      );
      return rows[0]?.scheduler_id ?? undefined;
    });
    const pending: number[] = [];
    for (let i = 0; i < PENDING_RUNS; i += 25) {
      const batch = await Promise.all(Array.from({ length: Math.min(25, PENDING_RUNS - i) }, () => startRun(client, 'cancel-all-p1')));
      expect(batch.every((run) => run.state === 'RUN_STATE_PENDING')).toBe(true);
      pending.push(...batch.map((run) => run.id));
    }

    // The running task is let go just after the cancel begins: had the cancel worked through the runs
    // one at a time, the first run would end successful and the next pending one would start.
    const cancelling = client.cancelAllRuns({ namespaceId: 'default', pipelineId: 'cancel-all-p1' });
    setTimeout(() => (open = true), 300);
    const { runIds } = await cancelling;
    expect(runIds).toEqual([first.id, ...pending].sort((a, b) => a - b));

    const firstDone = await waitForRun(client, 'cancel-all-p1', first.id);
    expect(firstDone.run).toMatchObject({ status: 'RUN_STATUS_CANCELLED', statusReason: { reason: 'STATUS_REASON_KIND_USER_CANCELLED' } });
    const rows = await cluster.query<{ state: string; status: string }>(
      `SELECT state, status FROM runs WHERE pipeline_id = 'cancel-all-p1' AND id <> $1`, [first.id],
    );
    expect(rows).toHaveLength(PENDING_RUNS);
    expect(rows.every((row) => row.state === 'complete' && row.status === 'cancelled')).toBe(true);
    const tasks = await cluster.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM task_runs WHERE pipeline_id = 'cancel-all-p1' AND run_id <> $1
          AND (status <> 'cancelled' OR started IS NOT NULL OR scheduler_id IS NOT NULL)`, [first.id],
    );
    expect(tasks[0]!.n).toBe(0);

    // A run started afterwards is admitted and runs: cancel-all left the pipeline's admission working.
    const after = await startRun(client, 'cancel-all-p1');
    expect((await waitForRun(client, 'cancel-all-p1', after.id)).run.status).toBe('RUN_STATUS_SUCCESSFUL');
    creations.stop();
    // Exactly two containers ever existed: the first run's and the one started afterwards.
    expect([...creations.counts().keys()].map((name) => name.split('.')[4]).sort()).toEqual([String(first.id), String(after.id)].sort());
  });

  it('answers with no runs when nothing is unfinished, and NOT_FOUND for an unknown pipeline', async () => {
    await apply(client, 'id: cancel-all-idle\ntasks:\n  - { id: a, image: "busybox:latest", script: "true" }\n');
    expect((await client.cancelAllRuns({ namespaceId: 'default', pipelineId: 'cancel-all-idle' })).runIds).toEqual([]);
    const error = await client.cancelAllRuns({ namespaceId: 'default', pipelineId: 'ghost' }).catch((e: { code: number; details: string }) => e);
    expect(error).toMatchObject({ code: 5, details: expect.stringContaining('pipeline "ghost" not found') });
  });
});
