import { HttpException, HttpStatus, Inject, Injectable, Optional, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Metadata } from '@grpc/grpc-js';
import {
  assertManagement, assertNamespace, assertRunTokenScope, Authorize, POLICIES, TokenService, type Policy, type Principal,
} from '@gofer/auth';
import { LOGGER } from '@gofer/config';
import { GoferError, permissionDenied, unauthenticated, type GoferErrorCode } from '@gofer/errors';
import type { Logger } from 'pino';
import { ApiMetrics } from './api.metrics.js';
import { grpcCodeName, grpcCodeOf } from './grpc-errors.js';
import { assertNoNulCharacters } from './request-strings.js';
import { rpcCallOf } from './rpc-call.js';
import { rpcArrived, recordRpc } from './rpc.gateway.js';

/** What a call names, for the `namespace` policy and a run token's scope. */
interface Target {
  namespaceId?: string;
  pipelineId?: string;
  runId?: number | string;
}

/** The HTTP request fields the guard reads. */
interface HttpRequest {
  headers: Record<string, string | string[] | undefined>;
  params?: Record<string, string | undefined>;
  query?: Record<string, unknown>;
}

const HTTP_STATUS: Record<GoferErrorCode, HttpStatus> = {
  invalid_argument: HttpStatus.BAD_REQUEST,
  not_found: HttpStatus.NOT_FOUND,
  already_exists: HttpStatus.CONFLICT,
  failed_precondition: HttpStatus.PRECONDITION_FAILED,
  resource_exhausted: HttpStatus.TOO_MANY_REQUESTS,
  unauthenticated: HttpStatus.UNAUTHORIZED,
  permission_denied: HttpStatus.FORBIDDEN,
  unavailable: HttpStatus.SERVICE_UNAVAILABLE,
};

const principals = new WeakMap<object, Principal>();

/**
 * The verified caller of a call that needed a token: pass an RPC's metadata (a client-streaming call's
 * `call.metadata`) or an HTTP request. Set by {@link AuthorizationGuard}.
 */
export function principalOf(carrier: Metadata | object): Principal {
  const principal = principals.get(carrier);
  if (!principal) throw new Error('no principal: the call did not pass the authorization guard, or its policy reads no token');
  return principal;
}

/**
 * The one authorization check of every gRPC and HTTP handler: it reads the handler's policy
 * (`@Authorize`, libs/auth/src/authorize.decorator.ts), refuses a handler without one, authenticates
 * the bearer token the policy needs (gRPC metadata or the HTTP `authorization` header) and checks that
 * the token may make the call. RPC requests with a NUL character in any string are refused here too.
 *
 * A refusal is a GoferError for gRPC, answered by RpcErrorFilter (rpc.gateway.ts), which answers a
 * client-streaming call through its callback; for HTTP it is the matching HttpException.
 */
@Injectable()
export class AuthorizationGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly tokens: TokenService,
    @Inject(LOGGER) private readonly logger: Logger,
    // Present in the API role; a worker-only process serves no RPC.
    @Optional() private readonly metrics?: ApiMetrics,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const type = context.getType<'rpc' | 'http'>();
    if (type === 'rpc') return this.authorizeRpc(context);
    if (type === 'http') return this.authorizeHttp(context);
    throw permissionDenied(`${handlerName(context)}: ${String(type)} handlers have no authorization check, so they are refused`);
  }

  private async authorizeRpc(context: ExecutionContext): Promise<true> {
    const call = rpcCallOf(context);
    rpcArrived(call.metadata);
    try {
      const policy = this.policyOf(context);
      if (call.request !== undefined) assertNoNulCharacters(call.request);
      const principal = await this.check(policy, call.method, () => bearer(call.metadata), call.request);
      if (principal) principals.set(call.metadata, principal);
      return true;
    } catch (error) {
      // The gateway's interceptor never sees a refused call: record it here.
      if (this.metrics) recordRpc(this.metrics, this.logger, call.method, call.metadata, grpcCodeName(grpcCodeOf(error)));
      throw error;
    }
  }

  private async authorizeHttp(context: ExecutionContext): Promise<true> {
    const request = context.switchToHttp().getRequest<HttpRequest>();
    try {
      const policy = this.policyOf(context);
      // Run-token scopes are keyed by RPC name: an HTTP handler is named apart so none inherits one.
      const principal = await this.check(policy, `http:${context.getHandler().name}`, () => httpBearer(request.headers.authorization), httpTarget(request));
      if (principal) principals.set(request, principal);
      return true;
    } catch (error) {
      if (error instanceof GoferError) throw new HttpException({ statusCode: HTTP_STATUS[error.code], message: error.message }, HTTP_STATUS[error.code]);
      throw error;
    }
  }

  /** The handler's declared policy; a handler without one (or with an unknown one) is refused. */
  private policyOf(context: ExecutionContext): Policy {
    const policy = this.reflector.get(Authorize, context.getHandler());
    if (policy === undefined || !(POLICIES as readonly string[]).includes(policy)) {
      throw permissionDenied(
        `${handlerName(context)} declares no authorization policy (@Authorize), so every call to it is refused; ` +
          'this is a bug in Gofer: please report it',
      );
    }
    return policy;
  }

  /**
   * Applies a policy (see libs/auth/src/authorize.decorator.ts) to a call of `method` naming `target`;
   * the verified principal when the policy reads a token.
   */
  private async check(policy: Policy, method: string, token: () => string, target: Target | undefined): Promise<Principal | undefined> {
    // These read no API token: the handler (trigger-key) or the trigger (webhook) authenticates.
    if (policy === 'public' || policy === 'trigger-key' || policy === 'webhook') return undefined;
    const principal = await this.tokens.authenticate(token());
    // A run token is confined to its run: uploads name it in their first message, checked by the handler.
    assertRunTokenScope(principal, method, policy === 'checked-by-handler' ? undefined : (target ?? {}));
    if (policy === 'management') assertManagement(principal, `${method[0]!.toUpperCase()}${method.slice(1)}`);
    if (policy === 'namespace') assertNamespace(principal, target?.namespaceId || 'default');
    return principal;
  }
}

function handlerName(context: ExecutionContext): string {
  return `${context.getClass().name}.${context.getHandler().name}`;
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
    throw unauthenticated(
      'this call needs an API token (metadata "authorization: Bearer <token>"; a value that starts or ends with whitespace is dropped by HTTP/2 before it reaches Gofer)',
    );
  }
  const token = values.length === 1 && typeof values[0] === 'string' ? tokenOf(values[0]) : undefined;
  if (token === undefined) throw unauthenticated('the API token is malformed: metadata "authorization" must be "Bearer <token>"');
  return token;
}

/** The token in an HTTP request's `authorization: Bearer <token>` header (see {@link bearer}). */
function httpBearer(header: string | string[] | undefined): string {
  if (header === undefined) throw unauthenticated('this request needs an API token (header "authorization: Bearer <token>")');
  const token = typeof header === 'string' ? tokenOf(header) : undefined;
  if (token === undefined) throw unauthenticated('the API token is malformed: header "authorization" must be "Bearer <token>"');
  return token;
}

function tokenOf(value: string): string | undefined {
  return /^(?:Bearer[ \t]+)?(\S+)$/i.exec(value.trim())?.[1];
}

/** What an HTTP request names: route parameters, else query parameters, spelled as in the proto. */
function httpTarget(request: HttpRequest): Target {
  const field = (name: string) => {
    const value = request.params?.[name] ?? request.query?.[name];
    return typeof value === 'string' ? value : undefined;
  };
  return { namespaceId: field('namespace_id'), pipelineId: field('pipeline_id'), runId: field('run_id') };
}
