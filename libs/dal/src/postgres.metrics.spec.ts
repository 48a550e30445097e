import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { postgresErrorKind, type PostgresErrorKind } from './postgres.metrics.js';

/** An error as Postgres reports it: a DatabaseError carrying its SQLSTATE. */
function fromPostgres(code: string): pg.DatabaseError {
  const error = new pg.DatabaseError('from postgres', 0, 'error');
  error.code = code;
  return error;
}

describe('postgresErrorKind', () => {
  const tests: Array<[string, unknown, PostgresErrorKind]> = [
    ['a refused socket', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }), 'connection'],
    ['a broken pipe (a code shaped like a SQLSTATE, but no DatabaseError)', Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }), 'connection'],
    ['a connection that ended under a statement', new Error('Connection terminated unexpectedly'), 'connection'],
    ['a connection timeout', new Error('timeout expired'), 'connection'],
    ['class 08: connection failure', fromPostgres('08006'), 'connection'],
    ['admin_shutdown: Postgres restarting', fromPostgres('57P01'), 'connection'],
    ['cannot_connect_now: Postgres starting', fromPostgres('57P03'), 'connection'],
    ['too_many_connections', fromPostgres('53300'), 'connection'],
    ['statement_timeout', fromPostgres('57014'), 'timeout'],
    ['lock_timeout', fromPostgres('55P03'), 'timeout'],
    ['idle_in_transaction_session_timeout', fromPostgres('25P03'), 'timeout'],
    ['deadlock_detected', fromPostgres('40P01'), 'conflict'],
    ['serialization_failure', fromPostgres('40001'), 'conflict'],
    ['unique_violation', fromPostgres('23505'), 'constraint'],
    ['foreign_key_violation', fromPostgres('23503'), 'constraint'],
    ['syntax_error', fromPostgres('42601'), 'query'],
    ['division_by_zero', fromPostgres('22012'), 'query'],
    ['disk_full (class 53, not the connection limit)', fromPostgres('53100'), 'query'],
    ['not an error at all', 'a string', 'connection'],
  ];
  it.each(tests)('%s', (_name, error, kind) => expect(postgresErrorKind(error)).toBe(kind));
});
