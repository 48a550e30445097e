import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { Server, ServerCredentials, status, type Metadata, type ServerUnaryCall, type sendUnaryData, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { GoferEventClient, type PostRetryOptions } from './gofer-event.client.js';
import { jsonLogger } from './json-logger.js';
import { KeyedQueue } from './keyed-queue.js';
import { subscriptionKey, type GoferHandle, type Subscription, type SubscriptionRef, type TriggerDefinition, type TriggerLogger } from './trigger.js';
import { readTriggerEnvironment, SETTING_PREFIX, type TriggerEnvironmentOverrides } from './trigger-environment.js';
import {
  loadTriggerService,
  TRIGGER_SERVICE_NAME,
  type ExternalEventRequestMessage,
  type ExternalEventResponseMessage,
  type InfoResponseMessage,
  type SubscribeRequestMessage,
  type UnsubscribeRequestMessage,
} from './trigger-proto.js';
import { MAX_EXTERNAL_PAYLOAD_BYTES, parseExternalEvent, parseSubscribe, parseUnsubscribe, RpcError, settingsErrors, settingsProblems } from './trigger-requests.js';

/** How to serve a trigger. Every field is optional: inside Gofer the environment says it all. */
export interface ServeTriggerOptions extends TriggerEnvironmentOverrides {
  /** The installed name, sent with every event. @default GOFER_TRIGGER_NAME, else the definition's name */
  name?: string;
  /** The key Gofer's calls must carry and events are posted with. @default GOFER_TRIGGER_KEY (required) */
  key?: string;
  /** Port to serve on; 0 picks a free one (see {@link TriggerServer.port}). @default GOFER_TRIGGER_PORT (required) */
  port?: number;
  /** Interface to serve on. @default '0.0.0.0' */
  host?: string;
  /** host:port of Gofer's gRPC API, where events are posted. @default GOFER_HOST */
  goferHost?: string;
  /** Install settings, keys lower-cased. @default the GOFER_TRIGGER_SETTING_<KEY> variables */
  settings?: Record<string, string>;
  /** The environment read for what the fields above leave out. @default process.env */
  env?: Readonly<Record<string, string | undefined>>;
  /** Where the trigger's and the SDK's logs go. @default JSON lines on stderr */
  logger?: TriggerLogger;
  /** Shut down gracefully on SIGTERM and SIGINT. Turn off when serving inside another program, e.g. a test. @default true */
  handleSignals?: boolean;
  /** How posting events retries. */
  post?: PostRetryOptions;
  /**
   * How long shutdown may take: calls in flight, then the definition's `shutdown`, then open streams
   * (health watchers) get what is left of it; whatever has not finished by then is cut. Below Docker's
   * default stop timeout (10 s), after which the container is killed. @default 8_000
   */
  shutdownTimeoutMs?: number;
}

/** A trigger being served. */
export interface TriggerServer {
  /** The port it listens on (the one picked when asked for 0). */
  readonly port: number;
  /** Random per start; Info reports it, so Gofer notices a restart and subscribes everything again. */
  readonly instanceId: string;
  /** The handle the definition's callbacks get. */
  readonly gofer: GoferHandle;
  /** Settles once the trigger has shut down (Shutdown call, a signal, or {@link TriggerServer.close}); never rejects. */
  readonly closed: Promise<void>;
  /** Shuts down gracefully (see {@link serveTrigger}); the same promise as {@link TriggerServer.closed}. */
  close(): Promise<void>;
}

/** Largest message the trigger takes: an external event's payload plus room for its headers. */
const MAX_RECEIVE_BYTES = MAX_EXTERNAL_PAYLOAD_BYTES + 1024 * 1024;

/**
 * Serves a trigger: reads its environment (GOFER_TRIGGER_NAME, GOFER_TRIGGER_KEY, GOFER_TRIGGER_PORT,
 * GOFER_HOST, GOFER_TRIGGER_SETTING_<KEY>; see `proto/gofer/v1/trigger.proto`), calls
 * `definition.start`, then serves `gofer.v1.Trigger` and the standard gRPC health service
 * (`grpc.health.v1.Health`, which needs no key) until shut down.
 *
 * Every Trigger call must carry `authorization: Bearer <key>`, else it gets UNAUTHENTICATED and the
 * definition never sees it. A {@link SettingsError} thrown by `subscribe` becomes INVALID_ARGUMENT
 * `settings.<key>: <message>` (an AggregateError of them, one line each); any other error INTERNAL with
 * its message. Calls for one subscription run one at a time, in order.
 *
 * Shutdown (the Shutdown call, SIGTERM or SIGINT, or {@link TriggerServer.close}): new calls get
 * UNAVAILABLE, health turns NOT_SERVING, the handle's signal aborts (so posts stop), calls in flight
 * finish, `definition.shutdown` runs, then the server stops and {@link TriggerServer.closed} settles.
 *
 * @returns once serving. Rejects, without serving, when the environment is incomplete (no key, no port),
 * when `definition.start` throws, or when the port cannot be bound.
 */
export async function serveTrigger(definition: TriggerDefinition, options: ServeTriggerOptions = {}): Promise<TriggerServer> {
  const environment = readTriggerEnvironment(definition.name, options.env ?? process.env, options);
  const log = options.logger ?? jsonLogger({ trigger: environment.name });
  const instanceId = randomUUID();
  const shutdownTimeoutMs = options.shutdownTimeoutMs ?? 8_000;
  const stopping = new AbortController();
  const poster = new GoferEventClient({
    trigger: environment.name,
    key: environment.key,
    goferHost: environment.goferHost,
    retry: options.post,
    signal: stopping.signal,
    onRetry: (error, attempt) => log.warn({ attempt, code: error.codeName, error: error.message }, 'posting an event failed; retrying'),
  });
  const held = new Map<string, Subscription>();
  const gofer: GoferHandle = {
    post: (subscription, event, signal) => poster.post(subscription, event, signal),
    settings: Object.freeze({ ...environment.settings }),
    subscriptions: () => [...held.values()],
    log,
    signal: stopping.signal,
  };
  if (!environment.goferHost) log.warn({}, 'GOFER_HOST is not set: posting events will fail');

  try {
    await definition.start?.(gofer);
  } catch (error) {
    stopping.abort();
    poster.close();
    const errors = settingsErrors(error);
    if (!errors) throw error;
    const lines = errors.map((e) => `  settings.${e.key}: ${e.message} (${SETTING_PREFIX}${e.key.toUpperCase()})`);
    throw new Error(`trigger ${environment.name} refused its install settings:\n${lines.join('\n')}`, { cause: error });
  }

  const keyDigest = sha256(environment.key);
  const inFlight = new Set<Promise<unknown>>();
  const queue = new KeyedQueue();
  let closing: Promise<void> | undefined;

  /** Wraps a handler: checks the key, refuses calls once closing, maps errors to statuses. */
  const unary =
    <Request, Response>(method: string, handle: (request: Request) => Promise<Response>) =>
    (call: ServerUnaryCall<Request, Response>, callback: sendUnaryData<Response>): void => {
      const refusal = authenticate(call.metadata, keyDigest);
      if (refusal) {
        log.warn({ method, peer: call.getPeer() }, `refused a call: ${refusal}`);
        return callback({ code: status.UNAUTHENTICATED, details: refusal });
      }
      if (closing) return callback({ code: status.UNAVAILABLE, details: `trigger ${environment.name} is shutting down` });
      const work: Promise<unknown> = handle(call.request)
        .then(
          (response) => callback(null, response),
          (error: unknown) => callback(toStatus(error, method, log)),
        )
        .catch((error: unknown) => log.error({ method, error }, `could not answer ${method}`))
        .finally(() => inFlight.delete(work));
      inFlight.add(work);
    };

  const health = new HealthImplementation({ '': 'SERVING', [TRIGGER_SERVICE_NAME]: 'SERVING' });
  const server = new Server({
    'grpc.max_receive_message_length': MAX_RECEIVE_BYTES,
    'grpc.max_send_message_length': 4 * 1024 * 1024,
  });
  health.addToServer(server);
  server.addService(loadTriggerService(), {
    Info: unary<unknown, InfoResponseMessage>('Info', async () => ({
      name: definition.name,
      description: definition.description ?? '',
      instanceId,
      subscriptions: held.size,
      settings: (definition.settings ?? []).map(({ key, required, description }) => ({ key, required, description })),
    })),
    Subscribe: unary<SubscribeRequestMessage, object>('Subscribe', async (request) => {
      const subscription = parseSubscribe(request);
      return queue.run(subscription.key, async () => {
        await definition.subscribe(subscription, gofer);
        const replaced = held.has(subscription.key);
        held.set(subscription.key, subscription);
        log.info({ ...refFields(subscription), replaced }, 'subscribed');
        return {};
      });
    }),
    Unsubscribe: unary<UnsubscribeRequestMessage, object>('Unsubscribe', async (request) => {
      const ref = parseUnsubscribe(request);
      const key = subscriptionKey(ref);
      return queue.run(key, async () => {
        const subscription = held.get(key);
        if (!subscription) return {};
        await definition.unsubscribe(subscription, gofer);
        held.delete(key);
        log.info(refFields(subscription), 'unsubscribed');
        return {};
      });
    }),
    ExternalEvent: unary<ExternalEventRequestMessage, ExternalEventResponseMessage>('ExternalEvent', async (request) => {
      const external = parseExternalEvent(request);
      if (!definition.externalEvent) return { status: 404, message: `trigger ${environment.name} takes no external events` };
      const response = await definition.externalEvent(external, gofer);
      if (!Number.isInteger(response?.status) || response.status < 100 || response.status > 599) {
        throw new Error(`externalEvent returned HTTP status ${String(response?.status)}; it must be an integer from 100 to 599`);
      }
      return { status: response.status, message: response.message ?? '' };
    }),
    Shutdown: (call: ServerUnaryCall<unknown, object>, callback: sendUnaryData<object>) => {
      const refusal = authenticate(call.metadata, keyDigest);
      if (refusal) return callback({ code: status.UNAUTHENTICATED, details: refusal });
      callback(null, {});
      log.info({}, 'Gofer asked the trigger to shut down');
      void close();
    },
  } satisfies UntypedServiceImplementation);

  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));

  const close = (): Promise<void> => {
    closing ??= (async () => {
      health.setStatus('', 'NOT_SERVING');
      health.setStatus(TRIGGER_SERVICE_NAME, 'NOT_SERVING');
      stopping.abort(new DOMException(`trigger ${environment.name} is shutting down`, 'AbortError'));
      const deadline = Date.now() + shutdownTimeoutMs;
      const left = (): number => Math.max(0, deadline - Date.now());
      await settleWithin([...inFlight], left(), () => log.warn({}, 'calls in flight did not finish in time'));
      try {
        await settleWithin([Promise.resolve(definition.shutdown?.(gofer))], left(), () => log.warn({}, 'definition.shutdown did not finish in time'), true);
      } catch (error) {
        log.error({ error }, 'definition.shutdown failed');
      }
      poster.close();
      // Health Watch streams never end on their own: drain politely, then cut them.
      const drained = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      await settleWithin([drained], Math.max(left(), 100), () => {
        log.warn({}, 'calls still open at shutdown were cut');
        server.forceShutdown();
      });
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      log.info({}, 'trigger stopped');
      resolveClosed();
    })();
    return closed;
  };

  const onSignal = (signal: NodeJS.Signals): void => {
    log.info({ signal }, 'shutting down');
    void close();
  };

  let port: number;
  try {
    port = await bind(server, environment.host, environment.port);
  } catch (error) {
    stopping.abort();
    server.forceShutdown();
    try {
      await definition.shutdown?.(gofer);
    } catch (shutdownError) {
      log.error({ error: shutdownError }, 'definition.shutdown failed');
    }
    throw error;
  }

  if (options.handleSignals ?? true) {
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
  }

  log.info({ port, instance_id: instanceId, gofer_host: environment.goferHost }, 'trigger serving');
  return { port, instanceId, gofer, closed, close };
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

/**
 * Why a call's metadata does not authenticate it, or undefined if it does. Both keys are hashed first,
 * so the comparison takes the same time whatever the presented key's length or content.
 */
function authenticate(metadata: Metadata, keyDigest: Buffer): string | undefined {
  const [value] = metadata.get('authorization');
  if (typeof value !== 'string' || value === '') return 'missing authorization metadata: expected "authorization: Bearer <GOFER_TRIGGER_KEY>"';
  const match = /^Bearer\s+(.+)$/i.exec(value);
  if (!match) return 'authorization metadata must be "Bearer <GOFER_TRIGGER_KEY>"';
  if (!timingSafeEqual(sha256(match[1]!), keyDigest)) return "the key does not match this trigger's GOFER_TRIGGER_KEY";
  return undefined;
}

function toStatus(error: unknown, method: string, log: TriggerLogger): { code: status; details: string } {
  if (error instanceof RpcError) return { code: error.code, details: error.message };
  const problems = settingsProblems(error);
  if (problems) return { code: status.INVALID_ARGUMENT, details: problems.join('\n') };
  const details = error instanceof Error ? error.message : String(error);
  log.error({ method, error }, `${method} failed`);
  return { code: status.INTERNAL, details };
}

function refFields(ref: SubscriptionRef): Record<string, string> {
  return { namespace_id: ref.namespaceId, pipeline_id: ref.pipelineId, label: ref.label };
}

function bind(server: Server, host: string, port: number): Promise<number> {
  const address = host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
  return new Promise((resolve, reject) => {
    server.bindAsync(address, ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(new Error(`cannot serve the trigger on ${address}: ${error.message}`, { cause: error })) : resolve(bound),
    );
  });
}

/**
 * Waits for `promises` to settle, at most `timeoutMs`; calls `onTimeout` if they did not. With
 * `rethrow`, a rejection is thrown; otherwise rejections are ignored (their callers report them).
 */
async function settleWithin(promises: Promise<unknown>[], timeoutMs: number, onTimeout: () => void, rethrow = false): Promise<void> {
  if (promises.length === 0) return;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
    timer.unref();
  });
  const all = rethrow ? Promise.all(promises) : Promise.allSettled(promises);
  try {
    if ((await Promise.race([all, timedOut])) === 'timeout') onTimeout();
  } finally {
    clearTimeout(timer);
  }
}
