import {
  Catch, Inject, Injectable, type ArgumentsHost, type CallHandler, type ExceptionFilter, type ExecutionContext,
  type NestInterceptor,
} from '@nestjs/common';
import { Metadata, status as GrpcStatus } from '@grpc/grpc-js';
import {
  assertManagement, assertNamespace, assertRunTokenScope, GoferError, GoferMetrics, LOGGER, TokenService, type GoferErrorCode, type Principal,
} from '@gofer/engine';
import { RpcException } from '@nestjs/microservices';
import type { Logger } from 'pino';
import { catchError, from, mergeMap, Observable, of, tap, throwError } from 'rxjs';
import { assertNoNulCharacters } from './request-strings.js';
import { boundedStatusMessage } from './status-message.js';

const CODES: Record<GoferErrorCode, GrpcStatus> = {
  invalid_argument: GrpcStatus.INVALID_ARGUMENT,
  not_found: GrpcStatus.NOT_FOUND,
  already_exists: GrpcStatus.ALREADY_EXISTS,
  failed_precondition: GrpcStatus.FAILED_PRECONDITION,
  resource_exhausted: GrpcStatus.RESOURCE_EXHAUSTED,
  unauthenticated: GrpcStatus.UNAUTHENTICATED,
  permission_denied: GrpcStatus.PERMISSION_DENIED,
};

/** What a caller needs for an RPC; anything not listed acts in its request's `namespace_id`. */
type Policy = 'public' | 'authenticated' | 'management' | 'namespace' | 'checked-by-handler';

const POLICIES: Record<string, Policy> = {
  bootstrapToken: 'public',
  getSystemInfo: 'public', // version and bootstrap state, for a client without a token yet (nothing secret)
  whoAmI: 'authenticated',
  listNamespaces: 'authenticated', // filtered to what the token may use
  getNamespace: 'authenticated', // checked against the token in the handler
  listEvents: 'authenticated', // filtered to what the token may see
  createToken: 'management',
  listTokens: 'management',
  getToken: 'management',
  deleteToken: 'management',
  enableToken: 'management',
  disableToken: 'management',
  createNamespace: 'management',
  deleteNamespace: 'management',
  putGlobalSecret: 'management',
  getGlobalSecret: 'management',
  listGlobalSecrets: 'management',
  deleteGlobalSecret: 'management',
  // Client-streaming uploads: the namespace is in the first message, which the handler checks.
  putPipelineObject: 'checked-by-handler',
  putRunObject: 'checked-by-handler',
};

const principals = new WeakMap<object, Principal>();
const AUTHORIZED = Symbol('authorized');
const REFUSED = Symbol('refused');

/** The verified caller of an RPC (set by {@link RpcGateway} on the call's metadata). */
export function principalOf(metadata: object): Principal {
  const principal = principals.get(metadata);
  if (!principal) throw new Error('no principal: the RPC did not pass through the gateway');
  return principal;
}

/**
 * The one place every RPC passes through: it authenticates the caller's token, checks that the token
 * may make the call (management-only groups, or the request's namespace for a client token), and
 * records the call's latency and outcome.
 */
@Injectable()
export class RpcGateway implements NestInterceptor {
  constructor(
    @Inject(LOGGER) private readonly logger: Logger,
    private readonly metrics: GoferMetrics,
    private readonly tokens: TokenService,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'rpc') return next.handle(); // HTTP: health, metrics
    const method = context.getHandler().name;
    const rpc = context.switchToRpc();
    // Unary and server-streaming handlers get (request, metadata, call); client-streaming ones (call, callback).
    const data = rpc.getData<Record<string, unknown>>();
    const streamCallback = typeof rpc.getContext<unknown>() === 'function' ? rpc.getContext<(error: unknown) => void>() : undefined;
    const metadata = (streamCallback ? (data as unknown as { metadata: Metadata }).metadata : rpc.getContext<Metadata>()) ?? new Metadata();
    const started = process.hrtime.bigint();
    const done = (code: string) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.metrics.rpcDuration.observe({ method, code }, seconds);
      this.logger.debug({ rpc: method, code, duration_ms: seconds * 1000 }, 'rpc');
    };
    const outcome = (error: unknown) => (error instanceof GoferError ? error.code.toUpperCase() : 'INTERNAL');
    return from(this.authorize(method, metadata, streamCallback ? undefined : data).then(() => AUTHORIZED)).pipe(
      catchError((error: unknown) => {
        done(outcome(error));
        if (!streamCallback) return throwError(() => error);
        // A client-streaming call answers through its callback, not through the returned stream.
        streamCallback(grpcErrorOf(error, this.logger));
        return of(REFUSED);
      }),
      mergeMap((verdict) =>
        verdict === REFUSED
          ? of(undefined) // Nest awaits one value from a client-streaming handler; the handler never runs
          : next.handle().pipe(tap({ complete: () => done('OK'), error: (error: unknown) => done(outcome(error)) })),
      ),
    );
  }

  private async authorize(method: string, metadata: Metadata, request: Record<string, unknown> | undefined): Promise<void> {
    if (request !== undefined) assertNoNulCharacters(request);
    const policy = POLICIES[method] ?? 'namespace';
    if (policy === 'public') return;
    const principal = await this.tokens.authenticate(bearer(metadata));
    principals.set(metadata, principal);
    // A run token is confined to its run: uploads name it in their first message, checked by the handler.
    assertRunTokenScope(principal, method, policy === 'checked-by-handler' ? undefined : (request ?? {}));
    if (policy === 'management') assertManagement(principal, `${method[0]!.toUpperCase()}${method.slice(1)}`);
    if (policy === 'namespace') assertNamespace(principal, (request?.namespaceId as string | undefined) || 'default');
  }
}

/**
 * The token in `authorization: Bearer <token>` metadata (RFC 6750: the scheme in any case; a bare token
 * is tolerated). A value that starts or ends with whitespace never arrives: HTTP/2 forbids it (RFC 9113
 * section 8.2.1) and Node's HTTP/2 layer drops the whole header before grpc-js sees it, so the refusal of
 * a call without the header names that cause too.
 */
export function bearer(metadata: Metadata): string {
  const values = metadata.get('authorization');
  if (values.length === 0) {
    throw new GoferError(
      'unauthenticated',
      'this call needs an API token (metadata "authorization: Bearer <token>"; a value that starts or ends with whitespace is dropped by HTTP/2 before it reaches Gofer)',
    );
  }
  const match = values.length === 1 && typeof values[0] === 'string' ? /^(?:Bearer[ \t]+)?(\S+)$/i.exec(values[0].trim()) : null;
  if (!match) throw new GoferError('unauthenticated', 'the API token is malformed: metadata "authorization" must be "Bearer <token>"');
  return match[1]!;
}

/**
 * The gRPC status an error becomes (unexpected errors are logged and reported without internals).
 * Messages are bounded in size (see {@link boundedStatusMessage}), so that clients can read the status.
 */
export function grpcErrorOf(error: unknown, logger: Logger): { code: GrpcStatus; message: string; details?: string } {
  if (error instanceof GoferError) {
    const message = boundedStatusMessage(error.message);
    return { code: CODES[error.code], message, details: message };
  }
  if (error instanceof RpcException) return boundedRpcError(error) as { code: GrpcStatus; message: string };
  logger.error({ err: error }, 'rpc failed unexpectedly');
  return { code: GrpcStatus.INTERNAL, message: 'internal error; see the Gofer service logs', details: 'internal error; see the Gofer service logs' };
}

/** An RpcException's error (a message, or a status object), with its message bounded. */
function boundedRpcError(error: RpcException): string | object {
  const status = error.getError();
  if (typeof status === 'string') return boundedStatusMessage(status);
  const { message, details } = status as { message?: unknown; details?: unknown };
  return {
    ...status,
    ...(typeof message === 'string' && { message: boundedStatusMessage(message) }),
    ...(typeof details === 'string' && { details: boundedStatusMessage(details) }),
  };
}

/**
 * Maps errors to gRPC statuses: request errors keep their message (INVALID_ARGUMENT lists every
 * problem, one per line, as many as fit in a bounded message); anything unexpected is logged and
 * reported as INTERNAL without internals.
 */
@Catch()
export class RpcErrorFilter implements ExceptionFilter {
  constructor(private readonly logger: Logger) {}

  catch(error: unknown, _host: ArgumentsHost): Observable<never> {
    if (error instanceof GoferError) {
      return throwError(() => ({ code: CODES[error.code], message: boundedStatusMessage(error.message) }));
    }
    if (error instanceof RpcException) return throwError(() => boundedRpcError(error));
    this.logger.error({ err: error }, 'rpc failed unexpectedly');
    return throwError(() => ({ code: GrpcStatus.INTERNAL, message: 'internal error; see the Gofer service logs' }));
  }
}
