import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GoferClient } from '@gofer/proto';
import { FaultProxy } from '../support/fault-proxy.js';
import { TestCluster, waitFor, type GoferProcess } from '../support/gofer-process.js';
import { apply, startRun, waitForRun } from '../support/runs.js';

const VERSION = (JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;

/** One scrape of `/metrics`: its text, and the value of a series (NaN when absent). */
async function scrape(process: GoferProcess): Promise<{ text: string; value: (series: string) => number }> {
  const text = await (await fetch(`http://${process.httpAddr}/metrics`)).text();
  const values = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    values.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return { text, value: (series) => values.get(series) ?? NaN };
}

/** Every label `name="value"` pair of every sample in a scrape. */
function labelPairs(text: string): Array<[string, string]> {
  return text.split('\n').filter((line) => line !== '' && !line.startsWith('#')).flatMap((line) =>
    [...(line.match(/\{(.*)\}/)?.[1] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!] as [string, string]),
  );
}

/** A pipeline whose one task blocks until cancelled, one run at a time: a second run stays pending. */
const blocking = (id: string) => `
id: ${id}
parallelism: 1
tasks:
  - { id: block, image: "busybox:latest", script: "sleep 300" }
`;

describe('operator metrics on /metrics', () => {
  let cluster: TestCluster;
  let client: GoferClient;
  let gofer: GoferProcess;
  const runIds: number[] = [];

  beforeAll(async () => {
    cluster = await TestCluster.create('metrics');
    gofer = await cluster.start();
    client = cluster.client();
  });
  afterAll(async () => {
    await cluster?.destroy();
  });

  it('samples pending runs by reason, and live workers, from Postgres', async () => {
    await apply(client, blocking('metrics-limit'));
    await apply(client, blocking('metrics-off'));
    const started = [];
    for (const pipelineId of ['metrics-limit', 'metrics-limit', 'metrics-off', 'metrics-off']) {
      started.push({ pipelineId, run: await startRun(client, pipelineId) });
    }
    runIds.push(...started.map((s) => s.run.id));
    expect(started.map((s) => s.run.state)).toEqual(['RUN_STATE_RUNNING', 'RUN_STATE_PENDING', 'RUN_STATE_RUNNING', 'RUN_STATE_PENDING']);
    await client.disablePipeline({ namespaceId: 'default', id: 'metrics-off' });

    const sample = await waitFor('pending runs to be sampled by reason', async () => {
      const { value } = await scrape(gofer);
      return value('gofer_runs_pending{reason="parallelism"}') === 1 && value('gofer_runs_pending{reason="disabled"}') === 1 ? value : undefined;
    });
    expect(sample('gofer_runs_pending{reason="admission"}')).toBe(0);
    expect(sample('gofer_workers_alive')).toBe(1);

    // Cancelling the blockers admits the pending runs (also of the disabled pipeline); none is left pending.
    for (const { pipelineId, run } of started) await client.cancelRun({ namespaceId: 'default', pipelineId, runId: run.id });
    for (const { pipelineId, run } of started) await waitForRun(client, pipelineId, run.id);
    const after = await scrape(gofer);
    for (const reason of ['parallelism', 'disabled', 'admission']) expect(after.value(`gofer_runs_pending{reason="${reason}"}`)).toBe(0);
  });

  it('measures queue wait, HTTP routes, object store operations, Postgres and Redis calls, and the build', async () => {
    const idle = await scrape(gofer);
    await apply(client, `
id: metrics-dag
tasks:
  - { id: first, image: "busybox:latest", script: "echo one" }
  - { id: second, image: "busybox:latest", script: "echo two", depends_on: { first: success } }
`);
    const run = await startRun(client, 'metrics-dag');
    runIds.push(run.id);
    expect((await waitForRun(client, 'metrics-dag', run.id)).run.status).toBe('RUN_STATUS_SUCCESSFUL');

    const ref = { namespaceId: 'default', pipelineId: 'metrics-dag' };
    await client.putPipelineObject({ ...ref, key: 'kept' }, Buffer.from('value'));
    for await (const _ of client.getPipelineObject({ ...ref, key: 'kept' })) {
      // drained
    }
    expect((await fetch(`http://${gofer.httpAddr}/healthz`)).status).toBe(200);
    expect((await fetch(`http://${gofer.httpAddr}/no/such/path/${run.id}`)).status).toBe(404);
    expect((await fetch(`http://${gofer.httpAddr}/api/external/nope`, { method: 'POST', body: '{}' })).status).toBeGreaterThanOrEqual(400);

    await scrape(gofer); // so the next scrape has a /metrics request to show
    const { text, value } = await scrape(gofer);

    expect(value(`gofer_build_info{version="${VERSION}",node="${process.version}"}`)).toBe(1);
    // Two tasks here and the two blockers that ran (a cancelled pending run's task is never claimed).
    expect(value('gofer_queue_wait_seconds_count')).toBeGreaterThanOrEqual(4);
    expect(value('gofer_queue_wait_seconds_sum')).toBeGreaterThanOrEqual(0);
    expect(value('gofer_queue_wait_seconds_bucket{le="+Inf"}')).toBe(value('gofer_queue_wait_seconds_count'));

    expect(value('gofer_http_request_duration_seconds_count{route="/healthz",code="200"}')).toBeGreaterThanOrEqual(1);
    expect(value('gofer_http_request_duration_seconds_count{route="/metrics",code="200"}')).toBeGreaterThanOrEqual(1);
    expect(value('gofer_http_request_duration_seconds_count{route="unmatched",code="404"}')).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^gofer_http_request_duration_seconds_count\{route="\/api\/external\/:trigger",code="4\d\d"\} \d+/m);

    expect(value('gofer_object_store_operation_duration_seconds_count{operation="put"}')).toBeGreaterThanOrEqual(1);
    expect(value('gofer_object_store_operation_duration_seconds_count{operation="get"}')).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/^# TYPE gofer_object_store_errors_total counter$/m);
    expect(value('gofer_object_store_errors_total{operation="put"}') || 0).toBe(0);

    // Every statement and command is timed, and the run moved them; every error kind is a series (at 0
    // here) from the start, so a dashboard's rate over it has data before anything fails.
    const statements = 'gofer_postgres_query_duration_seconds_count';
    expect(value(statements)).toBeGreaterThan(idle.value(statements));
    expect(value('gofer_postgres_query_duration_seconds_bucket{le="+Inf"}')).toBe(value(statements));
    const scripts = 'gofer_redis_command_duration_seconds_count{command="evalsha"}'; // BullMQ's work
    expect(value(scripts)).toBeGreaterThan(idle.value(scripts));
    expect(text).not.toMatch(/gofer_redis_command_duration_seconds_count\{command="bzpopmin"\}/); // blocking: not timed
    for (const kind of ['connection', 'timeout', 'conflict', 'constraint', 'query']) expect(value(`gofer_postgres_errors_total{kind="${kind}"}`)).toBe(0);
    for (const kind of ['connection', 'command']) expect(value(`gofer_redis_errors_total{kind="${kind}"}`)).toBe(0);

    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(lint.error, 'promtool must be installed (apt-get install prometheus)').toBeUndefined();
    expect(lint.stdout + lint.stderr).not.toMatch(/error/i);

    // No series is labelled by run: neither a run label nor a run id (or a path carrying one) as a value.
    const pairs = labelPairs(text);
    expect(pairs.filter(([name]) => /run/i.test(name))).toEqual([]);
    // Numbers are expected only in buckets, quantiles, status codes and Node's version (gofer_nodejs_version_info).
    const numeric = ['le', 'quantile', 'code', 'major', 'minor', 'patch'];
    const ids = new Set(runIds.map(String));
    expect(pairs.filter(([name, labelValue]) => !numeric.includes(name) && (ids.has(labelValue) || labelValue.includes('/no/such')))).toEqual([]);
  });
});

describe('Postgres and Redis errors on /metrics', () => {
  let cluster: TestCluster;
  const proxies: FaultProxy[] = [];
  afterAll(async () => {
    await cluster?.destroy();
    await Promise.all(proxies.map((p) => p.close()));
  });

  it('counts the connections a live process loses, and the process serves again', async () => {
    cluster = await TestCluster.create('metrics_faults');
    const postgres = await FaultProxy.start({ port: Number(new URL(cluster.databaseUrl).port) });
    const redis = await FaultProxy.start({ port: Number(new URL(cluster.redisUrl).port) });
    proxies.push(postgres, redis);
    const gofer = await cluster.start('api,worker', { GOFER_DATABASE_URL: postgres.rewrite(cluster.databaseUrl), GOFER_REDIS_URL: redis.rewrite(cluster.redisUrl) });
    const before = await scrape(gofer);
    expect(before.value('gofer_postgres_errors_total{kind="connection"}')).toBe(0);
    expect(before.value('gofer_redis_errors_total{kind="connection"}')).toBe(0);

    // Both services unreachable for a moment: connections reset, and reconnections refused until the
    // process has tried again.
    postgres.drop();
    redis.drop();
    await waitFor('the process to try to reconnect', async () => (postgres.stats().refused > 0 && redis.stats().refused > 0 ? true : undefined), 20_000);
    postgres.restore();
    redis.restore();
    await waitFor('the process to be ready again', async () => ((await fetch(`http://${gofer.httpAddr}/readyz`)).ok ? true : undefined), 30_000);
    const during = (await scrape(gofer)).value;
    expect(during('gofer_postgres_errors_total{kind="connection"}')).toBeGreaterThan(0);
    expect(during('gofer_redis_errors_total{kind="connection"}')).toBeGreaterThan(0);

    // It works again: a run goes through, timed on the new connections; the counts stay where they were.
    const client = cluster.client(gofer);
    await apply(client, 'id: after-faults\ntasks: [{ id: a, image: "busybox:latest", script: "true" }]\n');
    const run = await startRun(client, 'after-faults');
    expect((await waitForRun(client, 'after-faults', run.id)).run.status).toBe('RUN_STATUS_SUCCESSFUL');
    const { text, value } = await scrape(gofer);
    expect(value('gofer_postgres_errors_total{kind="connection"}')).toBeGreaterThanOrEqual(during('gofer_postgres_errors_total{kind="connection"}'));
    expect(value('gofer_redis_errors_total{kind="connection"}')).toBeGreaterThanOrEqual(during('gofer_redis_errors_total{kind="connection"}'));
    expect(value('gofer_postgres_query_duration_seconds_count')).toBeGreaterThan(during('gofer_postgres_query_duration_seconds_count'));
    const lint = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(lint.stdout + lint.stderr).not.toMatch(/error/i);
  });
});
