import { status } from '@grpc/grpc-js';
import { SettingsError, subscriptionKey, type ExternalRequest, type Subscription, type SubscriptionRef } from './trigger.js';
import type { ExternalEventRequestMessage, SubscribeRequestMessage, SubscriptionRefMessage, UnsubscribeRequestMessage } from './trigger-proto.js';

/** Most settings one subscription may carry. */
export const MAX_SETTINGS = 256;
/** Longest setting key, in characters. */
export const MAX_SETTING_KEY_LENGTH = 256;
/** Longest setting value, in characters. */
export const MAX_SETTING_VALUE_LENGTH = 64 * 1024;
/** Largest external event payload: Gofer's GOFER_WEBHOOK_MAX_BYTES goes up to 64 MiB (libs/config). */
export const MAX_EXTERNAL_PAYLOAD_BYTES = 64 * 1024 * 1024;

/** A call's failure with the gRPC status it should get. */
export class RpcError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
  }
}

const invalid = (problems: string[]): RpcError => new RpcError(status.INVALID_ARGUMENT, problems.join('\n'));

/** The subscription of a Subscribe request; INVALID_ARGUMENT naming every missing or oversized field. */
export function parseSubscribe(request: SubscribeRequestMessage): Subscription {
  const subscription = request.subscription;
  if (!subscription) throw invalid(['subscription: is required']);
  const problems = refProblems(subscription.ref, 'subscription.ref');
  const entries = Object.entries(subscription.settings ?? {});
  if (entries.length > MAX_SETTINGS) {
    problems.push(`subscription.settings: ${entries.length} settings, at most ${MAX_SETTINGS}`);
  } else {
    for (const [key, value] of entries) {
      const name = key.length > MAX_SETTING_KEY_LENGTH ? `${key.slice(0, 32)}…` : key;
      if (key.length > MAX_SETTING_KEY_LENGTH) problems.push(`subscription.settings.${name}: key longer than ${MAX_SETTING_KEY_LENGTH} characters`);
      if (value.length > MAX_SETTING_VALUE_LENGTH) problems.push(`subscription.settings.${name}: value longer than ${MAX_SETTING_VALUE_LENGTH} characters`);
    }
  }
  if (problems.length > 0) throw invalid(problems);
  const ref = toRef(subscription.ref!);
  return {
    ...ref,
    key: subscriptionKey(ref),
    settings: { ...subscription.settings },
    checkpoint: subscription.checkpoint === '' ? undefined : subscription.checkpoint,
    // 0 means "not set" on the wire; now is the honest lower bound for a subscription Gofer just sent.
    created: new Date(subscription.created > 0 ? subscription.created : Date.now()),
  };
}

/** The ref of an Unsubscribe request. */
export function parseUnsubscribe(request: UnsubscribeRequestMessage): SubscriptionRef {
  const problems = refProblems(request.ref, 'ref');
  if (problems.length > 0) throw invalid(problems);
  return toRef(request.ref!);
}

/** The request of an ExternalEvent call. */
export function parseExternalEvent(request: ExternalEventRequestMessage): ExternalRequest {
  if (request.payload.length > MAX_EXTERNAL_PAYLOAD_BYTES) {
    throw invalid([`payload: ${request.payload.length} bytes, at most ${MAX_EXTERNAL_PAYLOAD_BYTES}`]);
  }
  return { payload: request.payload, headers: { ...request.headers }, method: request.method };
}

/**
 * The {@link SettingsError}s a definition threw: the error itself, or every error of an AggregateError
 * (or array) made only of them. Undefined for any other error.
 */
export function settingsErrors(error: unknown): SettingsError[] | undefined {
  if (error instanceof SettingsError) return [error];
  const errors: unknown = error instanceof AggregateError ? error.errors : error;
  if (Array.isArray(errors) && errors.length > 0 && errors.every((e) => e instanceof SettingsError)) return errors as SettingsError[];
  return undefined;
}

/** The lines of INVALID_ARGUMENT for settings errors (see {@link settingsErrors}): `settings.<key>: <message>` each. */
export function settingsProblems(error: unknown): string[] | undefined {
  return settingsErrors(error)?.map((e) => `settings.${e.key}: ${e.message}`);
}

function refProblems(ref: SubscriptionRefMessage | null | undefined, field: string): string[] {
  if (!ref) return [`${field}: is required`];
  const problems: string[] = [];
  if (!ref.namespaceId) problems.push(`${field}.namespace_id: is required`);
  if (!ref.pipelineId) problems.push(`${field}.pipeline_id: is required`);
  if (!ref.label) problems.push(`${field}.label: is required`);
  return problems;
}

const toRef = (ref: SubscriptionRefMessage): SubscriptionRef => ({ namespaceId: ref.namespaceId, pipelineId: ref.pipelineId, label: ref.label });
