import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DatabaseUnavailableError, MIGRATIONS, openDataSource } from '@gofer/dal';
import { createTestDatabase } from '../support/database.js';

describe('migrations', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  beforeAll(async () => (db = await createTestDatabase('migrations')));
  afterAll(async () => db.drop());

  it('replicas starting together migrate once, under the advisory lock', async () => {
    const sources = await Promise.all([openDataSource(db.url), openDataSource(db.url), openDataSource(db.url)]);
    const applied = await sources[0].query('SELECT name FROM migrations');
    expect(applied.map((row: { name: string }) => row.name)).toEqual(MIGRATIONS.map((m) => m.name));
    const namespaces = await sources[0].query('SELECT id FROM namespaces');
    expect(namespaces).toEqual([{ id: 'default' }]);
    await Promise.all(sources.map((s) => s.destroy()));
  });

  it('creates a missing database, also when several replicas start against it at once', async () => {
    const url = `${db.url}_created`;
    // Replicas racing to create it: one CREATE wins, the others find it (42P04) or collide in the catalog (23505).
    const sources = await Promise.all(Array.from({ length: 4 }, () => openDataSource(url)));
    const source = sources[0];
    expect((await source.query('SELECT count(*)::int AS n FROM cluster'))[0].n).toBe(1);
    await Promise.all(sources.map((s) => s.destroy()));
    const { default: pg } = await import('pg');
    const admin = new pg.Client({ connectionString: new URL('/postgres', url).toString() });
    await admin.connect();
    await admin.query(`DROP DATABASE "${new URL(url).pathname.slice(1)}" WITH (FORCE)`);
    await admin.end();
  });

  it('says where it looked when Postgres is unreachable', async () => {
    await expect(openDataSource('postgres://postgres@127.0.0.1:1/gofer')).rejects.toThrow(DatabaseUnavailableError);
    await expect(openDataSource('postgres://postgres:secret@127.0.0.1:1/gofer')).rejects.toThrow(
      /cannot reach Postgres at postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/gofer: .*GOFER_DATABASE_URL/,
    );
  });
});
