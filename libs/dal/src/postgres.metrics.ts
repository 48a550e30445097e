import { LATENCY_BUCKETS } from '@gofer/config';
import pg from 'pg';
import { Counter, Histogram, type Registry } from 'prom-client';

/**
 * What went wrong with a Postgres call (the `kind` label of `gofer_postgres_errors_total`), a fixed set:
 * - `connection`: no connection could be made, or it broke or went silent (no SQLSTATE, class 08,
 *   the server shutting down or refusing connections);
 * - `timeout`: Postgres cancelled a statement that ran too long (GOFER_DATABASE_STATEMENT_TIMEOUT);
 * - `conflict`: a deadlock or serialization failure (class 40; the transaction helper runs those again);
 * - `constraint`: a constraint refused a write (class 23; some are expected, e.g. a replica creating
 *   the database another one just created);
 * - `query`: anything else Postgres refused (a bad statement or value, a schema mismatch, a full disk).
 */
export const POSTGRES_ERROR_KINDS = ['connection', 'timeout', 'conflict', 'constraint', 'query'] as const;
export type PostgresErrorKind = (typeof POSTGRES_ERROR_KINDS)[number];

/** SQLSTATEs outside class 08 that mean the connection is gone or was never let in. */
const CONNECTION_STATES = new Set([
  '57P01', // admin_shutdown: the server is stopping (or restarting)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now: the server is starting
  '53300', // too_many_connections
]);
/** SQLSTATEs of a statement (or an idle transaction) that outlived its limit. */
const TIMEOUT_STATES = new Set([
  '57014', // query_canceled: statement_timeout
  '55P03', // lock_not_available: lock_timeout
  '25P03', // idle_in_transaction_session_timeout
]);

function isPostgresConnectionState(code: string): boolean {
  return code.startsWith('08') || CONNECTION_STATES.has(code);
}

/**
 * For an error Postgres itself sent (it carries a SQLSTATE): whether it says the connection is gone, or
 * that it refused or cannot yet take one (shutting down, starting). Undefined for any other error.
 */
export function postgresRefusedConnection(error: unknown): boolean | undefined {
  if (!(error instanceof pg.DatabaseError) || typeof error.code !== 'string') return undefined;
  return isPostgresConnectionState(error.code);
}

/** The {@link PostgresErrorKind} of an error a pg client reported. */
export function postgresErrorKind(error: unknown): PostgresErrorKind {
  // Postgres' own errors carry a SQLSTATE; everything else a client reports (a refused or broken
  // socket, a connection timeout, a connection closed as dead) happened below SQL.
  if (!(error instanceof pg.DatabaseError) || typeof error.code !== 'string') return 'connection';
  const code = error.code;
  if (isPostgresConnectionState(code)) return 'connection';
  if (TIMEOUT_STATES.has(code)) return 'timeout';
  if (code.startsWith('40')) return 'conflict';
  if (code.startsWith('23')) return 'constraint';
  return 'query';
}

/**
 * Postgres metrics: the latency of every statement a Gofer process sends (TypeORM's and the named
 * statements alike: both run on the pool `openDataSource` builds) and its failures, by kind.
 * No label names a statement: its text is unbounded, and Gofer sends BEGIN and COMMIT together with
 * the statements between them (libs/dal/src/transaction.ts), so a first keyword would mislabel them.
 */
export class PostgresMetrics {
  readonly duration: Histogram;
  readonly errors: Counter<'kind'>;

  constructor(registry: Registry) {
    this.duration = new Histogram({
      name: 'gofer_postgres_query_duration_seconds',
      help: 'Postgres statement latency, from sending it on a pooled connection to its result or error (waiting for a free connection excluded).',
      buckets: LATENCY_BUCKETS, registers: [registry],
    });
    this.errors = new Counter({
      name: 'gofer_postgres_errors_total',
      help: 'Postgres failures, by kind: connection (could not connect, or the connection broke or went silent), timeout (a statement cancelled for running too long), conflict (deadlock, serialization), constraint, query (anything else Postgres refused).',
      labelNames: ['kind'] as const, registers: [registry],
    });
    // Every kind is a series from the start: a rate over it is 0, not "no data", until one happens.
    for (const kind of POSTGRES_ERROR_KINDS) this.errors.inc({ kind }, 0);
  }
}
