// ListRuns' filters (issue 12, the web UI's run filters) against a real Gofer: by state, by outcome and
// by who started a run (exactly, or a prefix ending in "/"), with paging over the filtered runs only,
// and bad filters refused naming the field.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrpcStatus, type GoferClient, type ListRunsRequest } from '@gofer/proto';
import { TestCluster, waitFor } from '../support/gofer-process.js';
import { apply, startRun, waitForRun } from '../support/runs.js';

describe('ListRuns filters', () => {
  let cluster: TestCluster;
  let client: GoferClient;

  beforeAll(async () => {
    cluster = await TestCluster.create('listrunsfilters');
    await cluster.start();
    client = cluster.client();
  });
  afterAll(async () => {
    await cluster?.destroy();
  });

  /** The ids of the runs ListRuns gives for `filter`, in its order. */
  const list = async (filter: Partial<ListRunsRequest>): Promise<number[]> =>
    (await client.listRuns({ namespaceId: 'default', pipelineId: 'lrf', limit: 0, offset: 0, states: [], statuses: [], startedBy: '', ...filter })).runs.map((run) => run.id);

  it('keeps only the runs in the states, with the outcomes and from the starter asked for', async () => {
    // One at a time: a long run holds the slot, so the next one stays pending.
    await apply(client, `
id: lrf
parallelism: 1
tasks:
  - id: check
    image: busybox:latest
    script: 'sleep "\${SLEEP:-0}"; test "$FAIL" != yes'
`);
    const me = `token/${(await client.whoAmI({})).token!.id}`;
    const issued = await client.createToken({ kind: 'TOKEN_KIND_CLIENT' as never, namespaces: ['default'], metadata: {}, expiresInSeconds: 0 });
    const other = cluster.client(undefined, issued.secret);
    const them = `token/${issued.token!.id}`;

    const ok1 = (await startRun(client, 'lrf')).id;
    const failed1 = (await startRun(client, 'lrf', { FAIL: 'yes' })).id;
    const ok2 = (await startRun(other, 'lrf')).id;
    const failed2 = (await startRun(other, 'lrf', { FAIL: 'yes' })).id;
    for (const id of [ok1, failed1, ok2, failed2]) await waitForRun(client, 'lrf', id);
    const running = (await startRun(client, 'lrf', { SLEEP: '300' })).id;
    await waitFor('the long run to run', async () =>
      (await client.getRun({ namespaceId: 'default', pipelineId: 'lrf', runId: running })).run?.state === 'RUN_STATE_RUNNING' ? true : undefined);
    const pending = (await startRun(other, 'lrf')).id;
    const cancelled = (await startRun(client, 'lrf')).id;
    await client.cancelRun({ namespaceId: 'default', pipelineId: 'lrf', runId: cancelled });
    expect((await waitForRun(client, 'lrf', cancelled)).run.status).toBe('RUN_STATUS_CANCELLED');
    expect((await client.getRun({ namespaceId: 'default', pipelineId: 'lrf', runId: pending })).run?.state).toBe('RUN_STATE_PENDING');

    const all = [cancelled, pending, running, failed2, ok2, failed1, ok1];
    expect(await list({})).toEqual(all);
    expect(await list({ states: ['RUN_STATE_PENDING' as never] })).toEqual([pending]);
    expect(await list({ states: ['RUN_STATE_RUNNING' as never] })).toEqual([running]);
    expect(await list({ states: ['RUN_STATE_PENDING', 'RUN_STATE_RUNNING', 'RUN_STATE_PENDING'] as never[] })).toEqual([pending, running]);
    expect(await list({ states: ['RUN_STATE_COMPLETE' as never] })).toEqual([cancelled, failed2, ok2, failed1, ok1]);
    expect(await list({ statuses: ['RUN_STATUS_FAILED' as never] })).toEqual([failed2, failed1]);
    expect(await list({ statuses: ['RUN_STATUS_SUCCESSFUL' as never] })).toEqual([ok2, ok1]);
    expect(await list({ statuses: ['RUN_STATUS_CANCELLED' as never] })).toEqual([cancelled]);
    expect(await list({ statuses: ['RUN_STATUS_SUCCESSFUL', 'RUN_STATUS_FAILED'] as never[] })).toEqual([failed2, ok2, failed1, ok1]);
    // A run still going has no outcome: asking for states and outcomes together is an AND.
    expect(await list({ states: ['RUN_STATE_RUNNING' as never], statuses: ['RUN_STATUS_FAILED' as never] })).toEqual([]);

    // Who started it: exactly, or everyone under a prefix that ends in "/".
    expect(await list({ startedBy: them })).toEqual([pending, failed2, ok2]);
    expect(await list({ startedBy: me })).toEqual([cancelled, running, failed1, ok1]);
    expect(await list({ startedBy: 'token/' })).toEqual(all);
    expect(await list({ startedBy: 'token' })).toEqual([]);
    expect(await list({ startedBy: 'trigger/' })).toEqual([]);
    expect(await list({ startedBy: them, statuses: ['RUN_STATUS_FAILED' as never] })).toEqual([failed2]);

    // LIKE's wildcards are taken literally: unescaped, each of these would match every "token/…".
    expect(await list({ startedBy: 'tok%/' })).toEqual([]);
    expect(await list({ startedBy: '_oken/' })).toEqual([]);
    expect(await list({ startedBy: 'token/%' })).toEqual([]);
    expect(await list({ startedBy: `${me.slice(0, -1)}_` })).toEqual([]);

    // Paging counts only the runs that pass the filters.
    expect(await list({ statuses: ['RUN_STATUS_FAILED', 'RUN_STATUS_SUCCESSFUL'] as never[], limit: 2, offset: 0 })).toEqual([failed2, ok2]);
    expect(await list({ statuses: ['RUN_STATUS_FAILED', 'RUN_STATUS_SUCCESSFUL'] as never[], limit: 2, offset: 2 })).toEqual([failed1, ok1]);
    expect(await list({ statuses: ['RUN_STATUS_FAILED', 'RUN_STATUS_SUCCESSFUL'] as never[], limit: 2, offset: 4 })).toEqual([]);

    await client.cancelAllRuns({ namespaceId: 'default', pipelineId: 'lrf' });
  });

  it('refuses an unknown state or outcome and a too long started_by, naming each field', async () => {
    await apply(client, 'id: lrf-bad\ntasks:\n  - { id: a, image: "busybox:latest" }\n');
    const refused = async (filter: Partial<ListRunsRequest>): Promise<{ code: number; details: string }> => {
      const request = { namespaceId: 'default', pipelineId: 'lrf-bad', limit: 0, offset: 0, states: [], statuses: [], startedBy: '', ...filter };
      const error = await client.listRuns(request).then(() => undefined, (e: { code: number; details: string }) => e);
      expect(error, `ListRuns ${JSON.stringify(filter)} should fail`).toBeDefined();
      return { code: error!.code, details: error!.details };
    };
    // A number no RunState has reaches the server as that number.
    expect(await refused({ states: [99 as never] })).toEqual({
      code: GrpcStatus.INVALID_ARGUMENT,
      details: 'states: 99 is not one of RUN_STATE_PENDING, RUN_STATE_RUNNING, RUN_STATE_COMPLETE',
    });
    expect(await refused({ statuses: ['RUN_STATUS_UNSPECIFIED' as never] })).toEqual({
      code: GrpcStatus.INVALID_ARGUMENT,
      details: 'statuses: "RUN_STATUS_UNSPECIFIED" is not one of RUN_STATUS_SUCCESSFUL, RUN_STATUS_FAILED, RUN_STATUS_CANCELLED',
    });
    expect(await refused({ startedBy: `trigger/${'x'.repeat(293)}` })).toEqual({
      code: GrpcStatus.INVALID_ARGUMENT,
      details: 'started_by: 301 characters, at most 300',
    });
    // Every problem at once.
    const all = await refused({ states: ['RUN_STATE_UNSPECIFIED' as never], statuses: [7 as never], startedBy: 'x'.repeat(400) });
    expect(all.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(all.details.split('\n')).toEqual([
      'states: "RUN_STATE_UNSPECIFIED" is not one of RUN_STATE_PENDING, RUN_STATE_RUNNING, RUN_STATE_COMPLETE',
      'statuses: 7 is not one of RUN_STATUS_SUCCESSFUL, RUN_STATUS_FAILED, RUN_STATUS_CANCELLED',
      'started_by: 400 characters, at most 300',
    ]);
    // Exactly 300 characters is allowed.
    expect((await client.listRuns({ namespaceId: 'default', pipelineId: 'lrf-bad', limit: 0, offset: 0, states: [], statuses: [], startedBy: 'x'.repeat(300) })).runs).toEqual([]);
  });
});
