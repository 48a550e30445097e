import pg from 'pg';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openDataSource, PostgresMetrics, Transactions, type DataSource } from '@gofer/dal';
import { createTestDatabase } from '../support/database.js';
import { FaultProxy } from '../support/fault-proxy.js';
import { waitFor } from '../support/gofer-process.js';

/** The advisory lock migrations run under (MIGRATION_LOCK_ID in libs/dal/src/data-source.ts). */
const MIGRATION_LOCK_ID = 7_271_804_001;

/** Statements timed, and failures counted by kind, so far. */
async function sample(registry: Registry): Promise<{ statements: number; errors: Record<string, number> }> {
  const metrics = await registry.getMetricsAsJSON();
  const duration = metrics.find((m) => m.name === 'gofer_postgres_query_duration_seconds')!;
  const errors = metrics.find((m) => m.name === 'gofer_postgres_errors_total')!;
  const values = (m: typeof duration) => m.values as Array<{ value: number; labels: Record<string, string>; metricName?: string }>;
  return {
    statements: values(duration).find((v) => v.metricName === 'gofer_postgres_query_duration_seconds_count')!.value,
    errors: Object.fromEntries(values(errors).map((v) => [v.labels.kind, v.value])),
  };
}

const NO_ERRORS = { connection: 0, timeout: 0, conflict: 0, constraint: 0, query: 0 };

/**
 * Gofer's pool (libs/dal/src/data-source.ts, postgres-client.ts) against a real Postgres: every
 * statement timed, failures counted by kind, statements bounded by the statement timeout, a silent
 * connection closed, and migrations exempt from the timeout.
 */
describe('the Postgres pool: metrics and timeouts', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  const sources: DataSource[] = [];
  const proxies: FaultProxy[] = [];

  async function open(url: string, options: { poolSize?: number; statementTimeoutMs?: number } = {}) {
    const registry = new Registry();
    const dataSource = await openDataSource(url, { ...options, metrics: new PostgresMetrics(registry) });
    sources.push(dataSource);
    return { dataSource, registry };
  }

  beforeAll(async () => {
    db = await createTestDatabase('pgmetrics');
  });
  afterEach(async () => {
    await Promise.all(sources.splice(0).map((s) => s.destroy().catch(() => undefined)));
    await Promise.all(proxies.splice(0).map((p) => p.close()));
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('times every statement, TypeORM\'s and the named ones on the pool, and counts failures by kind', async () => {
    const { dataSource, registry } = await open(db.url);
    const before = await sample(registry);
    expect(before.statements).toBeGreaterThan(0); // the migrations' statements, timed too
    expect(before.errors).toEqual(NO_ERRORS);

    await dataSource.query('SELECT 1');
    await new Transactions(dataSource).run({ name: 'pgmetrics-one', text: 'SELECT $1::int AS n' }, [1]);
    expect((await sample(registry)).statements).toBe(before.statements + 2);

    await expect(dataSource.query('SELECT 1/0')).rejects.toThrow(/division by zero/);
    await expect(dataSource.query(`INSERT INTO namespaces (id, name) VALUES ('default', 'again')`)).rejects.toThrow(/duplicate key/);
    const after = await sample(registry);
    expect(after.statements).toBe(before.statements + 4);
    expect(after.errors).toEqual({ ...NO_ERRORS, query: 1, constraint: 1 });
  });

  it('has Postgres cancel a statement past the statement timeout, and the connection stays usable', async () => {
    const { dataSource, registry } = await open(db.url, { poolSize: 1, statementTimeoutMs: 1000 });
    await expect(dataSource.query('SELECT pg_sleep(3)')).rejects.toThrow(/statement timeout/);
    expect((await sample(registry)).errors).toEqual({ ...NO_ERRORS, timeout: 1 });
    expect(await dataSource.query('SELECT 2 AS n')).toEqual([{ n: 2 }]);
    // An open transaction left idle past the timeout is ended by Postgres too (freeing its locks).
    const transactionIdle = await dataSource.transaction(async (m) => {
      await m.query('SELECT 1');
      await new Promise((resolve) => setTimeout(resolve, 2000));
      return m.query('SELECT 2');
    }).then(() => 'committed', (error: Error) => error.message);
    expect(transactionIdle).not.toBe('committed');
    expect(await dataSource.query('SELECT 3 AS n')).toEqual([{ n: 3 }]);
  });

  it('fails a statement whose connection answers nothing and closes that connection, then serves again', async () => {
    const proxy = await FaultProxy.start({ port: Number(new URL(db.url).port) });
    proxies.push(proxy);
    // The deadline is the statement timeout plus a 10 s grace (DEAD_CONNECTION_GRACE_MS).
    const { dataSource, registry } = await open(proxy.rewrite(db.url), { poolSize: 1, statementTimeoutMs: 1000 });
    await dataSource.query('SELECT 1'); // the pool's one connection is made and idle
    const before = await sample(registry);
    const { accepted } = proxy.stats();
    proxy.stall(); // a black hole: the bytes go out, nothing comes back
    await expect(dataSource.query('SELECT 2')).rejects.toThrow(/answered nothing within 11000 ms/);
    expect((await sample(registry)).errors).toEqual({ ...before.errors, connection: before.errors.connection + 1 });
    // The silent connection was closed, not pooled again: with the route back, a new one serves (the
    // pool holds one connection, so a second one accepted means the first was let go).
    expect(proxy.stats().accepted).toBe(accepted);
    proxy.restore();
    expect(await dataSource.query('SELECT 3 AS n')).toEqual([{ n: 3 }]);
    expect(proxy.stats().accepted).toBe(accepted + 1);
    await waitFor('the closed connection to end at the proxy too', async () => (proxy.stats().active === 1 ? true : undefined), 5_000);
  }, 60_000);

  it('counts a pooled connection that breaks, and connections refused', async () => {
    const proxy = await FaultProxy.start({ port: Number(new URL(db.url).port) });
    proxies.push(proxy);
    const { dataSource, registry } = await open(proxy.rewrite(db.url), { poolSize: 1 });
    await dataSource.query('SELECT 1');
    proxy.cut(); // the idle pooled connection is reset
    await waitFor('the broken connection to be counted', async () => ((await sample(registry)).errors.connection >= 1 ? true : undefined), 5_000);
    proxy.drop(); // and new ones are refused
    await expect(dataSource.query('SELECT 2')).rejects.toThrow();
    expect((await sample(registry)).errors.connection).toBeGreaterThanOrEqual(2);
    proxy.restore();
    expect(await dataSource.query('SELECT 3 AS n')).toEqual([{ n: 3 }]);
  });

  it('exempts the migrations from the statement timeout: a replica waits on the migration lock as long as it takes', async () => {
    const holder = new pg.Client({ connectionString: db.url });
    await holder.connect();
    try {
      await holder.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
      const opening = open(db.url, { statementTimeoutMs: 1000 });
      opening.catch(() => undefined); // awaited below, after the lock is released
      // Held for three times the timeout while the replica waits for it.
      await new Promise((resolve) => setTimeout(resolve, 3000));
      await holder.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]);
      const { dataSource } = await opening;
      expect(await dataSource.query('SELECT 1 AS n')).toEqual([{ n: 1 }]);
      // The migration connection was closed: no pooled connection keeps its lifted timeout.
      await expect(dataSource.query('SELECT pg_sleep(3)')).rejects.toThrow(/statement timeout/);
    } finally {
      await holder.end();
    }
  });
});
