import {
  Catch, Inject, Injectable, type ArgumentsHost, type CallHandler, type ExceptionFilter, type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { LOGGER } from '@gofer/config';
import type { Logger } from 'pino';
import { Observable, of, tap, throwError } from 'rxjs';
import { ApiMetrics } from './api.metrics.js';
import { grpcCodeName, grpcCodeOf, toGrpcError } from './grpc-errors.js';
import { isClientStreaming, rpcCallOf } from './rpc-call.js';

// The gRPC edge around every handler: AuthorizationGuard (authorization.guard.ts) lets a call in, the
// RpcGateway interceptor records how it ended, and RpcErrorFilter answers its errors.

const arrivals = new WeakMap<object, bigint>();

/** Notes when an RPC arrived: called by the authorization guard, which sees every call first. */
export function rpcArrived(metadata: object): void {
  arrivals.set(metadata, process.hrtime.bigint());
}

/** Records an RPC's latency since it arrived, labelled with its handler and gRPC status name (`OK`, `NOT_FOUND`). */
export function recordRpc(metrics: ApiMetrics, logger: Logger, method: string, metadata: object, code: string): void {
  const arrived = arrivals.get(metadata) ?? process.hrtime.bigint();
  arrivals.delete(metadata);
  const seconds = Number(process.hrtime.bigint() - arrived) / 1e9;
  metrics.rpcDuration.observe({ method, code }, seconds);
  logger.debug({ rpc: method, code, duration_ms: seconds * 1000 }, 'rpc');
}

/** Records the latency and outcome of every RPC that passed the authorization guard. */
@Injectable()
export class RpcGateway implements NestInterceptor {
  constructor(
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly metrics: ApiMetrics,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'rpc') return next.handle(); // HTTP: health, metrics
    const { method, metadata } = rpcCallOf(context);
    const done = (code: string) => recordRpc(this.metrics, this.logger, method, metadata, code);
    return next.handle().pipe(tap({ complete: () => done('OK'), error: (error: unknown) => done(grpcCodeName(grpcCodeOf(error))) }));
  }
}

/**
 * Answers an RPC's error with its gRPC status (see {@link toGrpcError}): a unary or server-streaming
 * call through the stream Nest returns, a client-streaming call (`@GrpcStreamCall`, which Nest hands
 * `(call, callback)`) through its callback, as grpc-js expects. HTTP errors are left to Nest, which
 * answers a request an RPC filter leaves unanswered with its own HTTP mapping.
 */
@Catch()
export class RpcErrorFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(error: unknown, host: ArgumentsHost): Observable<unknown> {
    if (host.getType() !== 'rpc') return throwError(() => error);
    const status = toGrpcError(error, this.logger);
    const callback = host.getArgByIndex<unknown>(1);
    if (isClientStreaming(callback)) {
      callback(status);
      return of(undefined); // Nest awaits one value from a client-streaming handler
    }
    return throwError(() => status);
  }
}
