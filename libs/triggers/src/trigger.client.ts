import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { credentials, loadPackageDefinition, Metadata, status, type Client, type ServiceError } from '@grpc/grpc-js';
import { GoferError, failedPrecondition, invalidArgument } from '@gofer/errors';
import { loadTriggerPackageDefinition, type TriggerExternalEventResponse, type TriggerInfoResponse, type TriggerSubscription, type TriggerSubscriptionRef } from '@gofer/proto';

/** How to reach one trigger container. */
export interface TriggerEndpoint {
  name: string;
  address: string;
  key: string;
}

/** Deadline of Info, Subscribe and Unsubscribe: a trigger answers these at once. */
const CALL_DEADLINE_MS = 5000;
/** Deadline of ExternalEvent: GitHub gives a webhook 10 s, so the trigger has a little less. */
const EXTERNAL_DEADLINE_MS = 9000;
/** External event payloads are bounded by GOFER_WEBHOOK_MAX_BYTES (at most 64 MiB) plus headers. */
const MAX_SEND_BYTES = 65 * 1024 * 1024;

type Unary = (request: unknown, metadata: Metadata, options: { deadline: Date }, callback: (error: ServiceError | null, response?: unknown) => void) => void;

/**
 * Calls trigger containers (gofer.v1.Trigger, proto/gofer/v1/trigger.proto) with their key. One
 * channel per address, kept while the address is in use. Errors come back as GoferErrors fit for users:
 * a trigger that refused settings gives INVALID_ARGUMENT with its message, an unreachable one
 * FAILED_PRECONDITION naming the trigger and its address.
 */
@Injectable()
export class TriggerClient implements OnModuleDestroy {
  private readonly channels = new Map<string, Client>();

  async info(endpoint: TriggerEndpoint): Promise<TriggerInfoResponse> {
    return (await this.call(endpoint, 'info', {}, CALL_DEADLINE_MS)) as TriggerInfoResponse;
  }

  async subscribe(endpoint: TriggerEndpoint, subscription: TriggerSubscription): Promise<void> {
    await this.call(endpoint, 'subscribe', { subscription }, CALL_DEADLINE_MS);
  }

  async unsubscribe(endpoint: TriggerEndpoint, ref: TriggerSubscriptionRef): Promise<void> {
    await this.call(endpoint, 'unsubscribe', { ref }, CALL_DEADLINE_MS);
  }

  async externalEvent(endpoint: TriggerEndpoint, request: { payload: Buffer; headers: Record<string, string>; method: string }): Promise<TriggerExternalEventResponse> {
    return (await this.call(endpoint, 'externalEvent', request, EXTERNAL_DEADLINE_MS)) as TriggerExternalEventResponse;
  }

  async shutdown(endpoint: TriggerEndpoint): Promise<void> {
    await this.call(endpoint, 'shutdown', {}, CALL_DEADLINE_MS);
  }

  /** Drops the channel to an address no trigger uses any more. */
  forget(address: string): void {
    this.channels.get(address)?.close();
    this.channels.delete(address);
  }

  onModuleDestroy(): void {
    for (const channel of this.channels.values()) channel.close();
    this.channels.clear();
  }

  private call(endpoint: TriggerEndpoint, method: string, request: unknown, deadlineMs: number): Promise<unknown> {
    if (!endpoint.address) {
      return Promise.reject(failedPrecondition(`trigger "${endpoint.name}" is not running yet: its container has not started (see \`gofer trigger get ${endpoint.name}\`)`));
    }
    const client = this.channel(endpoint.address);
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${endpoint.key}`);
    return new Promise((resolve, reject) => {
      (client as unknown as Record<string, Unary>)[method]!.call(client, request, metadata, { deadline: new Date(Date.now() + deadlineMs) }, (error, response) => {
        if (error) reject(toGoferError(endpoint, error));
        else resolve(response);
      });
    });
  }

  private channel(address: string): Client {
    let client = this.channels.get(address);
    if (!client) {
      const pkg = loadPackageDefinition(loadTriggerPackageDefinition()) as unknown as { gofer: { v1: { Trigger: new (address: string, creds: unknown, options: object) => Client } } };
      client = new pkg.gofer.v1.Trigger(address, credentials.createInsecure(), {
        'grpc.max_send_message_length': MAX_SEND_BYTES,
        // A restarted trigger comes back on the same address: reconnect quickly.
        'grpc.initial_reconnect_backoff_ms': 200,
        'grpc.max_reconnect_backoff_ms': 2000,
      });
      this.channels.set(address, client);
    }
    return client;
  }
}

function toGoferError(endpoint: TriggerEndpoint, error: ServiceError): GoferError {
  const detail = error.details || error.message;
  if (error.code === status.INVALID_ARGUMENT) return invalidArgument(detail);
  if (error.code === status.UNAVAILABLE || error.code === status.DEADLINE_EXCEEDED) {
    return failedPrecondition(`trigger "${endpoint.name}" did not answer at ${endpoint.address} (${detail}); it may be starting or restarting: see \`gofer trigger get ${endpoint.name}\``);
  }
  if (error.code === status.UNAUTHENTICATED) {
    return failedPrecondition(`trigger "${endpoint.name}" at ${endpoint.address} refused Gofer's key (${detail}): is another program listening there?`);
  }
  return failedPrecondition(`trigger "${endpoint.name}" failed: ${detail}`);
}
