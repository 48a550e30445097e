import { fileURLToPath } from 'node:url';
import type { ServiceDefinition } from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';
import protobuf from 'protobufjs';

/**
 * The SDK's copy of `proto/gofer/v1/trigger.proto` (`libs/sdk/proto/…`, kept identical by
 * `trigger-proto.spec.ts`): the package is used outside the monorepo, so it ships the contract itself.
 * Resolved from this module's location, which is two levels below the package root both in `src/`
 * (tests) and in `dist/` (the packed package).
 */
export const TRIGGER_PROTO_FILE: string = fileURLToPath(new URL('../../proto/gofer/v1/trigger.proto', import.meta.url));

/** Full name of the service a trigger serves. */
export const TRIGGER_SERVICE_NAME = 'gofer.v1.Trigger';

/** gRPC path of the RPC Gofer serves for events (`gofer.v1.Gofer/PostTriggerEvent`). */
export const POST_TRIGGER_EVENT_PATH = '/gofer.v1.Gofer/PostTriggerEvent';

/** The same loader options as Gofer's (`libs/proto/src/gofer-proto.ts`): camelCase, int64 as number, enums as names. */
const LOADER_OPTIONS = { keepCase: false, longs: Number, enums: String, defaults: true, oneofs: true } satisfies Options;

// Message shapes as the loader options above produce them (missing messages are null).

export interface SubscriptionRefMessage {
  namespaceId: string;
  pipelineId: string;
  label: string;
}

export interface SubscriptionMessage {
  ref: SubscriptionRefMessage | null;
  settings: Record<string, string>;
  checkpoint: string;
  created: number;
}

export interface InfoResponseMessage {
  name: string;
  description: string;
  instanceId: string;
  subscriptions: number;
  settings: { key: string; required: boolean; description: string }[];
}

export interface SubscribeRequestMessage {
  subscription: SubscriptionMessage | null;
}

export interface UnsubscribeRequestMessage {
  ref: SubscriptionRefMessage | null;
}

export interface ExternalEventRequestMessage {
  payload: Buffer;
  headers: Record<string, string>;
  method: string;
}

export interface ExternalEventResponseMessage {
  status: number;
  message: string;
}

export interface PostTriggerEventRequestMessage {
  trigger: string;
  ref: SubscriptionRefMessage;
  idempotencyKey: string;
  variables: Record<string, string>;
  /** Left out when empty, like any proto3 default. */
  checkpoint?: string;
}

export interface PostTriggerEventResponseMessage {
  outcome: string;
  runId: number;
}

let triggerService: ServiceDefinition | undefined;

/** The `gofer.v1.Trigger` service definition (loaded once). */
export function loadTriggerService(): ServiceDefinition {
  triggerService ??= loadSync(TRIGGER_PROTO_FILE, LOADER_OPTIONS)[TRIGGER_SERVICE_NAME] as ServiceDefinition;
  return triggerService;
}

/** Encodes and decodes the messages of `gofer.v1.Gofer/PostTriggerEvent`. */
export interface PostTriggerEventCodec {
  serialize(request: PostTriggerEventRequestMessage): Buffer;
  deserialize(bytes: Buffer): PostTriggerEventResponseMessage;
}

let codec: PostTriggerEventCodec | undefined;

/**
 * The codec of the event RPC. Gofer's own service is not in trigger.proto (only its messages are), so
 * the client is built by hand on protobufjs — the library `@grpc/proto-loader` itself runs on — with
 * the same conversions as {@link LOADER_OPTIONS}.
 */
export function postTriggerEventCodec(): PostTriggerEventCodec {
  if (!codec) {
    const root = new protobuf.Root().loadSync(TRIGGER_PROTO_FILE, { keepCase: false });
    const request = root.lookupType('gofer.v1.PostTriggerEventRequest');
    const response = root.lookupType('gofer.v1.PostTriggerEventResponse');
    codec = {
      serialize: (message) => Buffer.from(request.encode(request.fromObject(message)).finish()),
      deserialize: (bytes) =>
        response.toObject(response.decode(bytes), { longs: Number, enums: String, defaults: true }) as PostTriggerEventResponseMessage,
    };
  }
  return codec;
}
