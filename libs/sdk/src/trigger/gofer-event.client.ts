import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import pRetry, { AbortError } from 'p-retry';
import type { PostResult, SubscriptionRef, TriggerEvent } from './trigger.js';
import { POST_TRIGGER_EVENT_PATH, postTriggerEventCodec, type PostTriggerEventRequestMessage } from './trigger-proto.js';

/** Longest idempotency key Gofer stores (`PostTriggerEventRequest.idempotency_key`). */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 200;
/** Longest checkpoint Gofer stores (`PostTriggerEventRequest.checkpoint`). */
export const MAX_CHECKPOINT_LENGTH = 1024;

/** How {@link GoferHandle.post} retries while Gofer is unreachable or busy. */
export interface PostRetryOptions {
  /** Deadline of one attempt, in milliseconds. @default 10_000 */
  attemptTimeoutMs?: number;
  /** Wait before the first retry; doubles on each retry, times a random factor from 1 to 2. @default 250 */
  minDelayMs?: number;
  /** Longest wait between two attempts. @default 15_000 */
  maxDelayMs?: number;
  /** Stop retrying once this long has passed since the first attempt (the last error is thrown). @default 600_000 (10 minutes) */
  maxRetryTimeMs?: number;
}

/**
 * Why {@link GoferHandle.post} failed: Gofer refused the event (`code` is its gRPC status, the message
 * its own), the event was invalid before sending (`INVALID_ARGUMENT`), or retries ran out (the last
 * transient status).
 */
export class GoferPostError extends Error {
  override readonly name = 'GoferPostError';

  constructor(
    /** The gRPC status code, e.g. 5 (`NOT_FOUND`, an unknown subscription); see {@link GoferPostError.codeName}. */
    readonly code: number,
    message: string,
  ) {
    super(message);
  }

  /** The status' name, e.g. `NOT_FOUND`. */
  get codeName(): string {
    return (status as unknown as Record<number, string>)[this.code] ?? String(this.code);
  }
}

/** Statuses worth another attempt: Gofer restarting, overloaded, or a transaction that lost a race. */
const TRANSIENT = new Set<number>([status.UNAVAILABLE, status.DEADLINE_EXCEEDED, status.RESOURCE_EXHAUSTED, status.ABORTED, status.INTERNAL]);

const isTransient = (error: unknown): error is GoferPostError => error instanceof GoferPostError && TRANSIENT.has(error.code);

const OUTCOMES: Record<string, PostResult['outcome']> = {
  TRIGGER_EVENT_OUTCOME_STARTED: 'started',
  TRIGGER_EVENT_OUTCOME_DUPLICATE: 'duplicate',
  TRIGGER_EVENT_OUTCOME_PIPELINE_DISABLED: 'pipeline_disabled',
};

/** Where and as whom events are posted. */
export interface GoferEventClientOptions {
  /** The installed trigger's name (GOFER_TRIGGER_NAME). */
  trigger: string;
  /** GOFER_TRIGGER_KEY. */
  key: string;
  /** host:port of Gofer's gRPC API (GOFER_HOST); posting fails at once without it. */
  goferHost: string | undefined;
  retry?: PostRetryOptions;
  /** Aborts every post, in flight or waiting to retry (the trigger's shutdown). */
  signal: AbortSignal;
  /** Told about each failed attempt that will be retried. */
  onRetry?: (error: GoferPostError, attempt: number) => void;
}

/**
 * Posts events to `gofer.v1.Gofer/PostTriggerEvent`. Gofer's service is not part of trigger.proto, so
 * the call is made on a plain gRPC Client with the path and message codec; one channel, opened on the
 * first post.
 */
export class GoferEventClient {
  private client: Client | undefined;
  private readonly retry: Required<PostRetryOptions>;

  constructor(private readonly options: GoferEventClientOptions) {
    this.retry = {
      attemptTimeoutMs: options.retry?.attemptTimeoutMs ?? 10_000,
      minDelayMs: options.retry?.minDelayMs ?? 250,
      maxDelayMs: options.retry?.maxDelayMs ?? 15_000,
      maxRetryTimeMs: options.retry?.maxRetryTimeMs ?? 600_000,
    };
  }

  /** Posts one event, retrying transient failures; see {@link GoferHandle.post}. */
  async post(ref: SubscriptionRef, event: TriggerEvent, signal?: AbortSignal): Promise<PostResult> {
    const problems = eventProblems(ref, event);
    if (problems.length > 0) throw new GoferPostError(status.INVALID_ARGUMENT, `cannot post the event:\n${problems.join('\n')}`);
    const { goferHost } = this.options;
    if (!goferHost) {
      throw new GoferPostError(status.FAILED_PRECONDITION, 'cannot post the event: GOFER_HOST is not set (Gofer sets it to the address of its gRPC API)');
    }
    const aborted = signal ? AbortSignal.any([signal, this.options.signal]) : this.options.signal;
    aborted.throwIfAborted();
    const request: PostTriggerEventRequestMessage = {
      trigger: this.options.trigger,
      ref: { namespaceId: ref.namespaceId, pipelineId: ref.pipelineId, label: ref.label },
      idempotencyKey: event.idempotencyKey,
      variables: event.variables ?? {},
      ...(event.checkpoint ? { checkpoint: event.checkpoint } : {}),
    };
    return pRetry(() => this.attempt(goferHost, request, aborted), {
      retries: Number.POSITIVE_INFINITY,
      factor: 2,
      minTimeout: this.retry.minDelayMs,
      maxTimeout: this.retry.maxDelayMs,
      randomize: true,
      maxRetryTime: this.retry.maxRetryTimeMs,
      signal: aborted,
      shouldRetry: ({ error }) => isTransient(error),
      onFailedAttempt: ({ error, attemptNumber }) => {
        if (isTransient(error)) this.options.onRetry?.(error, attemptNumber);
      },
    });
  }

  /** Closes the channel; later posts open a new one. */
  close(): void {
    this.client?.close();
    this.client = undefined;
  }

  private attempt(goferHost: string, request: PostTriggerEventRequestMessage, signal: AbortSignal): Promise<PostResult> {
    const codec = postTriggerEventCodec();
    const metadata = new Metadata();
    metadata.set('authorization', `Bearer ${this.options.key}`);
    // An AbortError makes p-retry stop and reject with the signal's reason, as it does between attempts.
    const abortError = (): AbortError => new AbortError(signal.reason instanceof Error ? signal.reason : new Error(String(signal.reason)));
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(abortError());
      const onAbort = (): void => {
        call.cancel();
        reject(abortError());
      };
      const call = this.channel(goferHost).makeUnaryRequest(
        POST_TRIGGER_EVENT_PATH,
        codec.serialize,
        codec.deserialize,
        request,
        metadata,
        { deadline: Date.now() + this.retry.attemptTimeoutMs },
        (error: ServiceError | null, response) => {
          signal.removeEventListener('abort', onAbort);
          if (signal.aborted) return reject(abortError()); // normally already rejected by onAbort
          if (error) {
            return reject(new GoferPostError(error.code, `PostTriggerEvent to ${goferHost} failed with ${status[error.code] ?? error.code}: ${error.details || error.message}`));
          }
          const outcome = response && OUTCOMES[response.outcome];
          if (!outcome) return reject(new GoferPostError(status.UNKNOWN, `Gofer at ${goferHost} answered with an unknown outcome "${response?.outcome}"`));
          resolve({ outcome, runId: response.runId === 0 ? undefined : response.runId });
        },
      );
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private channel(goferHost: string): Client {
    this.client ??= new Client(goferHost, credentials.createInsecure(), {
      // Posts retry on their own schedule; a channel left in a long reconnect backoff would fail them
      // fast for minutes after Gofer is back.
      'grpc.initial_reconnect_backoff_ms': 250,
      'grpc.max_reconnect_backoff_ms': 5000,
      'grpc.max_receive_message_length': 1024 * 1024,
    });
    return this.client;
  }
}

/** Why an event cannot be posted, one line each; empty when it can. */
export function eventProblems(ref: SubscriptionRef, event: TriggerEvent): string[] {
  const problems: string[] = [];
  for (const field of ['namespaceId', 'pipelineId', 'label'] as const) {
    if (typeof ref?.[field] !== 'string' || ref[field] === '') problems.push(`subscription.${field}: must be a non-empty string`);
  }
  const key: unknown = event?.idempotencyKey;
  if (typeof key !== 'string' || key === '') {
    problems.push('idempotencyKey: must be a non-empty string (a fact about the event, e.g. its fire time or delivery id)');
  } else if (key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    problems.push(`idempotencyKey: must be at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters, not ${key.length}`);
  }
  const checkpoint: unknown = event?.checkpoint;
  if (checkpoint !== undefined && typeof checkpoint !== 'string') problems.push('checkpoint: must be a string');
  else if (checkpoint !== undefined && checkpoint.length > MAX_CHECKPOINT_LENGTH) {
    problems.push(`checkpoint: must be at most ${MAX_CHECKPOINT_LENGTH} characters, not ${checkpoint.length}`);
  }
  const variables: unknown = event?.variables;
  if (variables !== undefined && (typeof variables !== 'object' || variables === null || Array.isArray(variables))) {
    problems.push('variables: must be an object of strings');
  } else if (variables) {
    for (const [name, value] of Object.entries(variables)) {
      if (typeof value !== 'string') problems.push(`variables.${name}: must be a string, not ${typeof value}`);
    }
  }
  return problems;
}
