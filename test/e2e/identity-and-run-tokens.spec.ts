import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrpcStatus, type GoferClient } from '@gofer/proto';
import { TestCluster, waitFor } from '../support/gofer-process.js';
import { apply, readLogs, startRun, waitForRun } from '../support/runs.js';

/**
 * A deleted pipeline's successor never sees its runs, configs or variables (every key built from a
 * run id or a config version is never re-used), and the token a run's tasks get can read that run
 * and use its objects, nothing else.
 */
describe('pipeline identity across delete and re-create', () => {
  let cluster: TestCluster;
  let client: GoferClient;

  beforeAll(async () => {
    cluster = await TestCluster.create('identity');
    await cluster.start('api,worker');
    client = cluster.client();
  });
  afterAll(async () => cluster?.destroy());

  const config = (script: string, image = 'busybox:latest') =>
    `id: reborn\ntasks:\n  - id: say\n    image: "${image}"\n    script: '${script}'\n`;

  it('a re-created pipeline runs its own config and variables, with new run ids and versions', async () => {
    await apply(client, config('echo "OLD $RV"'));
    const first = await startRun(client, 'reborn', { RV: 'OLD-OWNER-VALUE' });
    expect((await waitForRun(client, 'reborn', first.id)).run.status).toBe('RUN_STATUS_SUCCESSFUL');
    expect(await readLogs(client, 'reborn', first.id, 'say')).toBe('OLD OLD-OWNER-VALUE\n');

    await client.deletePipeline({ namespaceId: 'default', id: 'reborn' });
    await apply(client, config('echo "NEW $RV"'));
    const { pipeline } = await client.getPipeline({ namespaceId: 'default', id: 'reborn' });
    expect(pipeline?.latestConfigVersion).toBe(2); // versions continue: version 1 was the deleted pipeline's
    const second = await startRun(client, 'reborn', { RV: 'new' });
    expect(second.id).toBe(first.id + 1); // run ids continue too
    expect((await waitForRun(client, 'reborn', second.id)).run.status).toBe('RUN_STATUS_SUCCESSFUL');
    expect(await readLogs(client, 'reborn', second.id, 'say')).toBe('NEW new\n');
    const old = await client.getRun({ namespaceId: 'default', pipelineId: 'reborn', runId: first.id }).catch((e: { code: number }) => e);
    expect((old as { code: number }).code).toBe(GrpcStatus.NOT_FOUND);

    // The unpullable-image variant: the task run reports (and tries) the new image, not the cached old one.
    await client.deletePipeline({ namespaceId: 'default', id: 'reborn' });
    await apply(client, config('echo never', '127.0.0.1:1/nope:latest'));
    const third = await startRun(client, 'reborn');
    const { run, tasks } = await waitForRun(client, 'reborn', third.id);
    expect(run.status).toBe('RUN_STATUS_FAILED');
    expect(tasks.say).toMatchObject({ image: '127.0.0.1:1/nope:latest', statusReason: { reason: 'STATUS_REASON_KIND_SCHEDULER_ERROR' } });
  });

  it('a re-create racing with the delete still continues the numbers (the apply waits for the delete, then reads them)', async () => {
    await apply(client, 'id: racer\ntasks:\n  - { id: a, image: "busybox:latest", script: "true" }\n');
    await apply(client, 'id: racer\ntasks:\n  - { id: a, image: "busybox:latest", script: "true" }\n'); // version 2
    // A delete as PipelineService.delete makes it, held open while another client applies the id again.
    const { default: pg } = await import('pg');
    const deleter = new pg.Client({ connectionString: cluster.databaseUrl });
    await deleter.connect();
    try {
      await deleter.query('BEGIN');
      await deleter.query(`SELECT 1 FROM pipelines WHERE namespace_id = 'default' AND id = 'racer' FOR UPDATE`);
      await deleter.query(`INSERT INTO retired_pipelines (namespace_id, pipeline_id, last_run_id, last_version)
                           SELECT namespace_id, id, last_run_id, latest_version FROM pipelines WHERE namespace_id = 'default' AND id = 'racer'`);
      await deleter.query(`DELETE FROM pipelines WHERE namespace_id = 'default' AND id = 'racer'`);
      const reapplied = apply(client, 'id: racer\ntasks:\n  - { id: b, image: "busybox:latest", script: "true" }\n');
      await waitFor('the apply to wait for the delete', async () => {
        const rows = await cluster.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`);
        return rows[0]!.n > 0 ? true : undefined;
      });
      await deleter.query('COMMIT');
      await reapplied;
    } finally {
      await deleter.end();
    }
    expect((await client.getPipeline({ namespaceId: 'default', id: 'racer' })).pipeline?.latestConfigVersion).toBe(3);
  });

  it('StartRun with an idempotency key starts one run however often it is repeated, and each run records who started it', async () => {
    await apply(client, 'id: keyed\ntasks:\n  - { id: a, image: "busybox:latest", script: "true" }\n');
    const { token } = await client.whoAmI({});
    const start = () => client.startRun({ namespaceId: 'default', pipelineId: 'keyed', variables: {}, idempotencyKey: 'delivery-7' });
    const answers = await Promise.all([start(), start(), start()]);
    const ids = new Set(answers.map((answer) => answer.run?.id));
    expect(ids.size).toBe(1);
    const first = answers[0]!.run!;
    expect(first.startedBy).toBe(`token/${token!.id}`);
    expect((await start()).run?.id).toBe(first.id);
    expect((await client.listRuns({ namespaceId: 'default', pipelineId: 'keyed', limit: 0, offset: 0, states: [], statuses: [], startedBy: '' })).runs).toHaveLength(1);
    expect((await waitForRun(client, 'keyed', first.id)).run.status).toBe('RUN_STATUS_SUCCESSFUL');
    const retried = (await client.retryRun({ namespaceId: 'default', pipelineId: 'keyed', runId: first.id })).run!;
    expect(retried.startedBy).toBe(`token/${token!.id}`);
    const oversized = await client.startRun({ namespaceId: 'default', pipelineId: 'keyed', variables: {}, idempotencyKey: 'k'.repeat(257) })
      .catch((e: { code: number; details: string }) => e);
    expect(oversized).toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT, details: expect.stringContaining('idempotency_key') });
  });

  it('a force-deleted and re-created namespace does not inherit its predecessor\'s runs', async () => {
    await client.createNamespace({ id: 'phoenix', name: '', description: '' });
    const yaml = (word: string) => Buffer.from(`id: bird\ntasks:\n  - { id: say, image: "busybox:latest", script: 'echo ${word} $RV' }\n`);
    await client.applyPipelineConfig({ namespaceId: 'phoenix', config: yaml('OLD'), format: 'CONFIG_FORMAT_UNSPECIFIED' as never });
    const first = (await client.startRun({ namespaceId: 'phoenix', pipelineId: 'bird', variables: { RV: 'OLD-OWNER-VALUE' } })).run!;
    await waitForRunIn(client, 'phoenix', 'bird', first.id);

    await client.deleteNamespace({ id: 'phoenix', force: true });
    await client.createNamespace({ id: 'phoenix', name: '', description: '' });
    await client.applyPipelineConfig({ namespaceId: 'phoenix', config: yaml('NEW'), format: 'CONFIG_FORMAT_UNSPECIFIED' as never });
    const second = (await client.startRun({ namespaceId: 'phoenix', pipelineId: 'bird', variables: { RV: 'new' } })).run!;
    expect(second.id).toBeGreaterThan(first.id);
    await waitForRunIn(client, 'phoenix', 'bird', second.id);
    const chunks: Buffer[] = [];
    for await (const m of client.getTaskRunLogs({ namespaceId: 'phoenix', pipelineId: 'bird', runId: second.id, taskId: 'say', attempt: 0, follow: false, offset: 0, tail: 0, limit: 0 })) {
      chunks.push(Buffer.from(m.chunk));
    }
    expect(Buffer.concat(chunks).toString()).toBe('NEW new\n');
  });
});

async function waitForRunIn(client: GoferClient, namespaceId: string, pipelineId: string, runId: number): Promise<void> {
  for (let i = 0; i < 600; i++) {
    const { run } = await client.getRun({ namespaceId, pipelineId, runId });
    if (run?.state === 'RUN_STATE_COMPLETE') {
      expect(run.status).toBe('RUN_STATUS_SUCCESSFUL');
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`run ${runId} of ${namespaceId}/${pipelineId} did not complete`);
}

/** Each line of the script reports one call made with the task's injected token: `name=<exit code>`. */
const PROBE = `
id: probe
tasks:
  - id: try
    image: gofer-test/cli:latest
    inject_api_token: true
    script: |
      cat > /tmp/evil.yaml <<'EOF'
      id: probe
      tasks:
        - id: try
          image: busybox:latest
          variables: { S: "pipeline_secret{{K}}" }
          script: echo "$S" | rev
      EOF
      t() { name=$1; shift; "$@" >/tmp/out 2>&1; echo "$name=$?"; head -c 300 /tmp/out; echo; }
      t whoami gofer token whoami
      t get-own-run gofer run get probe $GOFER_RUN_ID
      t own-task-runs gofer taskrun list probe $GOFER_RUN_ID
      echo value > /tmp/v
      t put-run-object gofer run object put probe $GOFER_RUN_ID k /tmp/v
      t get-run-object gofer run object get probe $GOFER_RUN_ID k
      t put-pipeline-object gofer pipeline object put probe pk /tmp/v
      t get-pipeline-object gofer pipeline object get probe pk
      t other-run-object gofer run object list probe 999
      t other-pipeline-object gofer pipeline object list other
      t apply gofer pipeline apply /tmp/evil.yaml
      t start-run gofer pipeline run probe
      t start-other gofer pipeline run other
      t read-secret gofer secret pipeline get probe K --include-value
      t list-secrets gofer secret pipeline list probe
      t put-secret gofer secret pipeline put probe K --value overwritten
      t list-pipelines gofer pipeline list
      t create-token gofer token create --kind client --namespaces default
      t events gofer event list
`;

describe('the token injected into a run\'s tasks', () => {
  let cluster: TestCluster;
  let client: GoferClient;

  beforeAll(async () => {
    cluster = await TestCluster.create('runtokens');
    await cluster.start('api,worker');
    client = cluster.client();
  });
  afterAll(async () => cluster?.destroy());

  it('reads its run and uses its objects, and is refused everything else', async () => {
    await apply(client, PROBE);
    await apply(client, 'id: other\ntasks:\n  - { id: a, image: "busybox:latest", script: "true" }\n');
    await client.putPipelineSecret({ namespaceId: 'default', pipelineId: 'probe', key: 'K', value: 'the-real-secret' });
    const run = await startRun(client, 'probe');
    const { run: done, tasks } = await waitForRun(client, 'probe', run.id);
    expect(done.status, JSON.stringify(tasks)).toBe('RUN_STATUS_SUCCESSFUL');
    const log = await readLogs(client, 'probe', run.id, 'try');
    const results = Object.fromEntries([...log.matchAll(/^([a-z-]+)=(\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
    expect(results, log).toEqual({
      'whoami': 0, 'get-own-run': 0, 'own-task-runs': 0, 'put-run-object': 0, 'get-run-object': 0,
      'put-pipeline-object': 0, 'get-pipeline-object': 0,
      'other-run-object': 1, 'other-pipeline-object': 1, 'apply': 1, 'start-run': 1, 'start-other': 1,
      'read-secret': 1, 'list-secrets': 1, 'put-secret': 1, 'list-pipelines': 1, 'create-token': 1, 'events': 1,
    });
    // Every refusal says why (the CLI prints the service's message).
    expect(log.match(/run token/g)?.length).toBeGreaterThanOrEqual(11);

    // Nothing it tried took effect: one config version, one run, the secret unchanged.
    expect((await client.getPipeline({ namespaceId: 'default', id: 'probe' })).pipeline?.latestConfigVersion).toBe(1);
    expect((await client.listRuns({ namespaceId: 'default', pipelineId: 'probe', limit: 0, offset: 0, states: [], statuses: [], startedBy: '' })).runs).toHaveLength(1);
    expect((await client.listRuns({ namespaceId: 'default', pipelineId: 'other', limit: 0, offset: 0, states: [], statuses: [], startedBy: '' })).runs).toHaveLength(0);
    const secret = await client.getPipelineSecret({ namespaceId: 'default', pipelineId: 'probe', key: 'K', includeValue: true });
    expect(secret.secret?.value).toBe('the-real-secret');
    const { tokens } = await client.listTokens({});
    expect(tokens.filter((t) => t.kind !== 'TOKEN_KIND_MANAGEMENT')).toEqual([]); // the run token ended with the run
  });
});
