import { status as GrpcStatus } from '@grpc/grpc-js';
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
  logger.error({ err: error }, 'rpc failed unexpectedly');
  return { code, message: INTERNAL_MESSAGE, details: INTERNAL_MESSAGE };
}
