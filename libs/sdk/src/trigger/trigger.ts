/**
 * What a trigger author implements: a {@link TriggerDefinition}, served with `serveTrigger`
 * (`serve-trigger.ts`). The wire contract behind it is `proto/gofer/v1/trigger.proto`.
 *
 * @example
 * ```ts
 * import { serveTrigger, SettingsError, type TriggerDefinition } from '@gofer/sdk';
 *
 * const timers = new Map<string, NodeJS.Timeout>();
 * const every: TriggerDefinition = {
 *   name: 'every',
 *   description: 'Starts a run every N seconds.',
 *   settings: [{ key: 'seconds', required: true, description: 'Seconds between runs, e.g. 30.' }],
 *   subscribe(subscription, gofer) {
 *     const seconds = Number(subscription.settings.seconds);
 *     if (!(seconds >= 1)) throw new SettingsError('seconds', 'must be a number of seconds, at least 1');
 *     clearInterval(timers.get(subscription.key));
 *     timers.set(subscription.key, setInterval(() => {
 *       // The time slot is a fact about the fire, so a retried post cannot start a second run.
 *       const slot = String(Math.floor(Date.now() / 1000 / seconds));
 *       gofer.post(subscription, { idempotencyKey: slot }).catch((error) => gofer.log.error({ error }, 'post failed'));
 *     }, seconds * 1000));
 *   },
 *   unsubscribe(subscription) {
 *     clearInterval(timers.get(subscription.key));
 *   },
 *   shutdown() {
 *     for (const timer of timers.values()) clearInterval(timer);
 *   },
 * };
 * await serveTrigger(every);
 * ```
 */

/** Names one subscription: a pipeline's use of the trigger under a label. */
export interface SubscriptionRef {
  namespaceId: string;
  pipelineId: string;
  /** The pipeline's `triggers[].label`. */
  label: string;
}

/** A subscription as Gofer sends it to {@link TriggerDefinition.subscribe}. */
export interface Subscription extends SubscriptionRef {
  /** `namespace/pipeline/label`: one string per subscription, handy as a map key ({@link subscriptionKey}). */
  key: string;
  /** The pipeline's `triggers[].settings`. */
  settings: Record<string, string>;
  /**
   * The checkpoint of the last event Gofer accepted for this subscription ({@link TriggerEvent.checkpoint}),
   * or undefined if none: lets a trigger resume after a restart without repeating or losing work.
   */
  checkpoint?: string;
  /** When the subscription was first created. */
  created: Date;
}

/** One event to post to Gofer: it starts a run of the subscribed pipeline. */
export interface TriggerEvent {
  /**
   * Deduplicates the event: Gofer starts at most one run per key and subscription, and answers a
   * repeated key with the first run's id. Make it a fact about the event (a fire time, a delivery id),
   * never a random value. At most 200 characters.
   */
  idempotencyKey: string;
  /** Run variables; keys should start with `GOFER_TRIGGER_`. @default {} */
  variables?: Record<string, string>;
  /** Stored on the subscription once the event is accepted, and handed back in {@link Subscription.checkpoint}. */
  checkpoint?: string;
}

/** What Gofer did with a posted event. */
export interface PostResult {
  outcome: 'started' | 'duplicate' | 'pipeline_disabled';
  /** The run started (or, for a duplicate, the run the key started first); undefined if none. */
  runId?: number;
}

/** The request of an external event (a webhook that reached `POST /api/external/<trigger name>`). */
export interface ExternalRequest {
  /** The raw body, byte for byte (verify signatures over this). */
  payload: Buffer;
  /** Header names lower-cased. */
  headers: Record<string, string>;
  method: string;
}

/** The answer to an external event, relayed to the HTTP caller. */
export interface ExternalResponse {
  /** HTTP status, e.g. 202, 401. */
  status: number;
  /** One line for the caller. */
  message: string;
}

/** A minimal structured logger (the SDK's writes JSON lines to stderr). */
export interface TriggerLogger {
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** What a trigger can do with Gofer, handed to each of its callbacks. */
export interface GoferHandle {
  /**
   * Posts an event for `subscription` (a {@link Subscription} or just its ref), retrying with
   * exponential backoff and jitter while Gofer is unreachable or answers UNAVAILABLE, DEADLINE_EXCEEDED,
   * RESOURCE_EXHAUSTED, ABORTED or INTERNAL (see `ServeTriggerOptions.post`). Rejects with a
   * `GoferPostError` on an invalid event (before sending), on a permanent refusal (unknown subscription,
   * bad key: Gofer's message) or when retries run out; with `signal`'s reason when it aborts, and when
   * the trigger shuts down.
   */
  post(subscription: SubscriptionRef, event: TriggerEvent, signal?: AbortSignal): Promise<PostResult>;
  /** The install settings (`gofer trigger install … --setting key=value`), keys lower-cased. */
  readonly settings: Readonly<Record<string, string>>;
  /** The subscriptions held now. */
  subscriptions(): Subscription[];
  readonly log: TriggerLogger;
  /** Aborted when the trigger shuts down. */
  readonly signal: AbortSignal;
}

/** Documents one subscription setting (shown by `gofer trigger get`). */
export interface SettingDoc {
  key: string;
  required: boolean;
  description: string;
}

/** A trigger: implement this and serve it with `serveTrigger`. */
export interface TriggerDefinition {
  /** The trigger's kind, e.g. `cron`. */
  name: string;
  /** One line on what it does. @default '' */
  description?: string;
  /** The settings a subscription takes. @default [] */
  settings?: SettingDoc[];
  /**
   * Called once before serving, with the install settings: throw {@link SettingsError} (or any error)
   * to refuse to start, e.g. a webhook trigger without its secret. The process then exits non-zero.
   */
  start?(gofer: GoferHandle): void | Promise<void>;
  /**
   * Starts or replaces a subscription (same key = same subscription). Validate its settings here:
   * throw {@link SettingsError} (or an `AggregateError` of them, for several) and Gofer refuses the
   * pipeline's config with `settings.<key>: <message>`, one line each; any other error is reported as
   * INTERNAL. The subscription is held only once this returns.
   */
  subscribe(subscription: Subscription, gofer: GoferHandle): void | Promise<void>;
  /** Ends a subscription; called only for subscriptions held, with the subscription as it was last subscribed. */
  unsubscribe(subscription: Subscription, gofer: GoferHandle): void | Promise<void>;
  /** Handles a webhook; `status` must be an HTTP status (100–599). Without it, external events get 404. */
  externalEvent?(request: ExternalRequest, gofer: GoferHandle): ExternalResponse | Promise<ExternalResponse>;
  /**
   * Called once at shutdown, after new calls are refused, the handle's `signal` has aborted (posts in
   * flight reject) and calls in flight have finished: stop timers and anything else that keeps the
   * process alive, so it can exit.
   */
  shutdown?(gofer: GoferHandle): void | Promise<void>;
}

/** A setting a subscription (or the install) cannot use. Gofer reports it as `settings.<key>: <message>`. */
export class SettingsError extends Error {
  override readonly name = 'SettingsError';

  constructor(
    /** The setting's key, e.g. `expression`. */
    readonly key: string,
    message: string,
  ) {
    super(message);
  }
}

/** `namespace/pipeline/label`: the one string that names a subscription. */
export function subscriptionKey(ref: SubscriptionRef): string {
  return `${ref.namespaceId}/${ref.pipelineId}/${ref.label}`;
}
