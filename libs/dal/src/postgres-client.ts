import pg from 'pg';
import { postgresErrorKind, type PostgresMetrics } from './postgres.metrics.js';

/** The settings Gofer's pool hands each client it makes, besides pg's own (pg-pool passes its options on). */
export interface GoferClientConfig extends pg.ClientConfig {
  /** Where statements are timed and failures counted. */
  metrics?: PostgresMetrics;
  /**
   * A statement unanswered for this long (ms) fails and its connection is closed as dead; 0: never.
   * Set above the server's statement_timeout, which answers a merely slow statement first.
   */
  deadlineMs?: number;
}

type Callback = (error: Error | null, result?: unknown) => void;
/** pg's `query` and `connect`, without their overloads: one implementation serves them all. */
type AnyQuery = (this: pg.Client, config: unknown, values?: unknown, callback?: Callback) => unknown;
type AnyConnect = (this: pg.Client, callback?: Callback) => unknown;
/** pg's own methods, looked up at each call as `super` would be (a test may wrap pg's to count round trips). */
const base = pg.Client.prototype as unknown as { query: AnyQuery; connect: AnyConnect };

/**
 * The client of Gofer's pool: every statement, whether TypeORM's or a named one, is timed and its
 * failure counted (one clock read and one histogram observation each), and a statement whose
 * connection answers nothing by its deadline fails and closes that connection. A black-holed route
 * (a firewall dropping packets, a partition) would otherwise leave the statement waiting for as long
 * as TCP keeps retransmitting, and the connection would go back to the pool still stuck behind it.
 */
export class GoferPgClient extends pg.Client {
  /** ms; 0 lifts the deadline (migrations do, on their connection: see data-source.ts). */
  deadlineMs: number;
  readonly metrics: PostgresMetrics | undefined;

  constructor(config: GoferClientConfig = {}) {
    super(config);
    this.deadlineMs = config.deadlineMs ?? 0;
    this.metrics = config.metrics;
  }
}

// Assigned to the prototype rather than declared in the class: pg's `query` and `connect` are sets of
// overloads that one implementation cannot be declared to match.
GoferPgClient.prototype.query = function query(this: GoferPgClient, config: unknown, values?: unknown, callback?: Callback): unknown {
  // A submittable (pg-cursor, pg-query-stream) reports through its own events; Gofer uses none.
  if (config == null || typeof (config as { submit?: unknown }).submit === 'function') {
    return base.query.call(this, config, values, callback);
  }
  if (typeof values === 'function') {
    callback = values as Callback;
    values = undefined;
  }
  const metrics = this.metrics;
  const started = performance.now();
  let settle!: Callback;
  const result = callback ? undefined : new Promise((resolve, reject) => (settle = (error, rows) => (error ? reject(error) : resolve(rows))));
  if (callback) settle = callback;
  let settled = false;
  let timer: NodeJS.Timeout | undefined;
  const done: Callback = (error, rows) => {
    if (settled) return; // the deadline answered first; this is the closed connection's error
    settled = true;
    if (timer) clearTimeout(timer);
    metrics?.duration.observe((performance.now() - started) / 1000);
    if (error) metrics?.errors.inc({ kind: postgresErrorKind(error) });
    settle(error, rows);
  };
  base.query.call(this, config, values, done); // pg answers through `done`, never before this returns
  if (this.deadlineMs > 0) {
    const deadlineMs = this.deadlineMs;
    timer = setTimeout(() => {
      done(new Error(`Postgres answered nothing within ${deadlineMs} ms (GOFER_DATABASE_STATEMENT_TIMEOUT plus a grace); the connection was closed as dead`));
      // Closing ends the statement in flight and makes the client unusable, so whoever holds it (the
      // pool, TypeORM, a transaction) discards it rather than handing it out again.
      this.end().catch(() => undefined);
    }, deadlineMs);
  }
  return result;
} as unknown as pg.Client['query'];

GoferPgClient.prototype.connect = function connect(this: GoferPgClient, callback?: Callback): unknown {
  const metrics = this.metrics;
  const count = (error: unknown) => metrics?.errors.inc({ kind: postgresErrorKind(error) });
  if (callback) {
    return base.connect.call(this, (error, client) => {
      if (error) count(error);
      callback(error, client);
    });
  }
  return (base.connect.call(this) as Promise<unknown>).catch((error: unknown) => {
    count(error);
    throw error;
  });
} as unknown as pg.Client['connect'];
