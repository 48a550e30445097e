import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@gofer/config';
import {
  EventsRepository, NamespacesRepository, openDataSource, PipelineConfigsRepository, PipelinesRepository, RunEntity, RunRepository, TaskRunEntity,
  TaskRunsRepository, Transactions, WorkersRepository,
} from '@gofer/dal';
import { ConfigParser, PipelineService } from '@gofer/catalog';
import { EngineMetrics, RunEngine, TaskQueue } from '@gofer/engine';
import { EventLog } from '@gofer/events';
import { taskJobId } from '@gofer/queue';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import pg from 'pg';
import { Registry } from 'prom-client';
import type { DataSource } from 'typeorm';
import { createTestDatabase } from '../support/database.js';

/** GOFER_WORKER_DEAD_AFTER as the engine is given it: a worker silent this long is presumed dead. */
const DEAD_AFTER_MS = 10_000;

/** The run state machine against real Postgres and Redis, driving the interleavings workers produce. */
describe('RunEngine transitions under concurrency', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let dataSource: DataSource;
  let redis: Redis;
  let queue: TaskQueue;
  let engine: RunEngine;
  let pipelines: PipelineService;
  const logger = pino({ level: 'silent' });

  beforeAll(async () => {
    db = await createTestDatabase('engine');
    dataSource = await openDataSource(db.url);
    redis = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
    const config = loadConfig({ GOFER_REDIS_PREFIX: `goferEngine_${randomBytes(3).toString('hex')}` });
    queue = new TaskQueue(redis, config);
    engine = new RunEngine(
      new Transactions(dataSource, logger), queue, logger, new EngineMetrics(new Registry(), queue, new RunRepository(dataSource), new WorkersRepository(dataSource), config), new RunRepository(dataSource), new TaskRunsRepository(dataSource),
      new PipelineConfigsRepository(dataSource),
    );
    pipelines = new PipelineService(
      new Transactions(dataSource, logger),
      new PipelinesRepository(dataSource),
      new PipelineConfigsRepository(dataSource),
      new NamespacesRepository(dataSource),
      logger,
      new EventLog(new EventsRepository(dataSource), config),
      new ConfigParser(),
    );
  });
  afterAll(async () => {
    await queue.queue.obliterate({ force: true });
    await queue.onModuleDestroy();
    redis.disconnect();
    await dataSource.destroy();
    await db.drop();
  });

  const apply = (yaml: string) => pipelines.apply('default', Buffer.from(yaml));
  const taskRun = (pipelineId: string, runId: number, taskId: string) =>
    dataSource.manager.findOneByOrFail(TaskRunEntity, { namespaceId: 'default', pipelineId, runId, taskId });
  const run = (pipelineId: string, id: number) => dataSource.manager.findOneByOrFail(RunEntity, { namespaceId: 'default', pipelineId, id });
  const key = (pipelineId: string, runId: number, taskId: string, attempt = 1) => ({ namespaceId: 'default', pipelineId, runId, taskId, attempt });

  it('completing one run while cancelling the pending next one never deadlocks', async () => {
    await apply('id: serial\nparallelism: 1\ntasks:\n  - { id: a, image: "busybox:latest" }\n');
    for (let i = 0; i < 15; i++) {
      const first = await engine.startRun('default', 'serial', {});
      const second = await engine.startRun('default', 'serial', {});
      expect(second.state).toBe('pending');
      expect((await engine.claimAttempt(key('serial', first.id, 'a'), 'w1', DEAD_AFTER_MS)).kind).toBe('claimed');
      const [completed] = await Promise.all([
        engine.completeAttempt(key('serial', first.id, 'a'), 'w1', { status: 'successful', description: 'ok', exitCode: 0 }),
        engine.cancelRun({ namespaceId: 'default', pipelineId: 'serial', runId: second.id }),
      ]);
      expect(completed).toBe(true);
      expect((await run('serial', first.id)).status).toBe('successful');
      expect((await run('serial', second.id)).status).toBe('cancelled');
    }
  });

  it('a start with an idempotency key returns the first run, however many starts race, and records who started it', async () => {
    await apply('id: keyed\nparallelism: 0\ntasks:\n  - { id: a, image: "busybox:latest" }\n');
    const started = await Promise.all(Array.from({ length: 8 }, () =>
      engine.startRun('default', 'keyed', { N: '1' }, { idempotencyKey: 'delivery-1', startedBy: 'trigger/github' }),
    ));
    expect(new Set(started.map((r) => r.id)).size).toBe(1);
    const again = await engine.startRun('default', 'keyed', {}, { idempotencyKey: 'delivery-1', startedBy: 'token/other' });
    expect(again.id).toBe(started[0]!.id);
    expect((await run('keyed', again.id)).startedBy).toBe('trigger/github');
    const runs = await dataSource.manager.findBy(RunEntity, { namespaceId: 'default', pipelineId: 'keyed' });
    expect(runs).toHaveLength(1);
    expect(await dataSource.manager.countBy(TaskRunEntity, { namespaceId: 'default', pipelineId: 'keyed' })).toBe(1);
    // Another key, or none, starts a new run; the run ids lost to refused duplicates are never reused.
    const other = await engine.startRun('default', 'keyed', {}, { idempotencyKey: 'delivery-2', startedBy: 'token/tok_1' });
    const plain = await engine.startRun('default', 'keyed', {});
    expect(other.id).not.toBe(again.id);
    expect(plain.id).toBeGreaterThan(other.id);
    expect(plain.startedBy).toBe('');
    await expect(engine.startRun('default', 'keyed', {}, { idempotencyKey: 'x'.repeat(257) })).rejects.toThrow(/idempotency_key: at most 256/);
    await expect(engine.startRun('default', 'keyed', {}, { idempotencyKey: 'a\nb' })).rejects.toThrow(/idempotency_key: control characters/);
  });

  it('cancelling a task of a pending run does not start the run early', async () => {
    await apply('id: held\nparallelism: 1\ntasks:\n  - { id: a, image: "busybox:latest" }\n  - { id: b, image: "busybox:latest" }\n');
    const first = await engine.startRun('default', 'held', {});
    const second = await engine.startRun('default', 'held', {});
    await engine.cancelTaskRun({ namespaceId: 'default', pipelineId: 'held', runId: second.id, taskId: 'b' });
    expect((await run('held', second.id)).state).toBe('pending');
    expect((await taskRun('held', second.id, 'a')).state).toBe('processing');
    expect((await taskRun('held', second.id, 'b')).status).toBe('cancelled');
    expect(await queue.queue.getJob(taskJobId(key('held', second.id, 'a')))).toBeUndefined();
    // Once the first run ends, the second is admitted with b already cancelled.
    for (const task of ['a', 'b']) {
      await engine.claimAttempt(key('held', first.id, task), 'w1', DEAD_AFTER_MS);
      await engine.completeAttempt(key('held', first.id, task), 'w1', { status: 'successful', description: 'ok', exitCode: 0 });
    }
    expect((await run('held', second.id)).state).toBe('running');
    expect((await taskRun('held', second.id, 'a')).state).toBe('waiting');
  });

  it('a cancel that races with the claim is never lost', async () => {
    await apply('id: racy\ntasks:\n  - { id: a, image: "busybox:latest" }\n');
    for (let i = 0; i < 10; i++) {
      const started = await engine.startRun('default', 'racy', {});
      const ref = { namespaceId: 'default', pipelineId: 'racy', runId: started.id, taskId: 'a' };
      const [claim] = await Promise.all([engine.claimAttempt(key('racy', started.id, 'a'), 'w1', DEAD_AFTER_MS), engine.cancelTaskRun(ref)]);
      const row = await taskRun('racy', started.id, 'a');
      // Either it never started (cancelled outright) or it did and its worker is told to stop.
      if (claim.kind === 'claimed') expect(row.state === 'running' && row.cancelRequested).toBe(true);
      else expect(row.status).toBe('cancelled');
    }
  });

  it('only the worker that owns an attempt can complete it, once', async () => {
    await apply('id: fenced\ntasks:\n  - { id: a, image: "busybox:latest" }\n');
    const started = await engine.startRun('default', 'fenced', {});
    expect((await engine.claimAttempt(key('fenced', started.id, 'a'), 'w1', DEAD_AFTER_MS)).kind).toBe('claimed');
    expect((await engine.claimAttempt(key('fenced', started.id, 'a'), 'w2', DEAD_AFTER_MS)).kind).toBe('adopted'); // w1 presumed dead
    const ok = { status: 'successful' as const, description: 'ok', exitCode: 0 };
    expect(await engine.completeAttempt(key('fenced', started.id, 'a'), 'w1', ok)).toBe(false);
    const results = await Promise.all([1, 2, 3].map(() => engine.completeAttempt(key('fenced', started.id, 'a'), 'w2', ok)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await run('fenced', started.id)).status).toBe('successful');
  });

  it('a running attempt moves only from a dead worker, or one that handed it back', async () => {
    await apply('id: owned\ntasks:\n  - { id: a, image: "busybox:latest" }\n');
    const started = await engine.startRun('default', 'owned', {});
    const a = key('owned', started.id, 'a');
    expect((await engine.claimAttempt(a, 'alive', DEAD_AFTER_MS)).kind).toBe('claimed');
    await dataSource.query(`INSERT INTO workers (id, started, last_seen) VALUES ('alive', now(), now())`);
    // Its queue job moved to another worker (the owner lost Redis), but the owner heartbeats: it keeps it.
    // It is held: the job asks again once the owner would be presumed dead.
    const held = await engine.claimAttempt(a, 'other', DEAD_AFTER_MS);
    expect(held.kind).toBe('held');
    expect(held.kind === 'held' && held.retryAfterMs > 0 && held.retryAfterMs <= DEAD_AFTER_MS).toBe(true);
    expect((await engine.claimAttempt(a, 'alive', DEAD_AFTER_MS)).kind).toBe('adopted'); // its own job, back to it
    // Handed back (shutdown): anyone adopts it at once, heartbeat or not.
    expect(await engine.releaseAttempt(a, 'other')).toBe(false);
    expect(await engine.releaseAttempt(a, 'alive')).toBe(true);
    const adopted = await engine.claimAttempt(a, 'other', DEAD_AFTER_MS);
    expect(adopted).toMatchObject({ kind: 'adopted', attempt: { previousWorkerId: null } });
    // Silent past the limit: presumed dead.
    await dataSource.query(`UPDATE workers SET last_seen = now() - interval '11 seconds' WHERE id = 'alive'`);
    await dataSource.query(`INSERT INTO workers (id, started, last_seen) VALUES ('other', now(), now() - interval '11 seconds')`);
    expect(await engine.claimAttempt(a, 'third', DEAD_AFTER_MS)).toMatchObject({ kind: 'adopted', attempt: { previousWorkerId: 'other' } });
  });

  it('in a batch of completions, only the attempt that owns a task is recorded for it', async () => {
    await apply('id: batched\ntasks:\n  - { id: a, image: "busybox:latest" }\n  - { id: b, image: "busybox:latest" }\n  - { id: x, image: "busybox:latest" }\n');
    const started = await engine.startRun('default', 'batched', {});
    for (const task of ['a', 'b', 'x']) expect((await engine.claimAttempt(key('batched', started.id, task), 'w1', DEAD_AFTER_MS)).kind).toBe('claimed');
    expect((await engine.claimAttempt(key('batched', started.id, 'x'), 'w2', DEAD_AFTER_MS)).kind).toBe('adopted'); // w1 presumed dead
    const ok = { status: 'successful' as const, description: 'ok', exitCode: 0 };
    const failed = { status: 'failed' as const, reason: 'abnormal_exit' as const, description: 'exited with code 3', exitCode: 3, retryable: false };
    // a goes at once; the others are of the same run, so they wait for it and share the next batch: the
    // stale and the real result for x in one statement (with the run's inputs cached, the four results
    // arrive in this order within one tick).
    await engine.taskConfig(key('batched', started.id, 'a'));
    const results = await Promise.all([
      engine.completeAttempt(key('batched', started.id, 'a'), 'w1', ok),
      engine.completeAttempt(key('batched', started.id, 'b'), 'w1', ok),
      engine.completeAttempt(key('batched', started.id, 'x'), 'w1', ok), // stale: w1 lost the attempt
      engine.completeAttempt(key('batched', started.id, 'x'), 'w2', failed),
    ]);
    expect(results).toEqual([true, true, false, true]);
    const x = await taskRun('batched', started.id, 'x');
    expect([x.status, x.workerId, x.exitCode]).toEqual(['failed', 'w2', 3]);
    expect((await run('batched', started.id)).status).toBe('failed');
  });

  it('claims and container ids that arrive together are written in batches, each as if alone', async () => {
    const tasks = ['a', 'b', 'c', 'd', 'e', 'f'];
    await apply(`id: claims\ntasks:\n${tasks.map((t) => `  - { id: ${t}, image: "busybox:latest" }\n`).join('')}`);
    const started = await engine.startRun('default', 'claims', {});
    const k = (task: string) => key('claims', started.id, task);
    // The first few go out at once, one per batch; the rest wait and share the next batch. Batches in
    // flight together may commit in either order, so only what any order guarantees is asserted.
    const requests: Array<[string, string]> = [...tasks.map((task): [string, string] => [task, 'w1']), ['a', 'w1'], ['nope', 'w1'], ['c', 'w2']];
    const claims = await Promise.all(requests.map(([task, worker]) => engine.claimAttempt(k(task), worker, DEAD_AFTER_MS)));
    expect(claims[requests.length - 2]!.kind).toBe('stale'); // no such task
    const owner = new Map<string, string>();
    for (const task of tasks) {
      const mine = requests.map((request, i) => ({ worker: request[1], claim: claims[i]! })).filter((_, i) => requests[i]![0] === task);
      // Exactly one claim of each attempt wins; any other request for it adopts it from the one before.
      expect(mine.filter((m) => m.claim.kind === 'claimed')).toHaveLength(1);
      expect(mine.filter((m) => m.claim.kind === 'adopted')).toHaveLength(mine.length - 1);
      const adopter = mine.find((m) => m.claim.kind === 'adopted');
      const winner = mine.find((m) => m.claim.kind === 'claimed')!;
      if (adopter && adopter.claim.kind === 'adopted') expect(adopter.claim.attempt.previousWorkerId).toBe(winner.worker);
      expect(winner.claim).toMatchObject({ attempt: { cancelRequested: false, schedulerId: null, previousWorkerId: null } });
      owner.set(task, (adopter ?? winner).worker);
    }
    const [{ n }] = await dataSource.query(
      `SELECT count(*)::int AS n FROM events WHERE kind = 'task_run_started' AND pipeline_id = 'claims' AND run_id = $1`, [started.id],
    );
    expect(n).toBe(tasks.length); // one per claim, none for the adoptions

    const recorded = await Promise.all(tasks.map((task) => engine.recordSchedulerId(k(task), 'w1', `ctr-${task}`)));
    expect(recorded).toEqual(tasks.map((task) => owner.get(task) === 'w1')); // another worker's attempt is fenced off
    for (const task of tasks) {
      const row = await taskRun('claims', started.id, task);
      const mine = owner.get(task) === 'w1';
      expect([row.state, row.workerId, row.schedulerId]).toEqual(['running', owner.get(task), mine ? `ctr-${task}` : null]);
    }
  });

  it('a lone task attempt takes the same few round trips to Postgres (claim 1, record container 1, complete 3, or 4 when its run completes)', async () => {
    // Round trips, not time: the hot path's cost on a loopback connection is its socket writes
    // (bench/README.md), so these counts are pinned; the code before the move into libs/dal measured the same.
    await apply('id: trips\ntasks:\n  - { id: a, image: "busybox:latest" }\n  - { id: b, image: "busybox:latest", depends_on: { a: success } }\n');
    const started = await engine.startRun('default', 'trips', {});
    const calls: string[] = [];
    const original = pg.Client.prototype.query;
    pg.Client.prototype.query = function (this: pg.Client, ...args: unknown[]) {
      const text = typeof args[0] === 'string' ? args[0] : (args[0] as { text?: string; name?: string }).name ?? (args[0] as { text?: string }).text ?? '';
      calls.push(text.split('\n')[0]!.trim().slice(0, 40));
      return (original as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof original;
    const trips: Record<string, number> = {};
    try {
      const measure = async (step: string, work: () => Promise<unknown>) => {
        calls.length = 0;
        await work();
        trips[step] = calls.length;
      };
      await measure('claim', () => engine.claimAttempt(key('trips', started.id, 'a'), 'w1', DEAD_AFTER_MS));
      await measure('record container', () => engine.recordSchedulerId(key('trips', started.id, 'a'), 'w1', 'ctr-a'));
      await measure('complete (the dependent becomes ready)', () =>
        engine.completeAttempt(key('trips', started.id, 'a'), 'w1', { status: 'successful', description: 'ok', exitCode: 0 }));
      await engine.claimAttempt(key('trips', started.id, 'b'), 'w1', DEAD_AFTER_MS);
      await measure('complete (the run completes)', () =>
        engine.completeAttempt(key('trips', started.id, 'b'), 'w1', { status: 'successful', description: 'ok', exitCode: 0 }));
    } finally {
      pg.Client.prototype.query = original;
    }
    expect(trips).toEqual({
      claim: 1,
      'record container': 1,
      'complete (the dependent becomes ready)': 3,
      'complete (the run completes)': 4,
    });
    expect((await run('trips', started.id)).status).toBe('successful');
  });

  it('parallelism holds when many runs start at once', async () => {
    await apply('id: limited\nparallelism: 2\ntasks:\n  - { id: a, image: "busybox:latest" }\n');
    const runs = await Promise.all(Array.from({ length: 8 }, () => engine.startRun('default', 'limited', {})));
    expect(runs.map((r) => r.id).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const running = await dataSource.manager.countBy(RunEntity, { pipelineId: 'limited', state: 'running' });
    expect(running).toBe(2);
  });

  it('tells which attempts have no job in the queue (one round trip)', async () => {
    const present = key('queued', 1, 'a');
    const absent = key('queued', 1, 'b');
    await queue.enqueue([{ key: present, delayMs: 60_000 }]);
    expect(await queue.missing([present, absent])).toEqual([absent]);
    await (await queue.queue.getJob(taskJobId(present)))!.remove();
    expect(await queue.missing([present, absent])).toEqual([present, absent]);
  });
});
