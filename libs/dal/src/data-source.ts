import pg from 'pg';
import { DataSource, MigrationExecutor } from 'typeorm';
import { redactUrl } from '@gofer/config';
import { ClusterEntity } from './entities/cluster.entity.js';
import { EventEntity } from './entities/event.entity.js';
import { NamespaceEntity } from './entities/namespace.entity.js';
import { ObjectEntity } from './entities/object.entity.js';
import { PipelineConfigEntity } from './entities/pipeline-config.entity.js';
import { PipelineEntity } from './entities/pipeline.entity.js';
import { RetiredPipelineEntity } from './entities/retired-pipeline.entity.js';
import { RunEntity } from './entities/run.entity.js';
import { SecretEntity } from './entities/secret.entity.js';
import { TaskRunEntity } from './entities/task-run.entity.js';
import { TokenEntity } from './entities/token.entity.js';
import { WorkerEntity } from './entities/worker.entity.js';
import { Init1764172800000 } from './migrations/1764172800000-Init.js';
import { StoresAuthEvents1764979200000 } from './migrations/1764979200000-StoresAuthEvents.js';
import { PendingRunsIndex1765584000000 } from './migrations/1765584000000-PendingRunsIndex.js';
import { RetiredPipelines1766188800000 } from './migrations/1766188800000-RetiredPipelines.js';
import { RunTokens1766188800001 } from './migrations/1766188800001-RunTokens.js';
import { RunStartedBy1766275200000 } from './migrations/1766275200000-RunStartedBy.js';
import { Triggers1766448000000 } from './migrations/1766448000000-Triggers.js';
import { Notifiers1766448000001 } from './migrations/1766448000001-Notifiers.js';
import { NotifierEntity } from './entities/notifier.entity.js';
import { RunNotificationEntity } from './entities/run-notification.entity.js';
import { TriggerSubscriptionEntity } from './entities/trigger-subscription.entity.js';
import { TriggerEntity } from './entities/trigger.entity.js';
import { GoferPgClient, type GoferClientConfig } from './postgres-client.js';
import type { PostgresMetrics } from './postgres.metrics.js';

export const ENTITIES = [
  ClusterEntity, NamespaceEntity, PipelineEntity, PipelineConfigEntity, RunEntity, TaskRunEntity, WorkerEntity,
  TokenEntity, ObjectEntity, SecretEntity, EventEntity, RetiredPipelineEntity, TriggerEntity, TriggerSubscriptionEntity,
  NotifierEntity, RunNotificationEntity,
];
export const MIGRATIONS = [Init1764172800000, StoresAuthEvents1764979200000, PendingRunsIndex1765584000000, RetiredPipelines1766188800000, RunTokens1766188800001,
  RunStartedBy1766275200000, Triggers1766448000000, Notifiers1766448000001];

/** Arbitrary constant: the advisory lock every replica takes to run migrations one at a time. */
const MIGRATION_LOCK_ID = 7_271_804_001;

/** GOFER_DATABASE_STATEMENT_TIMEOUT's default (libs/config/src/gofer-config.ts), for callers without a config. */
const DEFAULT_STATEMENT_TIMEOUT_MS = 60_000;
/**
 * How long past the statement timeout a statement may stay unanswered before its connection is closed
 * as dead: Postgres answers a statement that outlives its timeout by cancelling it, so silence past this
 * means the connection, not the statement.
 */
const DEAD_CONNECTION_GRACE_MS = 10_000;
/**
 * TCP keepalive on every connection, probing after this much silence: Node has the kernel probe each
 * second, ten times, so a connection whose peer vanished is found dead within about 20 s even with no
 * statement in flight (an idle pooled connection, or one waiting for a reply the network lost).
 */
const KEEPALIVE_AFTER_MS = 10_000;

/** Postgres could not be reached or used; the message says where Gofer looked and what to do. */
export class DatabaseUnavailableError extends Error {
  override readonly name = 'DatabaseUnavailableError';
}

function describe(error: unknown): string {
  const e = error as { code?: string; message?: string };
  return e.code && !e.message?.includes(e.code) ? `${e.code} ${e.message}` : String(e.message ?? error);
}

/**
 * Creates the database named in `url` when it does not exist (connecting to the server's `postgres`
 * database), so a fresh Postgres needs no manual step.
 */
async function ensureDatabase(url: string, metrics: PostgresMetrics | undefined): Promise<void> {
  const parsed = new URL(url);
  const name = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  if (!name) return;
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new GoferPgClient({ connectionString: admin.toString(), connectionTimeoutMillis: 5000, metrics });
  try {
    await client.connect();
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE "${name.replace(/"/g, '""')}"`).catch((error: { code?: string }) => {
        // Another replica created it first: 42P04 if its CREATE had committed, 23505 (the catalog's unique
        // index) if both were creating it at the same moment.
        if (error.code !== '42P04' && error.code !== '23505') throw error;
      });
    }
  } finally {
    await client.end().catch(() => undefined);
  }
}

const pools = new WeakMap<DataSource, pg.Pool>();

/**
 * The connection pool of a data source opened by {@link openDataSource}: the hot path's named
 * statements run on it directly (TypeORM's query runner costs more than they do).
 */
export function poolOf(dataSource: DataSource): pg.Pool {
  const pool = pools.get(dataSource);
  if (!pool) throw new Error('this data source was not opened by openDataSource: it has no pool of Gofer\'s');
  return pool;
}

/**
 * Connects to Postgres and runs pending migrations under an advisory lock. `statementTimeoutMs` bounds
 * every statement but the migrations' (default: GOFER_DATABASE_STATEMENT_TIMEOUT's); `metrics`, when
 * given, times every statement and counts failures.
 */
export async function openDataSource(
  url: string,
  options: { poolSize?: number; statementTimeoutMs?: number; metrics?: PostgresMetrics } = {},
): Promise<DataSource> {
  try {
    await ensureDatabase(url, options.metrics);
  } catch (error) {
    throw new DatabaseUnavailableError(
      `cannot reach Postgres at ${redactUrl(url)}: ${describe(error)}. ` +
        'Is it running? Set GOFER_DATABASE_URL to postgres://USER:PASSWORD@HOST:PORT/DATABASE.',
    );
  }
  // One pool per process, owned here: TypeORM (the cold path) and the named statements (the hot path)
  // share it. TypeORM builds its pool with `new driver.Pool(options)`; this driver hands it ours.
  // Every connection is bounded: TCP keepalive finds a vanished peer, Postgres cancels a statement
  // (or ends an idle transaction, freeing its locks) past the statement timeout, and a statement with
  // no answer at all past that closes its connection (GoferPgClient) instead of waiting forever.
  const statementTimeoutMs = options.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS;
  const config: pg.PoolConfig & GoferClientConfig = {
    connectionString: url,
    max: options.poolSize ?? 20,
    connectionTimeoutMillis: 10_000,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_AFTER_MS,
    statement_timeout: statementTimeoutMs,
    idle_in_transaction_session_timeout: statementTimeoutMs,
    Client: GoferPgClient,
    deadlineMs: statementTimeoutMs + DEAD_CONNECTION_GRACE_MS,
    metrics: options.metrics,
  };
  const pool = new pg.Pool(config);
  // An idle pooled connection that breaks (a Postgres restart, a network cut) is reported here, not
  // by any statement (TypeORM adds the listener that keeps the process alive).
  pool.on('error', () => options.metrics?.errors.inc({ kind: 'connection' }));
  const driver = { ...pg, Pool: function OwnedPool() { return pool; } };
  const dataSource = new DataSource({
    type: 'postgres',
    url,
    driver,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    synchronize: false,
    migrationsRun: false,
  });
  pools.set(dataSource, pool);
  try {
    await dataSource.initialize();
  } catch (error) {
    throw new DatabaseUnavailableError(`cannot connect to Postgres at ${redactUrl(url)}: ${describe(error)}`);
  }
  try {
    await migrate(dataSource);
  } catch (error) {
    await dataSource.destroy().catch(() => undefined);
    throw error;
  }
  return dataSource;
}

/**
 * Runs pending migrations; replicas starting together wait on the advisory lock instead of racing.
 * The migrations run on the connection holding the lock, with no statement timeout: one may rewrite a
 * big table, and a replica waits on the lock for as long as another one migrates. That connection is
 * closed afterwards rather than pooled with its timeouts lifted (closing also frees the lock).
 */
export async function migrate(dataSource: DataSource): Promise<void> {
  const runner = dataSource.createQueryRunner();
  const client = (await runner.connect()) as pg.PoolClient;
  if (client instanceof GoferPgClient) client.deadlineMs = 0;
  try {
    await runner.query('SET statement_timeout = 0; SET idle_in_transaction_session_timeout = 0');
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_ID]);
    const migrations = new MigrationExecutor(dataSource, runner);
    migrations.transaction = 'each';
    await migrations.executePendingMigrations();
  } finally {
    await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_ID]).catch(() => undefined);
    await client.end().catch(() => undefined);
    await runner.release(); // the pool drops a closed client
  }
}

/** Answers when Postgres does (a readiness probe: one trivial statement on the pool). */
export async function pingDatabase(dataSource: DataSource): Promise<void> {
  await poolOf(dataSource).query('SELECT 1');
}

/**
 * Answers when the Postgres server at `url` accepts a connection and a statement (one connection, closed
 * again): whether a server just started is ready, before any data source is opened on it.
 */
export async function postgresAnswers(url: string, timeoutMs = 2000): Promise<void> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } finally {
    await client.end().catch(() => undefined);
  }
}
