import { status as GrpcStatus } from '@grpc/grpc-js';
import { postgresRefusedConnection } from '@gofer/dal';
import { GoferError, type GoferErrorCode } from '@gofer/errors';
import { RpcException } from '@nestjs/microservices';
import type { Logger } from 'pino';
import { boundedStatusMessage } from './status-message.js';

const CODES: Record<GoferErrorCode, GrpcStatus> = {
  invalid_argument: GrpcStatus.INVALID_ARGUMENT,
  not_found: GrpcStatus.NOT_FOUND,
  already_exists: GrpcStatus.ALREADY_EXISTS,
  failed_precondition: GrpcStatus.FAILED_PRECONDITION,
  resource_exhausted: GrpcStatus.RESOURCE_EXHAUSTED,
  unauthenticated: GrpcStatus.UNAUTHENTICATED,
  permission_denied: GrpcStatus.PERMISSION_DENIED,
  unavailable: GrpcStatus.UNAVAILABLE,
};

const INTERNAL_MESSAGE = 'internal error; see the Gofer service logs';
const UNAVAILABLE_MESSAGE = 'Gofer cannot reach a service it depends on (database, queue or object store) right now; try again shortly';

/** Socket errors of a connection that could not be made or broke. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
/** What pg, TypeORM and ioredis say, without a code, when a connection broke or could not be had in time. */
const LOST_CONNECTION = [
  /^Connection terminated/, // pg: the server closed it, or the connect timed out
  /^timeout exceeded when trying to connect/, // pg-pool
  /^Postgres answered nothing within/, // libs/dal/src/postgres-client.ts: a silent connection closed as dead
  /^Connection is closed/, // ioredis
  /^Reached the max retries per request limit/, // ioredis, while Redis is unreachable
];

/**
 * Whether an error means a service Gofer depends on (Postgres, Redis, the object store) could not be
 * reached (down, restarting, cut off), rather than a bug: such a call is answered UNAVAILABLE, which
 * clients retry (the CLI's followers resume), instead of INTERNAL. Looks through the wrappers that carry the driver's error (TypeORM's
 * `driverError`, `cause`).
 */
export function isDependencyUnavailable(error: unknown): boolean {
  for (let e = error, depth = 0; e && typeof e === 'object' && depth < 4; depth++) {
    const refused = postgresRefusedConnection(e);
    if (refused !== undefined) return refused;
    const { code, message } = e as { code?: unknown; message?: unknown };
    if (typeof code === 'string' && SOCKET_CODES.has(code)) return true;
    if (typeof message === 'string' && LOST_CONNECTION.some((pattern) => pattern.test(message))) return true;
    e = (e as { driverError?: unknown }).driverError ?? (e as { cause?: unknown }).cause;
  }
  return false;
}

/** A gRPC status as grpc-js sends it (it reads `details`, or `message` without one). */
export interface GrpcError {
  code: GrpcStatus;
  message: string;
  details: string;
  [extra: string]: unknown;
}

/**
 * The status code an error is answered with: a GoferError's code, an RpcException's own code (UNKNOWN
 * without one, as grpc-js would send it), INTERNAL for anything else.
 */
export function grpcCodeOf(error: unknown): GrpcStatus {
  if (error instanceof GoferError) return CODES[error.code];
  if (isDependencyUnavailable(error)) return GrpcStatus.UNAVAILABLE;
  if (error instanceof RpcException) {
    const status = error.getError();
    const code = typeof status === 'object' && status !== null ? (status as { code?: unknown }).code : undefined;
    return typeof code === 'number' && GrpcStatus[code] !== undefined ? code : GrpcStatus.UNKNOWN;
  }
  return GrpcStatus.INTERNAL;
}

/** A status code's name as gRPC spells it (`NOT_FOUND`): the `code` label of the RPC latency metric. */
export function grpcCodeName(code: GrpcStatus): string {
  return GrpcStatus[code] ?? String(code);
}

/**
 * The gRPC status an error is answered with: request errors keep their message (INVALID_ARGUMENT lists
 * every problem, one per line), bounded in size (see {@link boundedStatusMessage}) so that clients can
 * read it; an RpcException keeps its status object's other fields; anything unexpected is logged and
 * reported as INTERNAL without internals.
 */
export function toGrpcError(error: unknown, logger: Logger): GrpcError {
  const code = grpcCodeOf(error);
  if (error instanceof GoferError) {
    const message = boundedStatusMessage(error.message);
    return { code, message, details: message };
  }
  if (error instanceof RpcException) {
    const status = error.getError();
    if (typeof status === 'string') {
      const message = boundedStatusMessage(status);
      return { code, message, details: message };
    }
    const fields = status as { message?: unknown; details?: unknown };
    const message = typeof fields.message === 'string' ? boundedStatusMessage(fields.message) : '';
    const details = typeof fields.details === 'string' ? boundedStatusMessage(fields.details) : message;
    return { ...(status as object), code, message, details };
  }
  if (code === GrpcStatus.UNAVAILABLE) {
    logger.warn({ err: error }, 'rpc failed: a service Gofer depends on is unreachable');
    return { code, message: UNAVAILABLE_MESSAGE, details: UNAVAILABLE_MESSAGE };
  }
  logger.error({ err: error }, 'rpc failed unexpectedly');
  return { code, message: INTERNAL_MESSAGE, details: INTERNAL_MESSAGE };
}
