import type { ExecutionContext } from '@nestjs/common';
import { Metadata } from '@grpc/grpc-js';

/** What the guard and the gateway read of an RPC, whatever its kind. */
export interface RpcCall {
  /** The handler's name, e.g. `getRun` (the keys of RUN_TOKEN_SCOPES in libs/auth/src/token.service.ts). */
  method: string;
  metadata: Metadata;
  /** The decoded request; undefined for a client-streaming call, whose messages the handler reads. */
  request?: Record<string, unknown>;
}

/**
 * The RPC of an execution context. Unary and server-streaming handlers get `(request, metadata, call)`;
 * client-streaming ones (`@GrpcStreamCall`) get `(call, callback)`, the metadata on the call.
 */
export function rpcCallOf(context: ExecutionContext): RpcCall {
  const rpc = context.switchToRpc();
  const method = context.getHandler().name;
  const data = rpc.getData<Record<string, unknown>>();
  if (isClientStreaming(rpc.getContext<unknown>())) {
    return { method, metadata: (data as unknown as { metadata?: Metadata }).metadata ?? new Metadata() };
  }
  return { method, metadata: rpc.getContext<Metadata | undefined>() ?? new Metadata(), request: data };
}

/** Whether an RPC's second argument is a client-streaming call's callback (it answers through it). */
export function isClientStreaming(secondArgument: unknown): secondArgument is (error: unknown, value?: unknown) => void {
  return typeof secondArgument === 'function';
}
