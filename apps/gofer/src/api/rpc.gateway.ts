import {
  Catch, Inject, Injectable, type ArgumentsHost, type CallHandler, type ExceptionFilter, type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { status as GrpcStatus, type Metadata } from '@grpc/grpc-js';
import { GoferError, GoferMetrics, LOGGER, type GoferErrorCode } from '@gofer/engine';
import { RpcException } from '@nestjs/microservices';
import type { Logger } from 'pino';
import { Observable, throwError, tap } from 'rxjs';

const CODES: Record<GoferErrorCode, GrpcStatus> = {
  invalid_argument: GrpcStatus.INVALID_ARGUMENT,
  not_found: GrpcStatus.NOT_FOUND,
  already_exists: GrpcStatus.ALREADY_EXISTS,
  failed_precondition: GrpcStatus.FAILED_PRECONDITION,
  resource_exhausted: GrpcStatus.RESOURCE_EXHAUSTED,
};

/** Who is calling. Authentication (tokens) plugs in here: today every caller is anonymous. */
export interface Caller {
  kind: 'anonymous';
}

/**
 * The one place every RPC passes through: it identifies the caller (authentication arrives next),
 * logs the call with its latency and outcome, and nothing else.
 */
@Injectable()
export class RpcGateway implements NestInterceptor {
  constructor(
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly metrics: GoferMetrics,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const method = context.getHandler().name;
    const metadata = context.switchToRpc().getContext<Metadata>();
    this.authenticate(metadata);
    const started = process.hrtime.bigint();
    const done = (code: string) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.metrics.rpcDuration.observe({ method, code }, seconds);
      this.logger.debug({ rpc: method, code, duration_ms: seconds * 1000 }, 'rpc');
    };
    return next.handle().pipe(
      tap({
        complete: () => done('OK'),
        error: (error: unknown) => done(error instanceof GoferError ? error.code.toUpperCase() : 'INTERNAL'),
      }),
    );
  }

  private authenticate(_metadata: Metadata | undefined): Caller {
    return { kind: 'anonymous' };
  }
}

/**
 * Maps errors to gRPC statuses: request errors keep their message (INVALID_ARGUMENT lists every
 * problem, one per line); anything unexpected is logged and reported as INTERNAL without internals.
 */
@Catch()
export class RpcErrorFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(error: unknown, _host: ArgumentsHost): Observable<never> {
    if (error instanceof GoferError) {
      return throwError(() => ({ code: CODES[error.code], message: error.message }));
    }
    if (error instanceof RpcException) return throwError(() => error.getError());
    this.logger.error({ err: error }, 'rpc failed unexpectedly');
    return throwError(() => ({ code: GrpcStatus.INTERNAL, message: 'internal error; see the Gofer service logs' }));
  }
}
