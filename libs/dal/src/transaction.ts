import { Inject, Injectable, Optional } from '@nestjs/common';
import { LOGGER } from '@gofer/config';
import type { PoolClient, QueryResult } from 'pg';
import type { Logger } from 'pino';
import type { DataSource, EntityManager } from 'typeorm';
import { DATA_SOURCE } from './dal.tokens.js';
import { poolOf } from './data-source.js';
import { runStatement, type Statement } from './statement.js';

/** How many times a transaction that hit a deadlock or serialization failure is run in all. */
const TRANSACTION_ATTEMPTS = 5;

/**
 * One connection inside a transaction, plus what to do when it commits. Statements given to
 * {@link Tx.defer} only write and nothing later in the transaction reads their rows, so they travel
 * with the COMMIT; a simple-protocol {@link Tx.queryText} first in a transaction travels with its
 * BEGIN. On a loopback connection the round trip (a socket write and a wake-up of both processes)
 * costs more than most of these statements.
 */
export interface Tx {
  query<R extends object>(statement: Statement, values: unknown[]): Promise<R[]>;
  /** A statement whose values are already inlined with {@link literal}. */
  queryText<R extends object>(sql: string): Promise<R[]>;
  /** Several such statements (one each) in one round trip, run one after the other; the rows of each. */
  queryTexts(sqls: readonly string[]): Promise<object[][]>;
  defer(sql: string): void;
  onCommit(effect: () => void): void;
}

/** The rows of the last statement of a simple-protocol query (which may hold several). */
async function runText<R extends object>(client: PoolClient, sql: string): Promise<R[]> {
  return (await runTexts(client, sql, 1))[0] as R[];
}

/** The rows of the last `count` statements of a simple-protocol query of `total` statements. */
async function runTexts(client: PoolClient, sql: string, count: number, total = count): Promise<object[][]> {
  const result = (await client.query(sql)) as unknown as QueryResult<object> | Array<QueryResult<object>>;
  const results = Array.isArray(result) ? result : [result];
  // One result per statement: anything else means a caller passed several statements (or none) as one.
  if (results.length !== total) throw new Error(`expected ${total} statement results, got ${results.length}`);
  return results.slice(results.length - count).map((r) => r.rows);
}

/** A transaction on a pooled connection that {@link commit} ends. */
export class ClientTx implements Tx {
  private begun = false;
  private readonly deferred: string[] = [];
  readonly effects: Array<() => void> = [];

  constructor(private readonly client: PoolClient) {}

  async query<R extends object>(statement: Statement, values: unknown[]): Promise<R[]> {
    if (!this.begun) await this.client.query('BEGIN');
    this.begun = true;
    return runStatement<R>(this.client, statement, values);
  }

  async queryText<R extends object>(sql: string): Promise<R[]> {
    return (await this.queryTexts([sql]))[0] as R[];
  }

  async queryTexts(sqls: readonly string[]): Promise<object[][]> {
    const statements = [...(this.begun ? [] : ['BEGIN']), ...sqls];
    this.begun = true;
    return runTexts(this.client, statements.join(';\n'), sqls.length, statements.length);
  }

  defer(sql: string): void {
    this.deferred.push(sql);
  }

  onCommit(effect: () => void): void {
    this.effects.push(effect);
  }

  async commit(): Promise<void> {
    if (!this.begun && this.deferred.length === 0) return;
    const text = [...(this.begun ? [] : ['BEGIN']), ...this.deferred, 'COMMIT'].join(';\n');
    this.begun = true; // if it fails half-way, the transaction is open and aborted: rollback() ends it
    await this.client.query(text);
  }

  async rollback(): Promise<void> {
    if (this.begun) await this.client.query('ROLLBACK');
  }
}

/** A {@link Tx} on the connection of a TypeORM transaction; call `flush` before TypeORM commits. */
export async function txOf(m: EntityManager): Promise<Tx & { effects: Array<() => void>; flush(): Promise<void> }> {
  const client = (await m.queryRunner!.connect()) as PoolClient;
  const deferred: string[] = [];
  const effects: Array<() => void> = [];
  return {
    effects,
    query: (statement, values) => runStatement(client, statement, values),
    queryText: (sql) => runText(client, sql),
    queryTexts: (sqls) => runTexts(client, sqls.join(';\n'), sqls.length),
    defer: (sql) => void deferred.push(sql),
    onCommit: (effect) => void effects.push(effect),
    flush: async () => {
      if (deferred.length > 0) await client.query(deferred.splice(0).join(';\n'));
    },
  };
}

/**
 * The one transaction helper. {@link Transactions.once}: a TypeORM transaction for the repositories'
 * methods that take an `EntityManager` (run once: its work may log or have effects that must not
 * repeat). {@link Transactions.entity}: the same with a {@link Tx} for raw statements on its
 * connection, and {@link Transactions.raw}: a transaction straight on the pool (the path every task
 * attempt takes); these two run again on a deadlock or serialization failure, and run their
 * `onCommit` effects only once committed.
 */
@Injectable()
export class Transactions {
  private readonly pool: ReturnType<typeof poolOf>;

  constructor(
    @Inject(DATA_SOURCE) private readonly db: DataSource,
    @Optional() @Inject(LOGGER) private readonly logger?: Logger,
  ) {
    this.pool = poolOf(db);
  }

  /** One TypeORM transaction, not retried: the repositories' methods taking `m` run inside it. */
  once<T>(work: (m: EntityManager) => Promise<T>): Promise<T> {
    return this.db.transaction(work);
  }

  /** A TypeORM transaction (entity-shaped work) with a {@link Tx} on its connection. */
  async entity<T>(work: (m: EntityManager, tx: Tx) => Promise<T>): Promise<T> {
    return this.retrying(async () => {
      const { result, effects } = await this.db.transaction(async (m) => {
        const tx = await txOf(m);
        const result = await work(m, tx);
        await tx.flush();
        return { result, effects: tx.effects };
      });
      for (const effect of effects) effect();
      return result;
    });
  }

  /** A transaction on a pooled connection, without TypeORM. */
  async raw<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.retrying(async () => {
      const client = await this.pool.connect();
      // pg-pool listens for errors only on idle clients: a checked-out client whose connection drops
      // between statements emits 'error' with no listener, which kills the process
      // (test/dal/connection-loss.spec.ts, test/chaos/postgres-cut.spec.ts). Record it: the next statement
      // fails and the client is discarded.
      let broken: Error | undefined;
      const onError = (error: Error) => (broken ??= error);
      client.on('error', onError);
      const tx = new ClientTx(client);
      try {
        const result = await work(tx);
        await tx.commit();
        for (const effect of tx.effects) effect();
        return result;
      } catch (error) {
        await tx.rollback().catch((rollbackError: Error) => (broken = rollbackError));
        throw error;
      } finally {
        client.off('error', onError);
        client.release(broken); // a connection that broke or could not roll back is discarded
      }
    });
  }

  /** One named statement on the pool, outside any transaction. */
  run<R extends object>(statement: Statement, values: unknown[]): Promise<R[]> {
    return runStatement<R>(this.pool, statement, values);
  }

  /** Deadlocks and serialization failures abort the whole transaction, so running it again is safe. */
  private async retrying<T>(work: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        const code = (error as { driverError?: { code?: string }; code?: string }).driverError?.code ?? (error as { code?: string }).code;
        if ((code !== '40P01' && code !== '40001') || attempt >= TRANSACTION_ATTEMPTS) throw error;
        this.logger?.debug({ code, attempt }, 'transaction conflicted; retrying');
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
      }
    }
  }
}
