// Namespaces, the event log and the secret store's input checks, through the real API of a real
// cluster (two API processes and a worker on one Postgres, Redis and object directory).
import { readdirSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GrpcStatus, type Event, type GoferClient, type Run, type TaskRun } from '@gofer/proto';
import { freePort, TestCluster, waitFor, type GoferProcess } from '../support/gofer-process.js';

/** The status and message of a call that must fail (code 0 if it succeeded). */
async function failure(call: Promise<unknown>): Promise<{ code: number; details: string }> {
  return call.then(
    () => ({ code: 0, details: 'succeeded' }),
    (error: { code: number; details: string }) => ({ code: error.code, details: error.details }),
  );
}

async function applyIn(client: GoferClient, namespaceId: string, yaml: string): Promise<void> {
  await client.applyPipelineConfig({ namespaceId, config: Buffer.from(yaml), format: 'CONFIG_FORMAT_UNSPECIFIED' as never });
}

async function startRunIn(client: GoferClient, namespaceId: string, pipelineId: string): Promise<Run> {
  return (await client.startRun({ namespaceId, pipelineId, variables: {} })).run!;
}

async function waitForRunIn(
  client: GoferClient,
  namespaceId: string,
  pipelineId: string,
  runId: number,
): Promise<{ run: Run; tasks: Record<string, TaskRun> }> {
  const run = await waitFor(`run ${runId} of ${namespaceId}/${pipelineId} to complete`, async () => {
    const { run } = await client.getRun({ namespaceId, pipelineId, runId });
    return run?.state === 'RUN_STATE_COMPLETE' ? run : undefined;
  });
  const { taskRuns } = await client.listTaskRuns({ namespaceId, pipelineId, runId });
  return { run, tasks: Object.fromEntries(taskRuns.map((t) => [t.taskId, t])) };
}

async function logsOf(client: GoferClient, namespaceId: string, pipelineId: string, runId: number, taskId: string): Promise<string> {
  let text = '';
  for await (const message of client.getTaskRunLogs({ namespaceId, pipelineId, runId, taskId, attempt: 0, follow: false, offset: 0, tail: 0, limit: 0 })) {
    text += Buffer.from(message.chunk).toString('utf8');
  }
  return text;
}

/** Every stored event the token may see, without following. */
async function allEvents(client: GoferClient, request: { afterId?: number; namespaceId?: string } = {}): Promise<Event[]> {
  const events: Event[] = [];
  for await (const { event } of client.listEvents({ afterId: request.afterId ?? 0, follow: false, namespaceId: request.namespaceId ?? '', skipExisting: false, last: 0 })) {
    events.push(event!);
  }
  return events;
}

/** Files (not directories) under a directory, recursively; none if it does not exist. */
function filesUnder(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true }).map(String).filter((f) => statSync(join(dir, f)).isFile());
  } catch {
    return [];
  }
}

async function count(cluster: TestCluster, sql: string, params: unknown[] = []): Promise<number> {
  const [{ count: n }] = await cluster.query<{ count: string }>(sql, params);
  return Number(n);
}

describe('namespaces, events and secret input checks on a two-API cluster', () => {
  let cluster: TestCluster;
  let api1: GoferProcess;
  let api2: GoferProcess;
  let c1: GoferClient;
  let c2: GoferClient;
  let gate: Server;
  let gatePort: number;
  let gateOpen = false;

  beforeAll(async () => {
    gatePort = await freePort();
    gate = createServer((_req, res) => res.writeHead(gateOpen ? 200 : 503).end());
    await new Promise<void>((resolve) => gate.listen(gatePort, '127.0.0.1', resolve));
    cluster = await TestCluster.create('ns_events');
    api1 = await cluster.start('api');
    api2 = await cluster.start('api');
    await cluster.start('worker');
    c1 = cluster.client(api1);
    c2 = cluster.client(api2);
  });
  afterAll(async () => {
    await cluster?.destroy();
    gate?.close();
  });

  describe('namespaces', () => {
    it('refuses bad ids, naming them, and duplicates with ALREADY_EXISTS', async () => {
      for (const id of ['ab', 'Team-a', '-team', '_team', 'team a', 'team/../x', 'tëam', 'x'.repeat(33)]) {
        const result = await failure(c1.createNamespace({ id, name: '', description: '' }));
        expect(result, id).toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT, details: expect.stringContaining(`id: "${id}" is not a valid namespace id`) });
      }
      expect(await failure(c1.createNamespace({ id: '', name: '', description: '' }))).toMatchObject({
        code: GrpcStatus.INVALID_ARGUMENT, details: 'id: required',
      });
      const both = await failure(c1.createNamespace({ id: 'ok-id', name: 'n'.repeat(129), description: 'd'.repeat(1025) }));
      expect(both.code).toBe(GrpcStatus.INVALID_ARGUMENT);
      expect(both.details.split('\n').sort()).toEqual(['description: at most 1024 characters', 'name: at most 128 characters']);

      const created = await c1.createNamespace({ id: 'dup-ns', name: 'Dup', description: 'first' });
      expect(created.namespace).toMatchObject({ id: 'dup-ns', name: 'Dup', description: 'first' });
      // From the other API process too: the database decides, not a process's memory.
      expect(await failure(c2.createNamespace({ id: 'dup-ns', name: 'Other', description: 'second' }))).toMatchObject({
        code: GrpcStatus.ALREADY_EXISTS, details: 'namespace "dup-ns" already exists',
      });
      expect(await failure(c1.createNamespace({ id: 'default', name: '', description: '' }))).toMatchObject({ code: GrpcStatus.ALREADY_EXISTS });
      // The refused calls stored nothing, and the duplicate did not overwrite the first.
      expect((await c2.getNamespace({ id: 'dup-ns' })).namespace).toMatchObject({ name: 'Dup', description: 'first' });
      const ids = (await cluster.query<{ id: string }>('SELECT id FROM namespaces ORDER BY id')).map((r) => r.id);
      expect(ids).toEqual(['default', 'dup-ns']);
      expect(await count(cluster, "SELECT count(*) FROM events WHERE kind = 'namespace_created'")).toBe(1);
    });

    it('gets one (name defaults to the id) and lists all ordered by id', async () => {
      for (const id of ['zeta-ns', 'alpha-ns', 'mid_ns']) await c1.createNamespace({ id, name: '', description: `about ${id}` });
      const before = Date.now();
      const { namespace } = await c2.getNamespace({ id: 'zeta-ns' });
      expect(namespace).toEqual({ id: 'zeta-ns', name: 'zeta-ns', description: 'about zeta-ns', created: expect.any(Number) });
      expect(namespace!.created).toBeLessThanOrEqual(before);
      expect(await failure(c2.getNamespace({ id: 'nowhere' }))).toMatchObject({ code: GrpcStatus.NOT_FOUND, details: 'namespace "nowhere" not found' });

      const listed = (await c2.listNamespaces({ limit: 0, offset: 0 })).namespaces.map((n) => n.id);
      expect(listed).toEqual(['alpha-ns', 'default', 'dup-ns', 'mid_ns', 'zeta-ns']);
      expect((await c2.listNamespaces({ limit: 2, offset: 1 })).namespaces.map((n) => n.id)).toEqual(['default', 'dup-ns']);
    });

    it('keeps pipelines apart: one applied in a new namespace is invisible from "default"', async () => {
      await c1.createNamespace({ id: 'team-a', name: 'Team A', description: '' });
      await applyIn(c1, 'team-a', 'id: ns-job\ntasks:\n  - { id: work, image: busybox:latest, script: "echo working in $GOFER_NAMESPACE" }\n');
      expect((await c2.listPipelines({ namespaceId: 'team-a', limit: 0, offset: 0 })).pipelines.map((p) => p.id)).toEqual(['ns-job']);
      expect((await c2.listPipelines({ namespaceId: 'default', limit: 0, offset: 0 })).pipelines.map((p) => p.id)).not.toContain('ns-job');
      expect(await failure(c2.getPipeline({ namespaceId: 'default', id: 'ns-job' }))).toMatchObject({ code: GrpcStatus.NOT_FOUND });
      expect(await failure(c2.startRun({ namespaceId: 'default', pipelineId: 'ns-job', variables: {} }))).toMatchObject({ code: GrpcStatus.NOT_FOUND });
      // A namespace that does not exist holds nothing and accepts nothing.
      expect(await failure(applyIn(c1, 'no-such-ns', 'id: ns-job\ntasks:\n  - { id: a, image: busybox:latest }\n'))).toMatchObject({
        code: GrpcStatus.NOT_FOUND, details: expect.stringContaining('namespace "no-such-ns" not found'),
      });
    });

    it('refuses to delete a namespace holding pipelines, naming them and suggesting --force', async () => {
      await applyIn(c1, 'team-a', 'id: ns-other\ntasks:\n  - { id: a, image: busybox:latest }\n');
      const refused = await failure(c2.deleteNamespace({ id: 'team-a', force: false }));
      expect(refused).toMatchObject({ code: GrpcStatus.FAILED_PRECONDITION });
      expect(refused.details).toContain('namespace "team-a"');
      expect(refused.details).toContain('2 pipeline(s)');
      expect(refused.details).toMatch(/\bns-job\b/);
      expect(refused.details).toMatch(/\bns-other\b/);
      expect(refused.details).toContain('--force');
      expect((await c2.getNamespace({ id: 'team-a' })).namespace?.id).toBe('team-a');
      expect(await count(cluster, "SELECT count(*) FROM pipelines WHERE namespace_id = 'team-a'")).toBe(2);
    });

    it('delete --force removes its pipelines with their runs, objects, logs and secrets; NOT_FOUND afterwards', async () => {
      const run = await startRunIn(c1, 'team-a', 'ns-job');
      const { run: done } = await waitForRunIn(c1, 'team-a', 'ns-job', run.id);
      expect(done.status).toBe('RUN_STATUS_SUCCESSFUL');
      expect(await logsOf(c1, 'team-a', 'ns-job', run.id, 'work')).toBe('working in team-a\n');
      await c1.putPipelineObject({ namespaceId: 'team-a', pipelineId: 'ns-job', key: 'kept.txt' }, Buffer.from('pipeline object'));
      await c1.putRunObject({ namespaceId: 'team-a', pipelineId: 'ns-job', runId: run.id, key: 'report.txt' }, Buffer.from('run object'));
      await c1.putPipelineSecret({ namespaceId: 'team-a', pipelineId: 'ns-job', key: 'TOKEN', value: 'team-a-secret' });
      await c1.putPipelineSecret({ namespaceId: 'team-a', pipelineId: 'ns-other', key: 'OTHER', value: 'other-secret' });
      // The same names in "default" must survive.
      await applyIn(c1, 'default', 'id: ns-job\ntasks:\n  - { id: work, image: busybox:latest }\n');
      await c1.putPipelineSecret({ namespaceId: 'default', pipelineId: 'ns-job', key: 'TOKEN', value: 'default-secret' });
      await c1.putPipelineObject({ namespaceId: 'default', pipelineId: 'ns-job', key: 'kept.txt' }, Buffer.from('default object'));

      const root = cluster.objectStore.replace(/^fs:\/\//, '');
      const tables = ['pipelines', 'pipeline_configs', 'runs', 'task_runs', 'objects', 'secrets'];
      const rowsIn = async (namespace: string) =>
        Object.fromEntries(await Promise.all(tables.map(async (t) => [t, await count(cluster, `SELECT count(*) FROM ${t} WHERE namespace_id = $1`, [namespace])])));
      expect(await rowsIn('team-a')).toEqual({ pipelines: 2, pipeline_configs: 2, runs: 1, task_runs: 1, objects: 2, secrets: 2 });
      expect(filesUnder(join(root, 'objects/team-a')).length).toBeGreaterThanOrEqual(2);
      expect(filesUnder(join(root, 'logs/team-a')).length).toBeGreaterThanOrEqual(1);
      const defaultBefore = await rowsIn('default');

      await c2.deleteNamespace({ id: 'team-a', force: true });

      expect(await rowsIn('team-a')).toEqual({ pipelines: 0, pipeline_configs: 0, runs: 0, task_runs: 0, objects: 0, secrets: 0 });
      expect(filesUnder(join(root, 'objects/team-a'))).toEqual([]);
      expect(filesUnder(join(root, 'logs/team-a'))).toEqual([]);
      expect(await count(cluster, "SELECT count(*) FROM namespaces WHERE id = 'team-a'")).toBe(0);
      expect(await rowsIn('default')).toEqual(defaultBefore);
      expect((await c1.getPipelineSecret({ namespaceId: 'default', pipelineId: 'ns-job', key: 'TOKEN', includeValue: true })).secret?.value).toBe('default-secret');

      expect(await failure(c1.getNamespace({ id: 'team-a' }))).toMatchObject({ code: GrpcStatus.NOT_FOUND, details: 'namespace "team-a" not found' });
      expect(await failure(c1.deleteNamespace({ id: 'team-a', force: true }))).toMatchObject({ code: GrpcStatus.NOT_FOUND });
      expect(await failure(c1.deleteNamespace({ id: 'team-a', force: false }))).toMatchObject({ code: GrpcStatus.NOT_FOUND });
      expect((await c1.listNamespaces({ limit: 0, offset: 0 })).namespaces.map((n) => n.id)).not.toContain('team-a');
      const [deleted] = await cluster.query<{ details: { pipelines: string[] } }>("SELECT details FROM events WHERE kind = 'namespace_deleted' AND namespace_id = 'team-a'");
      expect(deleted.details.pipelines.sort()).toEqual(['ns-job', 'ns-other']);
      // An empty namespace goes without --force.
      await c1.createNamespace({ id: 'empty-ns', name: '', description: '' });
      await c1.deleteNamespace({ id: 'empty-ns', force: false });
      expect(await failure(c1.getNamespace({ id: 'empty-ns' }))).toMatchObject({ code: GrpcStatus.NOT_FOUND });
    });

    it('refuses to delete a namespace with an unfinished run, even with --force', async () => {
      await c1.createNamespace({ id: 'busy-ns', name: '', description: '' });
      await applyIn(c1, 'busy-ns', 'id: sleeper\ntasks:\n  - { id: nap, image: busybox:latest, script: "sleep 300" }\n');
      const run = await startRunIn(c1, 'busy-ns', 'sleeper');
      for (const force of [true, false]) {
        const refused = await failure(c2.deleteNamespace({ id: 'busy-ns', force }));
        expect(refused, `force ${force}`).toMatchObject({ code: GrpcStatus.FAILED_PRECONDITION });
        if (force) expect(refused.details).toMatch(/namespace "busy-ns" has 1 unfinished run/);
      }
      expect(await count(cluster, "SELECT count(*) FROM runs WHERE namespace_id = 'busy-ns'")).toBe(1);
      expect((await c1.getNamespace({ id: 'busy-ns' })).namespace?.id).toBe('busy-ns');

      await c1.cancelRun({ namespaceId: 'busy-ns', pipelineId: 'sleeper', runId: run.id });
      expect((await waitForRunIn(c1, 'busy-ns', 'sleeper', run.id)).run.status).toBe('RUN_STATUS_CANCELLED');
      await c2.deleteNamespace({ id: 'busy-ns', force: true });
      expect(await count(cluster, "SELECT count(*) FROM runs WHERE namespace_id = 'busy-ns'")).toBe(0);
    });

    it('never deletes the default namespace', async () => {
      for (const force of [false, true]) {
        expect(await failure(c1.deleteNamespace({ id: 'default', force }))).toMatchObject({
          code: GrpcStatus.FAILED_PRECONDITION, details: expect.stringContaining('default namespace cannot be deleted'),
        });
      }
      expect((await c1.getNamespace({ id: 'default' })).namespace?.id).toBe('default');
    });
  });

  describe('events', () => {
    it('a follower on API #2 sees a run started through API #1 live, in id order, without duplicates', async () => {
      await applyIn(c1, 'default', `
id: ev-flow
tasks:
  - id: first
    image: busybox:latest
    script: 'echo waiting; until wget -q -O /dev/null http://127.0.0.1:${gatePort}/ 2>/dev/null; do sleep 0.2; done; echo through'
  - id: second
    image: busybox:latest
    depends_on: { first: success }
    script: 'echo second'
`);
      const [{ max }] = await cluster.query<{ max: string | null }>('SELECT max(id) FROM events');
      const start = Number(max ?? 0);
      const received: Event[] = [];
      let runId = 0;
      const stream = c2.listEvents({ afterId: start, follow: true, namespaceId: '', skipExisting: false, last: 0 });
      const following = (async () => {
        for await (const { event } of stream) {
          received.push(event!);
          if (event!.kind === 'run_completed' && event!.pipelineId === 'ev-flow' && event!.runId === runId) return;
        }
      })();

      runId = (await startRunIn(c1, 'default', 'ev-flow')).id;
      // The first task cannot end before the gate opens: what arrives now arrived live.
      const started = await waitFor('task_run_started of "first" on the follower', async () =>
        received.find((e) => e.kind === 'task_run_started' && e.taskId === 'first' && e.runId === runId));
      expect((await c1.getTaskRun({ namespaceId: 'default', pipelineId: 'ev-flow', runId, taskId: 'first', attempt: 0 })).taskRun?.state).toBe('TASK_RUN_STATE_RUNNING');
      expect(received.some((e) => e.kind === 'run_completed')).toBe(false);
      expect(started).toMatchObject({ namespaceId: 'default', pipelineId: 'ev-flow' });
      gateOpen = true;
      await following;

      const ids = received.map((e) => e.id);
      expect(ids.every((id) => id > start)).toBe(true);
      expect(new Set(ids).size).toBe(ids.length);
      expect([...ids].sort((a, b) => a - b)).toEqual(ids);

      const ofRun = received.filter((e) => e.pipelineId === 'ev-flow' && e.runId === runId);
      expect(ofRun.map((e) => [e.kind, e.taskId])).toEqual([
        ['run_created', ''],
        ['run_started', ''],
        ['task_run_started', 'first'],
        ['task_run_completed', 'first'],
        ['task_run_started', 'second'],
        ['task_run_completed', 'second'],
        ['run_completed', ''],
      ]);
      for (const completed of ofRun.filter((e) => e.kind === 'task_run_completed')) {
        expect(JSON.parse(completed.details)).toMatchObject({ attempt: 1, status: 'successful', exit_code: 0 });
      }
      expect(JSON.parse(ofRun.at(-1)!.details)).toMatchObject({ status: 'successful' });
      expect(JSON.parse(ofRun[2]!.details)).toMatchObject({ attempt: 1, worker_id: expect.any(String) });
      // Nothing stored was missed: the follower saw exactly what the database holds.
      const stored = await cluster.query<{ id: string }>('SELECT id FROM events WHERE id > $1 AND id <= $2 ORDER BY id', [start, ids.at(-1)]);
      expect(stored.map((r) => Number(r.id))).toEqual(ids);
    });

    it('a namespace filter yields only that namespace, stored and followed', async () => {
      await c1.createNamespace({ id: 'ev-ns', name: '', description: '' });
      await applyIn(c1, 'ev-ns', 'id: ev-there\ntasks:\n  - { id: a, image: busybox:latest }\n');
      const stored = await allEvents(c2, { namespaceId: 'ev-ns' });
      expect(stored.map((e) => e.kind)).toEqual(['namespace_created', 'pipeline_created']);
      expect(stored.every((e) => e.namespaceId === 'ev-ns')).toBe(true);
      const inDb = await cluster.query<{ id: string }>("SELECT id FROM events WHERE namespace_id = 'ev-ns' ORDER BY id");
      expect(stored.map((e) => e.id)).toEqual(inDb.map((r) => Number(r.id)));

      const followed: Event[] = [];
      const stream = c2.listEvents({ afterId: stored.at(-1)!.id, follow: true, namespaceId: 'ev-ns', skipExisting: false, last: 0 });
      const following = (async () => {
        for await (const { event } of stream) {
          followed.push(event!);
          if (event!.kind === 'secret_put') return;
        }
      })();
      // Changes elsewhere first (default namespace, global), then the one the follower waits for.
      await c1.putPipelineObject({ namespaceId: 'default', pipelineId: 'ev-flow', key: 'elsewhere' }, Buffer.from('x'));
      await c1.createToken({ kind: 'TOKEN_KIND_CLIENT' as never, namespaces: ['ev-ns'], metadata: {}, expiresInSeconds: 0 });
      await c1.putPipelineObject({ namespaceId: 'ev-ns', pipelineId: 'ev-there', key: 'here' }, Buffer.from('y'));
      await c1.putPipelineSecret({ namespaceId: 'ev-ns', pipelineId: 'ev-there', key: 'HERE', value: 'not-in-events' });
      await following;
      expect(followed.map((e) => [e.namespaceId, e.kind])).toEqual([['ev-ns', 'object_put'], ['ev-ns', 'secret_put']]);
      expect(JSON.stringify(followed)).not.toContain('not-in-events');
    });

    it('afterId resumes exactly after an id', async () => {
      const all = await allEvents(c1);
      expect(all.length).toBeGreaterThan(10);
      const ids = all.map((e) => e.id);
      expect([...ids].sort((a, b) => a - b)).toEqual(ids);
      const middle = all[Math.floor(all.length / 2)]!;
      expect(await allEvents(c2, { afterId: middle.id })).toEqual(all.slice(all.indexOf(middle) + 1));
      expect(await allEvents(c2, { afterId: all.at(-1)!.id })).toEqual([]);
      expect(await allEvents(c2, { afterId: all.at(-1)!.id + 1000 })).toEqual([]);
      expect(await failure(allEvents(c2, { afterId: -1 }))).toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT });
      // Following from the last id gets only what happens next.
      const next: Event[] = [];
      const stream = c1.listEvents({ afterId: all.at(-1)!.id, follow: true, namespaceId: '', skipExisting: false, last: 0 });
      const following = (async () => {
        for await (const { event } of stream) {
          next.push(event!);
          return;
        }
      })();
      await c2.createNamespace({ id: 'ev-resume', name: '', description: '' });
      await following;
      expect(next).toEqual([expect.objectContaining({ kind: 'namespace_created', namespaceId: 'ev-resume' })]);
      expect(next[0]!.id).toBeGreaterThan(all.at(-1)!.id);
    });

    // Event ids are taken when a transaction inserts, not when it commits (EventLog's own comment):
    // a follower must not step over an id whose transaction is still committing. The follower waits
    // up to 2 s for such a gap in the middle of a stream — but not for the first event after
    // `afterId`, so resuming while a transaction commits late loses that event for good.
    it('afterId resumes exactly after an id even when the next event commits late', async () => {
      const { default: pg } = await import('pg');
      const slow = new pg.Client({ connectionString: cluster.databaseUrl });
      await slow.connect();
      try {
        const [{ max }] = await cluster.query<{ max: string }>('SELECT max(id) FROM events');
        const resumeAfter = Number(max);
        // A transaction (any API process's) that took the next id and has not committed yet.
        await slow.query('BEGIN');
        const held = Number((await slow.query("INSERT INTO events (kind, namespace_id) VALUES ('slow_commit', 'ev-ns') RETURNING id")).rows[0].id);
        await c1.createNamespace({ id: 'ev-late', name: '', description: '' }); // commits the id after it
        const follow = (afterId: number) => {
          const received: Event[] = [];
          const stream = c2.listEvents({ afterId, follow: true, namespaceId: '', skipExisting: false, last: 0 });
          const done = (async () => {
            for await (const { event } of stream) {
              received.push(event!);
              if (event!.namespaceId === 'ev-later') return;
            }
          })();
          return { received, done };
        };
        // One follower meets the late id in the middle of its stream, the other right after afterId.
        const earlier = follow(resumeAfter - 1);
        const resumed = follow(resumeAfter);
        // Commit as soon as the follower has stepped past the held id, or well within its 2 s gap wait.
        await waitFor('the follower to poll', async () => (resumed.received.length > 0 ? true : undefined), 750).catch(() => undefined);
        await slow.query('COMMIT');
        await c1.createNamespace({ id: 'ev-later', name: '', description: '' });
        await Promise.all([earlier.done, resumed.done]);
        const expected = [
          [held, 'slow_commit', 'ev-ns'],
          [held + 1, 'namespace_created', 'ev-late'],
          [held + 2, 'namespace_created', 'ev-later'],
        ];
        expect(earlier.received.map((e) => [e.id, e.kind, e.namespaceId]).slice(1)).toEqual(expected);
        expect(resumed.received.map((e) => [e.id, e.kind, e.namespaceId])).toEqual(expected);
      } finally {
        await slow.end();
      }
    });
  });

  describe('hostile input for secrets', () => {
    const ref = { namespaceId: 'default', pipelineId: 'sec-hostile' };
    const snapshot = async () =>
      JSON.stringify(await cluster.query('SELECT namespace_id, pipeline_id, key, ciphertext, namespaces, updated FROM secrets ORDER BY namespace_id, pipeline_id, key'));
    const secretEvents = () => count(cluster, "SELECT count(*) FROM events WHERE kind = 'secret_put'");

    beforeAll(async () => {
      await applyIn(c1, 'default', `
id: sec-hostile
tasks:
  - id: show
    image: busybox:latest
    variables: { EMPTY: "pipeline_secret{{EMPTY}}" }
    script: 'printf "EMPTY=[%s] set=%s\\n" "$EMPTY" "\${EMPTY+yes}"'
`);
    });

    it('accepts an empty value, which interpolates to an empty (but set) variable', async () => {
      const { secret } = await c1.putPipelineSecret({ ...ref, key: 'EMPTY', value: '' });
      expect(secret).toMatchObject({ key: 'EMPTY', value: '' });
      expect((await c2.getPipelineSecret({ ...ref, key: 'EMPTY', includeValue: true })).secret?.value).toBe('');
      const run = await startRunIn(c1, 'default', 'sec-hostile');
      const { run: done, tasks } = await waitForRunIn(c1, 'default', 'sec-hostile', run.id);
      expect(done.status, JSON.stringify(tasks.show?.statusReason)).toBe('RUN_STATUS_SUCCESSFUL');
      expect(await logsOf(c1, 'default', 'sec-hostile', run.id, 'show')).toBe('EMPTY=[] set=yes\n');
    });

    it.each([
      ['unicode', 'ключ'],
      ['a space', 'MY KEY'],
      ['a path', '../x'],
      ['a slash', 'a/b'],
      ['300 characters', 'K'.repeat(300)],
      ['interpolation syntax', 'A}}B'],
    ])('refuses a key with %s, naming it, and stores nothing', async (_what, key) => {
      const before = await snapshot();
      const events = await secretEvents();
      for (const call of [
        c1.putPipelineSecret({ ...ref, key, value: 'v' }),
        c1.putGlobalSecret({ key, value: 'v', namespaces: ['default'] }),
      ]) {
        const result = await failure(call);
        expect(result).toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT });
        expect(result.details).toContain(`key: "${key.slice(0, 64)}`);
        expect(result.details).toContain('is not a valid secret key');
      }
      expect(await snapshot()).toBe(before);
      expect(await secretEvents()).toBe(events);
    });

    it('refuses a key with a NUL byte before anything else (every request string is checked), storing nothing', async () => {
      const before = await snapshot();
      for (const call of [c1.putPipelineSecret({ ...ref, key: 'KEY\0', value: 'v' }), c1.putGlobalSecret({ key: 'KEY\0', value: 'v', namespaces: ['default'] })]) {
        expect(await failure(call)).toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT, details: 'key: contains a NUL character' });
      }
      expect(await snapshot()).toBe(before);
    });

    it('refuses an empty key', async () => {
      expect(await failure(c1.putPipelineSecret({ ...ref, key: '', value: 'v' }))).toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT, details: 'key: required' });
    });

    it('takes a value of exactly 64 KiB and refuses one byte more (counted in UTF-8 bytes), storing nothing', async () => {
      const limit = 64 * 1024;
      await c1.putPipelineSecret({ ...ref, key: 'AT_LIMIT', value: 'v'.repeat(limit) });
      expect((await c1.getPipelineSecret({ ...ref, key: 'AT_LIMIT', includeValue: true })).secret?.value).toHaveLength(limit);
      const before = await snapshot();
      const events = await secretEvents();
      for (const value of ['v'.repeat(limit + 1), 'é'.repeat(limit / 2 + 1), 'x'.repeat(1024 * 1024)]) {
        const result = await failure(c1.putPipelineSecret({ ...ref, key: 'TOO_BIG', value }));
        expect(result).toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT, details: `value: ${Buffer.byteLength(value)} bytes, the limit is ${limit}` });
      }
      // Replacing an existing secret with a refused value leaves the old one.
      expect(await failure(c1.putPipelineSecret({ ...ref, key: 'AT_LIMIT', value: 'v'.repeat(limit + 1) }))).toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT });
      expect(await snapshot()).toBe(before);
      expect(await secretEvents()).toBe(events);
      expect(await failure(c1.getPipelineSecret({ ...ref, key: 'TOO_BIG', includeValue: false }))).toMatchObject({ code: GrpcStatus.NOT_FOUND });
    });

    it('refuses a NUL byte in a value, storing nothing', async () => {
      const before = await snapshot();
      for (const value of ['\0', 'before\0after', 'trailing\0']) {
        const result = await failure(c1.putPipelineSecret({ ...ref, key: 'NUL_VALUE', value }));
        expect(result).toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT, details: 'value: contains a NUL character' });
      }
      expect(await failure(c1.putGlobalSecret({ key: 'NUL_VALUE', value: 'a\0b', namespaces: ['default'] }))).toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT });
      expect(await snapshot()).toBe(before);
    });

    it('reports every problem of one call at once', async () => {
      const result = await failure(c1.putGlobalSecret({ key: 'bad key', value: 'v'.repeat(64 * 1024 + 1), namespaces: [] }));
      expect(result.code).toBe(GrpcStatus.INVALID_ARGUMENT);
      const lines = result.details.split('\n');
      expect(lines).toHaveLength(3);
      expect(lines[0]).toContain('key: "bad key"');
      expect(lines[1]).toContain('value: 65537 bytes');
      expect(lines[2]).toContain('namespaces:');
    });

    it('GetPipelineSecret of a missing key (or pipeline) is NOT_FOUND, naming it', async () => {
      expect(await failure(c2.getPipelineSecret({ ...ref, key: 'NOPE', includeValue: false }))).toMatchObject({
        code: GrpcStatus.NOT_FOUND, details: 'secret of pipeline "sec-hostile" "NOPE" not found',
      });
      expect(await failure(c2.getPipelineSecret({ ...ref, key: 'NOPE', includeValue: true }))).toMatchObject({ code: GrpcStatus.NOT_FOUND });
      expect(await failure(c2.getPipelineSecret({ namespaceId: 'default', pipelineId: 'no-such-pipe', key: 'EMPTY', includeValue: true }))).toMatchObject({ code: GrpcStatus.NOT_FOUND });
      expect(await failure(c2.deletePipelineSecret({ ...ref, key: 'NOPE' }))).toMatchObject({ code: GrpcStatus.NOT_FOUND });
      expect(await failure(c2.getGlobalSecret({ key: 'NOPE', includeValue: false }))).toMatchObject({ code: GrpcStatus.NOT_FOUND, details: 'global secret "NOPE" not found' });
    });

    it('refuses a secret for a pipeline that does not exist, storing nothing', async () => {
      const before = await count(cluster, 'SELECT count(*) FROM secrets');
      for (const where of [{ namespaceId: 'default', pipelineId: 'no-such-pipe' }, { namespaceId: 'no-such-ns', pipelineId: 'sec-hostile' }]) {
        expect(await failure(c2.putPipelineSecret({ ...where, key: 'ORPHAN', value: 'x' }))).toMatchObject({
          code: GrpcStatus.NOT_FOUND, details: expect.stringContaining('not found'),
        });
      }
      expect(await count(cluster, 'SELECT count(*) FROM secrets')).toBe(before);
    });

    it('a global secret needs namespaces, each a valid name or /regex/', async () => {
      const before = await snapshot();
      expect(await failure(c1.putGlobalSecret({ key: 'SHARED', value: 'v', namespaces: [] }))).toMatchObject({
        code: GrpcStatus.INVALID_ARGUMENT, details: expect.stringContaining('namespaces: a global secret needs at least one namespace'),
      });
      for (const pattern of ['', '/([/', 'UPPER']) {
        const result = await failure(c1.putGlobalSecret({ key: 'SHARED', value: 'v', namespaces: [pattern] }));
        expect(result, pattern).toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT, details: expect.stringContaining('namespaces[0]') });
      }
      expect(await snapshot()).toBe(before);
      await c1.putGlobalSecret({ key: 'SHARED', value: 'v', namespaces: ['default', '/team-.*/'] });
      expect((await c1.getGlobalSecret({ key: 'SHARED', includeValue: false })).secret?.namespaces).toEqual(['default', '/team-.*/']);
    });
  });
});

describe('event retention', () => {
  let cluster: TestCluster;
  let client: GoferClient;

  beforeAll(async () => {
    cluster = await TestCluster.create('ns_events_retention', { GOFER_EVENT_RETENTION: '1s', GOFER_RECONCILE_INTERVAL: '1s' });
    await cluster.start('api,worker');
    client = cluster.client();
  });
  afterAll(async () => cluster?.destroy());

  it('prunes events older than GOFER_EVENT_RETENTION; listing and resuming still work', async () => {
    await client.createNamespace({ id: 'old-ns', name: '', description: '' });
    await client.createNamespace({ id: 'older-ns', name: '', description: '' });
    const [{ max }] = await cluster.query<{ max: string }>('SELECT max(id) FROM events');
    const last = Number(max);
    expect(last).toBeGreaterThanOrEqual(3); // token_created (bootstrap) and the two namespace_created
    await waitFor('old events to be pruned', async () => ((await count(cluster, 'SELECT count(*) FROM events WHERE id <= $1', [last])) === 0 ? true : undefined), 30_000);
    expect((await allEvents(client)).every((e) => e.id > last)).toBe(true);
    // The log keeps counting up after a prune: a follower resuming from a pruned id gets what is new.
    const resumed: Event[] = [];
    const following = (async () => {
      for await (const { event } of client.listEvents({ afterId: last, follow: true, namespaceId: '', skipExisting: false, last: 0 })) {
        resumed.push(event!);
        return;
      }
    })();
    await client.createNamespace({ id: 'new-ns', name: '', description: '' });
    await following;
    expect(resumed).toEqual([expect.objectContaining({ kind: 'namespace_created', namespaceId: 'new-ns' })]);
    expect(resumed[0]!.id).toBeGreaterThan(last);
  });
});
