import { describe, expect, it, vi } from 'vitest';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { GoferError, type GoferErrorCode } from '@gofer/errors';
import { RpcException } from '@nestjs/microservices';
import type { Logger } from 'pino';
import { grpcCodeName, grpcCodeOf, toGrpcError } from './grpc-errors.js';
import { MAX_STATUS_MESSAGE_BYTES } from './status-message.js';
import pg from 'pg';

/** An error as Postgres sends it, with its SQLSTATE. */
const pgError = (code: string, message: string) => Object.assign(new pg.DatabaseError(message, 0, 'error'), { code });

function recordingLogger(): Logger & { errors: unknown[] } {
  const errors: unknown[] = [];
  return { errors, error: vi.fn((fields: unknown) => errors.push(fields)) } as unknown as Logger & { errors: unknown[] };
}

describe('grpcCodeOf and grpcCodeName', () => {
  const tests: Array<{ name: string; error: unknown; code: GrpcStatus; label: string }> = [
    ...(
      [
        ['invalid_argument', GrpcStatus.INVALID_ARGUMENT, 'INVALID_ARGUMENT'],
        ['not_found', GrpcStatus.NOT_FOUND, 'NOT_FOUND'],
        ['already_exists', GrpcStatus.ALREADY_EXISTS, 'ALREADY_EXISTS'],
        ['failed_precondition', GrpcStatus.FAILED_PRECONDITION, 'FAILED_PRECONDITION'],
        ['resource_exhausted', GrpcStatus.RESOURCE_EXHAUSTED, 'RESOURCE_EXHAUSTED'],
        ['unauthenticated', GrpcStatus.UNAUTHENTICATED, 'UNAUTHENTICATED'],
        ['permission_denied', GrpcStatus.PERMISSION_DENIED, 'PERMISSION_DENIED'],
        ['unavailable', GrpcStatus.UNAVAILABLE, 'UNAVAILABLE'],
      ] as Array<[GoferErrorCode, GrpcStatus, string]>
    ).map(([gofer, code, label]) => ({ name: `GoferError ${gofer}`, error: new GoferError(gofer, 'x'), code, label })),
    { name: 'RpcException with a status code', error: new RpcException({ code: GrpcStatus.NOT_FOUND, message: 'gone' }), code: GrpcStatus.NOT_FOUND, label: 'NOT_FOUND' },
    { name: 'RpcException DEADLINE_EXCEEDED', error: new RpcException({ code: GrpcStatus.DEADLINE_EXCEEDED, message: 'idle' }), code: GrpcStatus.DEADLINE_EXCEEDED, label: 'DEADLINE_EXCEEDED' },
    { name: 'RpcException with a message only', error: new RpcException('Forbidden resource'), code: GrpcStatus.UNKNOWN, label: 'UNKNOWN' },
    { name: 'RpcException with a code that is no status', error: new RpcException({ code: 99, message: 'odd' }), code: GrpcStatus.UNKNOWN, label: 'UNKNOWN' },
    { name: 'an unexpected Error', error: new TypeError('boom'), code: GrpcStatus.INTERNAL, label: 'INTERNAL' },
    { name: 'Postgres shutting down (57P01)', error: pgError('57P01', 'terminating connection due to administrator command'), code: GrpcStatus.UNAVAILABLE, label: 'UNAVAILABLE' },
    { name: 'Postgres starting up (57P03)', error: pgError('57P03', 'the database system is starting up'), code: GrpcStatus.UNAVAILABLE, label: 'UNAVAILABLE' },
    { name: 'a connection failure class 08', error: pgError('08006', 'connection failure'), code: GrpcStatus.UNAVAILABLE, label: 'UNAVAILABLE' },
    { name: 'a constraint violation (a bug, not an outage)', error: pgError('23505', 'duplicate key'), code: GrpcStatus.INTERNAL, label: 'INTERNAL' },
    { name: 'a refused socket', error: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }), code: GrpcStatus.UNAVAILABLE, label: 'UNAVAILABLE' },
    { name: 'TypeORM wrapping a lost connection', error: Object.assign(new Error('query failed'), { driverError: new Error('Connection terminated unexpectedly') }), code: GrpcStatus.UNAVAILABLE, label: 'UNAVAILABLE' },
    { name: 'a closed Redis connection', error: new Error('Connection is closed.'), code: GrpcStatus.UNAVAILABLE, label: 'UNAVAILABLE' },
    { name: 'a thrown string', error: 'boom', code: GrpcStatus.INTERNAL, label: 'INTERNAL' },
  ];

  it.each(tests)('$name → $label', ({ error, code, label }) => {
    expect(grpcCodeOf(error)).toBe(code);
    expect(grpcCodeName(grpcCodeOf(error))).toBe(label);
  });

  it('names OK', () => {
    expect(grpcCodeName(GrpcStatus.OK)).toBe('OK');
  });
});

describe('toGrpcError', () => {
  const long = 'x'.repeat(MAX_STATUS_MESSAGE_BYTES * 2);
  const tests: Array<{ name: string; error: unknown; expected: Record<string, unknown>; logged: boolean }> = [
    {
      name: 'a GoferError keeps its message',
      error: new GoferError('invalid_argument', 'a: required\nb: required'),
      expected: { code: GrpcStatus.INVALID_ARGUMENT, message: 'a: required\nb: required', details: 'a: required\nb: required' },
      logged: false,
    },
    {
      name: 'an RpcException keeps its code, message and other fields',
      error: new RpcException({ code: GrpcStatus.DEADLINE_EXCEEDED, message: 'idle', details: 'idle for 30s', extra: 1 }),
      expected: { code: GrpcStatus.DEADLINE_EXCEEDED, message: 'idle', details: 'idle for 30s', extra: 1 },
      logged: false,
    },
    {
      name: 'an RpcException without details reports its message as details',
      error: new RpcException({ code: GrpcStatus.NOT_FOUND, message: 'gone' }),
      expected: { code: GrpcStatus.NOT_FOUND, message: 'gone', details: 'gone' },
      logged: false,
    },
    {
      name: 'an RpcException with a message only is UNKNOWN with that message',
      error: new RpcException('Forbidden resource'),
      expected: { code: GrpcStatus.UNKNOWN, message: 'Forbidden resource', details: 'Forbidden resource' },
      logged: false,
    },
    {
      name: 'anything else is INTERNAL without internals, and logged',
      error: new Error('password=hunter2'),
      expected: { code: GrpcStatus.INTERNAL, message: 'internal error; see the Gofer service logs', details: 'internal error; see the Gofer service logs' },
      logged: true,
    },
  ];

  it.each(tests)('$name', ({ error, expected, logged }) => {
    const logger = recordingLogger();
    expect(toGrpcError(error, logger)).toEqual(expected);
    expect(logger.errors).toHaveLength(logged ? 1 : 0);
  });

  it.each([
    ['a GoferError', new GoferError('invalid_argument', long)],
    ['an RpcException', new RpcException({ code: GrpcStatus.NOT_FOUND, message: long, details: long })],
    ['an RpcException with a message only', new RpcException(long)],
  ])('bounds the message and details of %s', (_name, error) => {
    const status = toGrpcError(error, recordingLogger());
    expect(Buffer.byteLength(status.message)).toBeLessThanOrEqual(MAX_STATUS_MESSAGE_BYTES);
    expect(Buffer.byteLength(status.details)).toBeLessThanOrEqual(MAX_STATUS_MESSAGE_BYTES);
  });
});
