// Who may take over a running notification (as with task attempts, test/engine/run-engine.spec.ts): a
// live worker keeps it even when its queue job moved on; a dead one's, or one handed back, moves.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDataSource, RunNotificationsRepository } from '@gofer/dal';
import type { DataSource } from 'typeorm';
import { createTestDatabase } from '../support/database.js';

const DEAD_AFTER_MS = 10_000;

describe('RunNotificationsRepository: adopting a running notification', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let source: DataSource;
  let repo: RunNotificationsRepository;
  const key = { namespaceId: 'default', pipelineId: 'p', runId: 1, label: 'hook' };

  beforeAll(async () => {
    db = await createTestDatabase('notification_ownership');
    source = await openDataSource(db.url);
    repo = new RunNotificationsRepository(source);
    await source.query(
      `INSERT INTO pipelines (namespace_id, id, name, description, state, parallelism, latest_version) VALUES ('default', 'p', 'p', '', 'enabled', 0, 1)`,
    );
    await source.query(`INSERT INTO pipeline_configs (namespace_id, pipeline_id, version, config, raw) VALUES ('default', 'p', 1, '{}', '')`);
    await source.query(`INSERT INTO runs (namespace_id, pipeline_id, id, config_version, state) VALUES ('default', 'p', 1, 1, 'running')`);
    await source.query(`INSERT INTO run_notifications (namespace_id, pipeline_id, run_id, label, notifier) VALUES ('default', 'p', 1, 'hook', 'webhook')`);
  });
  afterAll(async () => {
    await source?.destroy();
    await db?.drop();
  });

  it('moves only from a dead worker, or one that handed it back', async () => {
    expect(await repo.claim(key, 'alive')).toMatchObject({ notifier: 'webhook' });
    await source.query(`INSERT INTO workers (id, started, last_seen) VALUES ('alive', now(), now())`);
    expect(await repo.adopt(key, 'other', DEAD_AFTER_MS)).toBeUndefined(); // a live worker keeps it
    expect(await repo.adopt(key, 'alive', DEAD_AFTER_MS)).toMatchObject({ previousWorkerId: 'alive' }); // its own job, back to it
    expect(await repo.release(key, 'other')).toBe(false);
    expect(await repo.release(key, 'alive')).toBe(true);
    expect(await repo.adopt(key, 'other', DEAD_AFTER_MS)).toMatchObject({ previousWorkerId: null }); // handed back
    await source.query(`INSERT INTO workers (id, started, last_seen) VALUES ('other', now(), now() - interval '11 seconds')`);
    expect(await repo.adopt(key, 'third', DEAD_AFTER_MS)).toMatchObject({ previousWorkerId: 'other' }); // silent: dead
  });
});
