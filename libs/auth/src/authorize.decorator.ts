import { Reflector } from '@nestjs/core';

/**
 * What a caller needs to reach a handler, declared next to it with {@link Authorize}. One guard
 * (apps/gofer/src/api/authorization.guard.ts) evaluates it for gRPC and HTTP alike, and refuses every
 * handler that declares none.
 *
 * - `public`: anyone; no token is read (the system's version, the bootstrap token, health, metrics).
 * - `authenticated`: any valid token; the handler filters or checks what it returns for that token.
 * - `management`: a management token.
 * - `namespace`: a token that may use the namespace the request names (`namespace_id`, "default" when
 *   empty); a run token only for its own run or pipeline (RUN_TOKEN_SCOPES in token.service.ts).
 * - `checked-by-handler`: any valid token; the handler checks the namespace, which only it can read
 *   (a client-streaming upload names it in its first message).
 * - `trigger-key`: no API token; the handler authenticates the caller as an installed trigger by its
 *   key (PostTriggerEvent) and records every refusal.
 * - `webhook`: no API token; the body goes to the named trigger, which verifies its signature (e.g.
 *   GitHub's X-Hub-Signature-256) and answers 401 itself. Only `POST /api/external/<trigger>`.
 */
export const POLICIES = ['public', 'authenticated', 'management', 'namespace', 'checked-by-handler', 'trigger-key', 'webhook'] as const;

/** One of {@link POLICIES}. */
export type Policy = (typeof POLICIES)[number];

/**
 * Declares a handler's {@link Policy}: `@Authorize('namespace')` above `@GrpcMethod(…)` or `@Get(…)`.
 * A handler without it is refused, whatever the transport. Read it with `reflector.get(Authorize, handler)`.
 */
export const Authorize = Reflector.createDecorator<Policy>();
